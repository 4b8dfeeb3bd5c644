"""The monotonic rational-quadratic spline of Neural Spline Flows, with identity tails.

Written from the formulas of Durkan, Bekasov, Murray, Papamakarios (2019), section 3.1 and
appendix A (https://arxiv.org/abs/1906.04032). On ``[-B, B]`` the map is a spline of ``K``
rational-quadratic pieces through the knots ``(x_k, y_k)`` with positive derivatives ``d_k`` at
the knots; outside it is the identity. The boundary derivatives are fixed to 1, so the spline
joins the identity tails with a continuous first derivative.

Within bin ``k``, with width ``w``, height ``h``, slope ``s = h / w`` and ``xi = (x - x_k) / w``::

    g(x)  = y_k + h (s xi^2 + d_k xi (1 - xi)) / (s + (d_k + d_{k+1} - 2 s) xi (1 - xi))
    g'(x) = s^2 (d_{k+1} xi^2 + 2 s xi (1 - xi) + d_k (1 - xi)^2) / (same denominator)^2

The denominator equals ``s (1 - 2 t) + (d_k + d_{k+1}) t`` with ``t = xi (1 - xi) <= 1/4``, so it
is positive, and so is ``g'``: the map is strictly increasing.

Unconstrained parameters (what a conditioner network outputs) become a valid spline as follows:
bin widths and heights are ``min_size + (1 - K min_size) softmax(logits)``, so every bin keeps a
minimum size; interior derivatives are ``min_derivative + softplus(raw + c)`` with ``c`` chosen
so that raw = 0 gives derivative 1. All-zero parameters are therefore exactly the identity,
which makes a zero-initialised coupling start as the identity map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

DEFAULT_MIN_BIN_WIDTH = 1e-3
DEFAULT_MIN_BIN_HEIGHT = 1e-3
DEFAULT_MIN_DERIVATIVE = 1e-3


def derivative_offset(min_derivative: float) -> float:
    """The ``c`` with ``min_derivative + softplus(c) == 1``: raw derivative 0 means slope 1."""
    return math.log(math.expm1(1.0 - min_derivative))


def _knots(logits: Tensor, bound: float, min_size: float) -> Tensor:
    """Increasing knots ``[..., K + 1]`` from ``-bound`` to ``bound``, from ``K`` logits."""
    bins = logits.shape[-1]
    sizes = min_size + (1.0 - min_size * bins) * torch.softmax(logits, dim=-1)
    inner = torch.cumsum(sizes, dim=-1)[..., :-1]
    # The end knots are set exactly (a cumulative sum of softmax rounds to 1 - eps or 1 + eps).
    ends_shape = (*logits.shape[:-1], 1)
    start = logits.new_full(ends_shape, -bound)
    stop = logits.new_full(ends_shape, bound)
    return torch.cat([start, -bound + 2.0 * bound * inner, stop], dim=-1)


@dataclass
class _Bin:
    """The quantities of the bin that each input falls into (all of the inputs' shape)."""

    x0: Tensor  # left knot
    y0: Tensor  # bottom knot
    width: Tensor
    height: Tensor
    d0: Tensor  # derivative at the left knot
    d1: Tensor  # derivative at the right knot

    @property
    def slope(self) -> Tensor:
        return self.height / self.width


def _locate(values: Tensor, knots: Tensor) -> Tensor:
    """Index of the bin of ``knots`` holding each value (values already clamped into range)."""
    index = torch.searchsorted(knots.contiguous(), values.unsqueeze(-1).contiguous(), right=True)
    return (index - 1).clamp(0, knots.shape[-1] - 2)


def _gather(table: Tensor, index: Tensor) -> Tensor:
    return table.gather(-1, index).squeeze(-1)


def _log_derivative(xi: Tensor, piece: _Bin) -> Tensor:
    """``log g'`` at relative position ``xi`` (appendix A of the paper)."""
    s = piece.slope
    t = xi * (1.0 - xi)
    denominator = s + (piece.d0 + piece.d1 - 2.0 * s) * t
    numerator = piece.d1 * xi.square() + 2.0 * s * t + piece.d0 * (1.0 - xi).square()
    return 2.0 * torch.log(s) + torch.log(numerator) - 2.0 * torch.log(denominator)


def rational_quadratic_spline(
    inputs: Tensor,
    width_logits: Tensor,
    height_logits: Tensor,
    derivative_params: Tensor,
    *,
    bound: float = 3.0,
    inverse: bool = False,
    min_bin_width: float = DEFAULT_MIN_BIN_WIDTH,
    min_bin_height: float = DEFAULT_MIN_BIN_HEIGHT,
    min_derivative: float = DEFAULT_MIN_DERIVATIVE,
) -> tuple[Tensor, Tensor]:
    """Apply the spline (or its inverse) element-wise.

    Args:
        inputs: values of any shape ``S``.
        width_logits: ``[*S, K]`` unconstrained bin widths.
        height_logits: ``[*S, K]`` unconstrained bin heights.
        derivative_params: ``[*S, K - 1]`` unconstrained derivatives at the interior knots.
        bound: the spline acts on ``[-bound, bound]``; the identity outside.
        inverse: compute ``g^-1`` instead of ``g``.

    Returns:
        ``(outputs, logabsdet)``, both of shape ``S``: the element-wise ``log|g'|`` (for the
        inverse, ``log|(g^-1)'|``, the negation of the forward one at the output).
    """
    bins = width_logits.shape[-1]
    if height_logits.shape[-1] != bins or derivative_params.shape[-1] != bins - 1:
        raise ValueError(
            f"a spline with {bins} bins needs {bins} height and {bins - 1} derivative "
            f"parameters, got {height_logits.shape[-1]} and {derivative_params.shape[-1]}"
        )
    if min_bin_width * bins >= 1.0 or min_bin_height * bins >= 1.0:
        raise ValueError(f"minimum bin sizes are too large for {bins} bins")

    knots_x = _knots(width_logits, bound, min_bin_width)
    knots_y = _knots(height_logits, bound, min_bin_height)
    interior = min_derivative + F.softplus(derivative_params + derivative_offset(min_derivative))
    boundary = torch.ones_like(interior[..., :1])  # slope 1 joins the identity tails
    derivatives = torch.cat([boundary, interior, boundary], dim=-1)

    inside = (inputs >= -bound) & (inputs <= bound)
    # Evaluate on clamped values so that tail elements give finite values and zero gradients.
    clamped = inputs.clamp(-bound, bound)
    index = _locate(clamped, knots_y if inverse else knots_x)
    next_index = index + 1
    x0, y0 = _gather(knots_x, index), _gather(knots_y, index)
    piece = _Bin(
        x0=x0,
        y0=y0,
        width=_gather(knots_x, next_index) - x0,
        height=_gather(knots_y, next_index) - y0,
        d0=_gather(derivatives, index),
        d1=_gather(derivatives, next_index),
    )
    s = piece.slope

    if not inverse:
        xi = ((clamped - piece.x0) / piece.width).clamp(0.0, 1.0)
        t = xi * (1.0 - xi)
        denominator = s + (piece.d0 + piece.d1 - 2.0 * s) * t
        outputs = piece.y0 + piece.height * (s * xi.square() + piece.d0 * t) / denominator
        logabsdet = _log_derivative(xi, piece)
    else:
        # Solve a xi^2 + b xi + c = 0 for xi in [0, 1] (appendix A). With c <= 0 the root
        # 2c / (-b - sqrt(b^2 - 4ac)) avoids the cancellation of the textbook formula; rounding
        # can push the discriminant a hair below 0 where the true value is 0, hence the clamp.
        dy = clamped - piece.y0
        curvature = piece.d0 + piece.d1 - 2.0 * s
        a = piece.height * (s - piece.d0) + dy * curvature
        b = piece.height * piece.d0 - dy * curvature
        c = -s * dy
        discriminant = (b.square() - 4.0 * a * c).clamp_min(0.0)
        xi = ((2.0 * c) / (-b - torch.sqrt(discriminant))).clamp(0.0, 1.0)
        outputs = piece.x0 + xi * piece.width
        logabsdet = -_log_derivative(xi, piece)

    outputs = torch.where(inside, outputs, inputs)
    logabsdet = torch.where(inside, logabsdet, torch.zeros_like(logabsdet))
    return outputs, logabsdet


__all__ = [
    "DEFAULT_MIN_BIN_HEIGHT",
    "DEFAULT_MIN_BIN_WIDTH",
    "DEFAULT_MIN_DERIVATIVE",
    "derivative_offset",
    "rational_quadratic_spline",
]
