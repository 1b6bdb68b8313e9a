# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Generated protobuf stubs (do not edit; run `make proto`)."""
