"""A coupling layer whose law is a monotonic rational-quadratic spline (Neural Spline Flows).

``y1 = x1``; each dimension of ``x2`` goes through its own spline, whose ``K`` bin widths, ``K``
bin heights and ``K - 1`` interior derivatives the conditioner ``m(x1)`` outputs. NICE's general
coupling layer (Dinh et al. 2014, section 3.2) with a far more expressive law ``g`` than
``x2 + m(x1)``, at the same exact inverse and triangular Jacobian.

References:
    Durkan, Bekasov, Murray, Papamakarios. Neural Spline Flows (2019),
    https://arxiv.org/abs/1906.04032
    Dinh, Krueger, Bengio. NICE (2014), https://arxiv.org/abs/1410.8516
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor

from flowkit import ConfigurationError, CouplingTransform
from flowkit_spline.spline import (
    DEFAULT_MIN_BIN_HEIGHT,
    DEFAULT_MIN_BIN_WIDTH,
    DEFAULT_MIN_DERIVATIVE,
    rational_quadratic_spline,
)


class RationalQuadraticSplineCoupling(CouplingTransform):
    """Spline coupling law, registered as ``rqspline``.

    :param features: dimension of the inputs.
    :param bins: number of spline pieces ``K`` per transformed dimension.
    :param bound: the splines act on ``[-bound, bound]``, the identity outside.
    :param min_bin_width: smallest bin width, as a fraction of ``2 * bound``.
    :param min_bin_height: smallest bin height, likewise.
    :param min_derivative: smallest derivative at a knot.
    :param kwargs: the coupling options of :class:`flowkit.CouplingTransform` (``hidden``,
        ``depth``, ``partition``, ``parity``, ``activation``, ``zero_init``, ``context_features``).

    With ``zero_init`` (the default) the conditioner's last layer is zero, every spline is the
    identity, and so is the layer.
    """

    name = "rqspline"
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"hidden": 16, "depth": 1, "bins": 4},
        {"hidden": 16, "depth": 2, "partition": "halves", "parity": 1, "bins": 3, "bound": 2.0},
    ]

    def __init__(
        self,
        features: int,
        *,
        bins: int = 8,
        bound: float = 3.0,
        min_bin_width: float = DEFAULT_MIN_BIN_WIDTH,
        min_bin_height: float = DEFAULT_MIN_BIN_HEIGHT,
        min_derivative: float = DEFAULT_MIN_DERIVATIVE,
        **kwargs: Any,
    ) -> None:
        if not isinstance(bins, int) or bins < 2:
            raise ConfigurationError(f"bins must be an integer >= 2, got {bins!r}")
        if not bound > 0:
            raise ConfigurationError(f"bound must be > 0, got {bound!r}")
        for value, what in ((min_bin_width, "min_bin_width"), (min_bin_height, "min_bin_height")):
            if not 0 < value * bins < 1:
                raise ConfigurationError(
                    f"{what} must lie in (0, 1/bins) = (0, {1 / bins:.3g}), got {value!r}"
                )
        if not min_derivative > 0:
            raise ConfigurationError(f"min_derivative must be > 0, got {min_derivative!r}")
        # Read by CouplingTransform.__init__ to size the conditioner's output.
        self.params_per_dim = 3 * bins - 1
        super().__init__(features, **kwargs)
        self.bins, self.bound = bins, float(bound)
        self.min_bin_width, self.min_bin_height = float(min_bin_width), float(min_bin_height)
        self.min_derivative = float(min_derivative)

    def _spline(self, values: Tensor, params: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        # [batch, |x2| * (3K - 1)] -> [batch, |x2|, 3K - 1], one spline per transformed dimension.
        params = params.view(values.shape[0], values.shape[1], self.params_per_dim)
        widths, heights, derivatives = params.split([self.bins, self.bins, self.bins - 1], dim=-1)
        outputs, logabsdet = rational_quadratic_spline(
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
        return outputs, logabsdet.sum(dim=1)

    def _transform(self, x2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return self._spline(x2, params, inverse=False)

    def _inverse_transform(self, y2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return self._spline(y2, params, inverse=True)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bins={self.bins}, bound={self.bound}"


__all__ = ["RationalQuadraticSplineCoupling"]
