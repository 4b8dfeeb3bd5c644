"""The flowkit plugin module of flowkit-spline (entry point ``spline`` in group ``flowkit``)."""

from __future__ import annotations

from flowkit import hookimpl
from flowkit_spline.coupling import RationalQuadraticSplineLaw


@hookimpl
def flowkit_register_coupling_laws() -> list[type]:
    return [RationalQuadraticSplineLaw]
