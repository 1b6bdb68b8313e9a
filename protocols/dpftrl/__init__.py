# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""DP-FTRL matrix mechanisms, sensitivity, accounting, streaming noise and release policies."""

from loyal.protocols.dpftrl.base import MatrixMechanism, ParticipationSchema, gaussian_sampler
from loyal.protocols.dpftrl.mechanisms import MECHANISMS, build_mechanism

__all__ = ["MECHANISMS", "MatrixMechanism", "ParticipationSchema", "build_mechanism", "gaussian_sampler"]
