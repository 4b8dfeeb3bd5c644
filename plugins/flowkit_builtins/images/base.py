"""Image-shaped transforms: the ``[batch, C, H, W]`` counterpart of :class:`flowkit.Transform`.

An image transform is built from an event shape ``(C, H, W)`` instead of a number of features
(a 2-D shape ``(H, W)`` means one channel). Its ``logabsdet`` is, as for every flowkit transform,
``log|det|`` of the Jacobian of the map on the flattened ``C * H * W`` values, shape ``[batch]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from torch import Tensor

from flowkit import ConfigurationError, DataError, Transform


def image_shape(event_shape: Any) -> tuple[int, int, int]:
    """``(C, H, W)`` from a 2-D ``(H, W)`` (grey images) or 3-D event shape."""
    try:
        shape = tuple(int(d) for d in event_shape)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"an image transform needs an event shape (C, H, W) or (H, W), got {event_shape!r}"
        ) from None
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ConfigurationError(
            f"an image transform needs an event shape (C, H, W) or (H, W), got {event_shape!r}"
        )
    return shape  # type: ignore[return-value]


def squeezed_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    """The shape after a 2x2 space-to-depth squeeze; H and W must be even."""
    c, h, w = shape
    if h % 2 or w % 2:
        raise ConfigurationError(f"squeezing needs an even height and width, got {c}x{h}x{w}")
    return (4 * c, h // 2, w // 2)


class ImageTransform(Transform):
    """Base class of transforms on ``[batch, C, H, W]`` tensors.

    Built as ``cls(event_shape, **options)``. The contract kit checks such a component at the
    event shapes listed in its ``contract_examples`` (the ``event_shape`` key).
    """

    def __init__(self, event_shape: Any) -> None:
        self.event_shape = image_shape(event_shape)
        super().__init__(math.prod(self.event_shape))

    def check_inputs(self, inputs: Tensor) -> None:
        if inputs.dim() != 4 or tuple(inputs.shape[1:]) != self.event_shape:
            c, h, w = self.event_shape
            raise DataError(
                f"{type(self).__name__} expects inputs of shape [batch, {c}, {h}, {w}], "
                f"got {list(inputs.shape)}"
            )

    def extra_repr(self) -> str:
        return "event_shape=" + "x".join(str(d) for d in self.event_shape)


__all__ = ["ImageTransform", "image_shape", "squeezed_shape"]
