# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""LoTA / LoTTO: lottery ticket adaptation (Panda et al.; arXiv 2406.16797)."""
