# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Instruction back-and-forth translation (Nguyen et al. 2024, arXiv 2408.04614)."""
