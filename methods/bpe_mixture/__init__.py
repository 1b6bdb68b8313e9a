# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Data mixture inference from a BPE tokenizer's merge list (Hayase et al.; arXiv 2407.16607)."""
