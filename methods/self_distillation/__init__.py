# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Multi-step self-distillation for linear regression (Pareek, Du, Oh; arXiv 2407.04600)."""
