# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Shipped simulation configs (`loyal.configs`): `loyal sim run --config NAME` finds NAME.toml here."""
