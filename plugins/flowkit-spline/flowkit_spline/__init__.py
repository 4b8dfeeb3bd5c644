"""flowkit-spline: a rational-quadratic spline coupling law for flowkit (an example plugin)."""

from flowkit_spline.coupling import RationalQuadraticSplineCoupling
from flowkit_spline.spline import rational_quadratic_spline

__version__ = "0.1.0"

__all__ = ["RationalQuadraticSplineCoupling", "__version__", "rational_quadratic_spline"]
