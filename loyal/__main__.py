# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""`python -m loyal` entry point."""

from loyal.app import main

raise SystemExit(main())
