# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""A small diffusion kit on 8×8 sklearn digits: VP schedule, conditional noise-prediction MLP, samplers, metrics."""
