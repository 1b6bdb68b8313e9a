# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""S4S and S4S-Alt: learned few-step diffusion solvers (Frankel et al.; arXiv 2502.17423)."""
