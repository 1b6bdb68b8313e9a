# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Model collapse under replace vs accumulate (Kazdan, Schaeffer et al.; arXiv 2410.16713)."""
