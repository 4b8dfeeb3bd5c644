"""Convolutional coupling layers: RealNVP's and Glow's (additive and affine laws).

``y1 = x1``, ``y2 = g(x2; m(x1))`` with the image split by a checkerboard or channel-wise
partition (:mod:`.partitions`, index buffers) and ``m`` a convolutional network
(:mod:`.conditioners`). The Jacobian is block-triangular (RealNVP, Dinh et al. 2017,
section 3.3), so ``log|det| = log|det dg/dx2|``:

- ``additive`` (NICE eq. 5; Glow's choice for its largest models): ``y2 = x2 + t``,
  ``log|det| = 0``;
- ``affine`` (RealNVP eq. 7-8): ``y2 = x2 * exp(s) + t``, ``log|det| = sum s`` over the
  transformed values, with ``s`` bounded as the flat affine law does (``scale_bound``).

The laws are the registered ``additive`` and ``affine`` couplings' maths. They are restated here
(one line each) rather than called, because flowkit's coupling laws are methods of
:class:`flowkit.CouplingTransform` instances that own a flat MLP conditioner; there is no
standalone law object in the public API to call. The bound on ``s`` is the built-in affine
law's own :func:`flowkit_builtins.couplings.bounded_log_scale`, so both behave alike.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from flowkit import ConfigurationError, run_conditioner
from flowkit_builtins.couplings import SCALE_BOUNDS, bounded_log_scale
from flowkit_builtins.images.base import ImageTransform
from flowkit_builtins.images.conditioners import make_conditioner
from flowkit_builtins.images.partitions import make_partition

#: Coupling laws a convolutional conditioner can drive (names of registered coupling laws).
CONV_LAWS = ("additive", "affine")


class ConvCoupling(ImageTransform):
    """A coupling layer on images with a convolutional conditioner.

    :param event_shape: ``(C, H, W)`` of the inputs.
    :param law: ``additive`` or ``affine``.
    :param partition: ``channel`` or ``checkerboard``.
    :param parity: 0 or 1; which part conditions. Alternate it between consecutive layers.
    :param conditioner: ``glow`` (3-layer CNN), ``resnet`` (RealNVP) or ``zero_conv``.
    :param hidden: hidden channels of the conditioner.
    :param blocks: residual blocks of the ``resnet`` conditioner.
    :param scale_bound, bound: how the affine log-scale is bounded (see ``couplings.py``).
    :param zero_init: zero the conditioner's last convolution (the layer starts as identity).
    """

    name = "conv_coupling"
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"event_shape": (2, 4, 4), "hidden": 4},
        {"event_shape": (1, 4, 4), "hidden": 4, "partition": "checkerboard", "parity": 1},
        {"event_shape": (3, 4, 4), "hidden": 4, "law": "additive", "conditioner": "resnet"},
    ]
    _defaults: ClassVar[dict[str, Any]] = {"partition": "channel", "conditioner": "glow"}
    #: Autocast dtype of the conditioner during mixed-precision training steps, set by
    #: ``flowkit.train.precision`` (``--precision bf16-mixed``); None: float32.
    conditioner_dtype: torch.dtype | None = None

    def __init__(
        self,
        event_shape: Any,
        *,
        law: str = "affine",
        partition: str | None = None,
        parity: int = 0,
        conditioner: str | None = None,
        hidden: int = 64,
        blocks: int = 1,
        scale_bound: str = "tanh",
        bound: float = 2.0,
        zero_init: bool = True,
    ) -> None:
        super().__init__(event_shape)
        if law not in CONV_LAWS:
            raise ConfigurationError(
                f"coupling law {law!r} cannot take a convolutional conditioner; choose from "
                f"{', '.join(CONV_LAWS)}"
            )
        if scale_bound not in SCALE_BOUNDS:
            raise ConfigurationError(
                f"unknown scale_bound {scale_bound!r}; choose from {', '.join(SCALE_BOUNDS)}"
            )
        if not bound > 0:
            raise ConfigurationError(f"bound must be > 0, got {bound}")
        partition = partition or self._defaults["partition"]
        conditioner = conditioner or self._defaults["conditioner"]
        self.law, self.partition_kind, self.parity = law, partition, parity % 2
        self.scale_bound, self.bound = scale_bound, float(bound)
        self.partition = make_partition(partition, self.event_shape, parity)
        transformed = self.partition.transform_shape[0]
        self.params_channels = transformed * (2 if law == "affine" else 1)
        self.net = make_conditioner(
            conditioner,
            self.partition.condition_shape[0],
            self.params_channels,
            hidden=hidden,
            blocks=blocks,
            zero_init=zero_init,
        )

    def _couple(self, inputs: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        x1, x2 = self.partition.split(inputs)
        # Only the convolutions may run in bfloat16 (--precision bf16-mixed): the shift and
        # log-scale that touch the data, and the log-det, are float32.
        params = run_conditioner(self.net, x1, self.conditioner_dtype)
        if self.law == "additive":
            y2 = x2 - params if inverse else x2 + params
            return self.partition.merge(x1, y2), inputs.new_zeros(inputs.shape[0])
        u, shift = params.chunk(2, dim=1)
        s = bounded_log_scale(u, self.scale_bound, self.bound)
        if inverse:
            y2 = (x2 - shift) * torch.exp(-s)
        else:
            y2 = x2 * torch.exp(s) + shift
        logabsdet = s.flatten(1).sum(dim=1)
        return self.partition.merge(x1, y2), -logabsdet if inverse else logabsdet

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._couple(inputs, inverse=False)

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._couple(inputs, inverse=True)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, law={self.law!r}, partition={self.partition_kind!r}, "
            f"parity={self.parity}"
        )


class RealNVPCoupling(ConvCoupling):
    """RealNVP's coupling (Dinh et al. 2017, sections 3.3-3.4 and 4.1): ResNet conditioner,
    checkerboard partition by default."""

    name = "realnvp_coupling"
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"event_shape": (1, 4, 4), "hidden": 4},
        {"event_shape": (2, 4, 4), "hidden": 4, "partition": "channel", "law": "additive"},
    ]
    _defaults: ClassVar[dict[str, Any]] = {"partition": "checkerboard", "conditioner": "resnet"}


class GlowCoupling(ConvCoupling):
    """Glow's coupling (Kingma & Dhariwal 2018, section 3.3): 3-layer CNN with a zeroed last
    convolution, channel-wise partition."""

    name = "glow_coupling"
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"event_shape": (2, 4, 4), "hidden": 4},
        {"event_shape": (4, 2, 2), "hidden": 4, "law": "additive", "parity": 1},
    ]


__all__ = ["CONV_LAWS", "ConvCoupling", "GlowCoupling", "RealNVPCoupling"]
