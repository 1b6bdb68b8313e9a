# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Zero-knowledge arguments over RNS rings: a Ligero-style, hash-based argument (see docs/zk.md)."""
