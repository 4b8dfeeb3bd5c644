"""Likelihood units."""

from __future__ import annotations

import math


def bits_per_dim(log_likelihood: float, dims: int, levels: int | None = 256) -> float:
    """Bits per dimension of quantised data from a log-likelihood in nats.

    For data with ``levels`` quantisation levels rescaled to [0, 1] (NICE section 5.1), the
    density of the rescaled data relates to the discrete probability by a factor ``levels``
    per dimension: ``bpd = (-LL / D + ln levels) / ln 2``. MNIST: 1980.50 nats -> 4.36 bits/dim.
    For continuous data (``levels=None``) it is ``-LL / (D ln 2)``.
    """
    offset = math.log(levels) if levels else 0.0
    return (-log_likelihood / dims + offset) / math.log(2.0)


def nats_from_bits_per_dim(bpd: float, dims: int, levels: int | None = 256) -> float:
    """Inverse of :func:`bits_per_dim`."""
    offset = math.log(levels) if levels else 0.0
    return -(bpd * math.log(2.0) - offset) * dims


__all__ = ["bits_per_dim", "nats_from_bits_per_dim"]
