# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""TTT layers: Test-Time Training sequence layers, TTT-Linear and TTT-MLP (Sun et al.; arXiv 2407.04620)."""
