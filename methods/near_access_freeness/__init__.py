# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Near access-freeness for copyright: CP-Δ and CP-k (arXiv 2408.13278; Vyas, Kakade, Barak, arXiv 2302.10870)."""
