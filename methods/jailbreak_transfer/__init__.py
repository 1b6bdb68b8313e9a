# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Image-jailbreak transfer between tiny VLMs on digits (arXiv 2407.15211)."""
