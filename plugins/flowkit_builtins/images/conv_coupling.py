"""Convolutional coupling layers: RealNVP's and Glow's, driven by any coupling law.

``y1 = x1``, ``y2 = g(x2; m(x1))`` with the image split by a checkerboard or channel-wise
partition (:mod:`.partitions`, index buffers), ``m`` a convolutional conditioner (kind
``conditioner``, layer type ``image``) and ``g`` any registered :class:`flowkit.CouplingLaw`
(``additive``, ``affine``, ``rqspline`` ...). The Jacobian is block-triangular (RealNVP, Dinh
et al. 2017, section 3.3), so ``log|det|`` is the law's log-derivatives summed over the
transformed values. The law's maths lives in the law; this layer only partitions, runs the
conditioner and reads its ``[B, C2 * P, H, W]`` output as ``P`` parameters per transformed
value (:func:`flowkit.apply_law`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from flowkit import (
    ConfigurationError,
    CouplingLaw,
    accepted_options,
    apply_law,
    check_layer,
    run_conditioner,
)
from flowkit_builtins.couplings import law_instance
from flowkit_builtins.images.base import ImageTransform
from flowkit_builtins.images.conditioners import BUILTIN_IMAGE_CONDITIONERS
from flowkit_builtins.images.partitions import make_partition


def _conditioner_class(conditioner: str | type[nn.Module]) -> type[nn.Module]:
    if isinstance(conditioner, type):
        check_layer(conditioner, "image", "an image coupling layer")
        return conditioner
    if conditioner not in BUILTIN_IMAGE_CONDITIONERS:
        raise ConfigurationError(
            f"unknown conditioner {conditioner!r}; choose from "
            f"{', '.join(BUILTIN_IMAGE_CONDITIONERS)}, or pass a registered image conditioner"
        )
    return BUILTIN_IMAGE_CONDITIONERS[conditioner]


class ConvCoupling(ImageTransform):
    """A coupling layer on images with a convolutional conditioner.

    :param event_shape: ``(C, H, W)`` of the inputs.
    :param law: a :class:`flowkit.CouplingLaw` instance, or a built-in law's name
        (``additive``, ``multiplicative``, ``affine``) built with ``law_options``.
    :param law_options: options of a law given by name (e.g. ``{"scale_bound": "sigmoid"}``).
    :param partition: ``channel`` or ``checkerboard``.
    :param parity: 0 or 1; which part conditions. Alternate it between consecutive layers.
    :param conditioner: an image conditioner class, or a built-in one's name (``glow``:
        3-layer CNN, ``resnet``: RealNVP, ``zero_conv``).
    :param hidden: hidden channels of the conditioner (if it takes them).
    :param blocks: residual blocks of the conditioner (if it takes them).
    :param conditioner_options: further options of the conditioner.
    :param zero_init: zero the conditioner's last convolution (the layer starts as identity).
    :param context_features: width of a context given to the conditioner as extra channels.
    """

    name = "conv_coupling"
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"event_shape": (2, 4, 4), "hidden": 4},
        {"event_shape": (1, 4, 4), "hidden": 4, "partition": "checkerboard", "parity": 1},
        {"event_shape": (3, 4, 4), "hidden": 4, "law": "additive", "conditioner": "resnet"},
        {"event_shape": (2, 4, 4), "hidden": 4, "context_features": 0, "law": "multiplicative"},
    ]
    #: The layer type this class drives laws in (the contract kit builds it with every law
    #: and every image conditioner, as ``cls(event_shape, law=..., conditioner=...)``).
    law_layer: ClassVar[str] = "image"
    law_contract_example: ClassVar[dict[str, Any]] = {"event_shape": (2, 4, 4), "hidden": 4}
    _defaults: ClassVar[dict[str, Any]] = {"partition": "channel", "conditioner": "glow"}
    #: Autocast dtype of the conditioner during mixed-precision training steps, set by
    #: ``flowkit.train.precision`` (``--precision bf16-mixed``); None: float32.
    conditioner_dtype: torch.dtype | None = None

    def __init__(
        self,
        event_shape: Any,
        *,
        law: str | CouplingLaw = "affine",
        law_options: Mapping[str, Any] | None = None,
        partition: str | None = None,
        parity: int = 0,
        conditioner: str | type[nn.Module] | None = None,
        hidden: int = 64,
        blocks: int = 1,
        conditioner_options: Mapping[str, Any] | None = None,
        zero_init: bool = True,
        context_features: int = 0,
    ) -> None:
        super().__init__(event_shape)
        partition = partition or self._defaults["partition"]
        net_cls = _conditioner_class(conditioner or self._defaults["conditioner"])
        self.law = law_instance(law, law_options)
        self.partition_kind, self.parity = partition, parity % 2
        self.context_features = context_features
        self.partition = make_partition(partition, self.event_shape, parity)
        transformed = self.partition.transform_shape[0]
        self.params_channels = transformed * self.law.params_per_value
        self.net = net_cls(
            self.partition.condition_shape[0],
            self.params_channels,
            context_features=context_features,
            zero_init=zero_init,
            **accepted_options(
                net_cls, {"hidden": hidden, "blocks": blocks}, conditioner_options or {}
            ),
        )

    @property
    def bounded_scale(self) -> bool:
        """Whether the law keeps the inverse finite at extreme conditioner outputs."""
        return bool(self.law.bounded)

    def _couple(
        self, inputs: Tensor, context: Tensor | None, inverse: bool
    ) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        x1, x2 = self.partition.split(inputs)
        # Only the convolutions may run in bfloat16 (--precision bf16-mixed): the law's
        # arithmetic on the data, and the log-det, are float32.
        net = self.net
        params = run_conditioner(lambda x: net(x, context), x1, self.conditioner_dtype)
        y2, logabsdet = apply_law(self.law, x2, params, inverse)
        return self.partition.merge(x1, y2), logabsdet

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._couple(inputs, context, inverse=False)

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._couple(inputs, context, inverse=True)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, law={self.law.name!r}, partition={self.partition_kind!r}, "
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


__all__ = ["ConvCoupling", "GlowCoupling", "RealNVPCoupling"]
