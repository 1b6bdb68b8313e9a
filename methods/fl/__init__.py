# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Aggregation strategies of federated training: FedAvg, DP-FedAvg, DP-FTRL (plaintext and under SSA)."""
