# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""OML fingerprinting by fine-tuning: models, fingerprint generation, embedding, verification, experiments."""
