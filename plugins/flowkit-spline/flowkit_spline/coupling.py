"""A monotonic rational-quadratic spline coupling law (Neural Spline Flows), ``rqspline``.

Each transformed value goes through its own spline, whose ``K`` bin widths, ``K`` bin heights
and ``K - 1`` interior derivatives the conditioner outputs: NICE's general coupling law
``y2 = g(x2; m(x1))`` (Dinh et al. 2014, section 3.2) with a far more expressive ``g`` than
``x2 + m(x1)``, at the same exact inverse and triangular Jacobian. As a
:class:`flowkit.CouplingLaw` it drives every layer type: ``nice``'s flat couplings, the
convolutional couplings of ``glow`` and ``realnvp`` and the autoregressive layers of ``maf``.

References:
    Durkan, Bekasov, Murray, Papamakarios. Neural Spline Flows (2019),
    https://arxiv.org/abs/1906.04032
    Dinh, Krueger, Bengio. NICE (2014), https://arxiv.org/abs/1410.8516
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor

from flowkit import ConfigurationError, CouplingLaw, law_coupling_class
from flowkit_spline.spline import (
    DEFAULT_MIN_BIN_HEIGHT,
    DEFAULT_MIN_BIN_WIDTH,
    DEFAULT_MIN_DERIVATIVE,
    rational_quadratic_spline,
)


class RationalQuadraticSplineLaw(CouplingLaw):
    """Spline coupling law, registered as ``rqspline``.

    :param bins: number of spline pieces ``K`` per transformed value.
    :param bound: the splines act on ``[-bound, bound]``, the identity outside.
    :param min_bin_width: smallest bin width, as a fraction of ``2 * bound``.
    :param min_bin_height: smallest bin height, likewise.
    :param min_derivative: smallest derivative at a knot.

    All-zero parameters are the identity spline, so a zero-initialised conditioner starts its
    layer as the identity. The ``3K - 1`` parameters of a value are consecutive conditioner
    outputs (``params_layout = "interleaved"``, the layout of flowkit-spline 0.1's coupling,
    so its run files load unchanged).
    """

    name = "rqspline"
    params_layout = "interleaved"
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"bins": 4},
        {"bins": 3, "bound": 2.0},
    ]

    def __init__(
        self,
        *,
        bins: int = 8,
        bound: float = 3.0,
        min_bin_width: float = DEFAULT_MIN_BIN_WIDTH,
        min_bin_height: float = DEFAULT_MIN_BIN_HEIGHT,
        min_derivative: float = DEFAULT_MIN_DERIVATIVE,
    ) -> None:
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
            raise ConfigurationError(f"bins must be an integer >= 2, got {bins!r}")
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not bound > 0:
            raise ConfigurationError(f"bound must be a number > 0, got {bound!r}")
        for value, what in ((min_bin_width, "min_bin_width"), (min_bin_height, "min_bin_height")):
            if not isinstance(value, (int, float)) or not 0 < value * bins < 1:
                raise ConfigurationError(
                    f"{what} must lie in (0, 1/bins) = (0, {1 / bins:.3g}), got {value!r}"
                )
        if not isinstance(min_derivative, (int, float)) or not min_derivative > 0:
            raise ConfigurationError(f"min_derivative must be > 0, got {min_derivative!r}")
        super().__init__()
        self.params_per_value = 3 * bins - 1
        self.bins, self.bound = bins, float(bound)
        self.min_bin_width, self.min_bin_height = float(min_bin_width), float(min_bin_height)
        self.min_derivative = float(min_derivative)

    def _spline(self, values: Tensor, params: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        widths, heights, derivatives = params.split([self.bins, self.bins, self.bins - 1], dim=-1)
        return rational_quadratic_spline(
            values,
            widths,
            heights,
            derivatives,
            bound=self.bound,
            inverse=inverse,
            min_bin_width=self.min_bin_width,
            min_bin_height=self.min_bin_height,
            min_derivative=self.min_derivative,
        )

    def forward(self, inputs: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return self._spline(inputs, params, inverse=False)

    def inverse(self, inputs: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return self._spline(inputs, params, inverse=True)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bins={self.bins}, bound={self.bound}"


#: A flat coupling layer with the ``rqspline`` law, for use from Python:
#: ``RationalQuadraticSplineCoupling(features, bins=8, bound=3.0, hidden=..., depth=...)`` (the
#: law's options, then :class:`flowkit.CouplingTransform`'s).
RationalQuadraticSplineCoupling = law_coupling_class(RationalQuadraticSplineLaw)


__all__ = ["RationalQuadraticSplineCoupling", "RationalQuadraticSplineLaw"]
