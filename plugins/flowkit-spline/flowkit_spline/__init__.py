"""flowkit-spline: a rational-quadratic spline coupling law for flowkit (an example plugin):
one law that drives every layer type (flat, convolutional, autoregressive)."""

from flowkit_spline.coupling import RationalQuadraticSplineCoupling, RationalQuadraticSplineLaw
from flowkit_spline.spline import rational_quadratic_spline

__version__ = "0.2.0"

__all__ = [
    "RationalQuadraticSplineCoupling",
    "RationalQuadraticSplineLaw",
    "__version__",
    "rational_quadratic_spline",
]
