# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Differentially private adaptation of a diffusion model by textual inversion (arXiv 2411.14639)."""
