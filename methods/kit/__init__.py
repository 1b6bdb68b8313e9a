# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""The shared ML kit: federated data sets (`data/`), models (`models/`) and local training (`train.py`).

Client processes, simulations and methods all import it; it holds no protocol or transport code.
"""
