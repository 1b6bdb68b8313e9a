# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""One module per `loyal` command group; each defines `register(subparsers, help_text)`."""
