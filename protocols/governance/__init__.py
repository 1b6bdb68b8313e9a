# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Community ownership and technical governance of SSA jobs: the contributor ledger and the public audit."""
