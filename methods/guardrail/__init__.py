# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A K-12 guardrail (after arXiv 2408.01452): written policy, embedding classifier, batching server, host hook."""
