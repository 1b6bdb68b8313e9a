# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""WeightNorm theory: Hessian spectral norm and GD convergence of WeightNorm MLPs (Cisneros-Velarde et al.; arXiv 2409.08935)."""
