"""Contract check of coupling laws under extreme conditioner outputs.

A law whose scale can underflow to 0 (e.g. an unfloored ``sigmoid``) looks healthy forward while
its inverse returns inf or NaN, so sampling breaks silently. The check blows the parameters up
(conditioner outputs of thousands) and feeds large inputs in float32: wherever the forward pass
is finite, the inverse of its outputs must be finite too. A law that is unbounded by design says
so with ``bounded_scale = False`` and is skipped.
"""

from __future__ import annotations

from typing import Any

import torch

from flowkit.testing.transform_checks import ContractError, Factory, prepare

#: How much the parameters and the inputs are scaled up.
PARAMETER_SCALE = 200.0
INPUT_SCALE = 100.0


@torch.no_grad()
def check_extreme_inputs(make: Factory, features: int, batch: int = 64) -> None:
    """``inverse(forward(x))`` is finite wherever ``forward(x)`` is, in float32, for
    conditioner outputs far outside the ordinary range."""
    t: Any = prepare(make, features, torch.float32)
    if getattr(t, "bounded_scale", True) is False:
        return
    for parameter in t.parameters():
        parameter.mul_(PARAMETER_SCALE)
    gen = torch.Generator().manual_seed(99)
    x = torch.randn(batch, features, generator=gen) * INPUT_SCALE
    y, logabsdet = t(x)
    rows = torch.isfinite(y).all(dim=1) & torch.isfinite(logabsdet)
    if not rows.any():
        return  # nothing finite forward: nothing to invert
    back, ld_back = t.inverse(y[rows])
    if not (torch.isfinite(back).all() and torch.isfinite(ld_back).all()):
        raise ContractError(
            "forward is finite on extreme inputs but the inverse of its outputs is not "
            "(a scale that underflows to 0? bound it below)"
        )


__all__ = ["check_extreme_inputs"]
