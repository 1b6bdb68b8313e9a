# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""ZIP-FIT: compression-based data selection (Obbad et al.; arXiv 2410.18194)."""
