"""The flowkit plugin module of flowkit-spline (entry point ``spline`` in group ``flowkit``)."""

from __future__ import annotations

from flowkit import hookimpl
from flowkit_spline.coupling import RationalQuadraticSplineCoupling


@hookimpl
def flowkit_register_couplings() -> list[type]:
    return [RationalQuadraticSplineCoupling]
