# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Benchmark definitions run by `loyal bench NAME` (shipped in the wheel as `loyal.benchmarks`; see README.md)."""
