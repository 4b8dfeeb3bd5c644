"""The ``realnvp`` and ``glow`` pipelines: multi-scale image flows on the data's event shape.

Both build ``Logit -> MultiScale(levels) -> factorised prior`` (see :mod:`.multiscale`), on the
``(C, H, W)`` event shape of the dataset (``(H, W)`` data is one channel). Every level halves the
resolution once, so ``H`` and ``W`` must be divisible by ``2 ** levels`` (28x28: up to 2 levels;
8x8: up to 3).

- ``realnvp`` (Dinh et al. 2017, section 4.1), per level: ``steps`` checkerboard couplings,
  squeeze, ``steps`` channel-wise couplings, each followed by an ActNorm (in place of RealNVP's
  batch normalisation), with a ResNet conditioner; then half the channels are factored out.
- ``glow`` (Kingma & Dhariwal 2018, section 3), per level: squeeze, then ``steps`` times
  ActNorm -> invertible 1x1 convolution -> channel-wise coupling with Glow's 3-layer CNN; then
  half the channels are factored out with Glow's learned prior (:class:`.SplitPrior`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from flowkit import CompositeTransform, ConfigurationError, CouplingLaw, Flow, Pipeline
from flowkit_builtins.images.actnorm import ChannelActNorm
from flowkit_builtins.images.base import image_shape, squeezed_shape
from flowkit_builtins.images.conv_coupling import GlowCoupling, RealNVPCoupling
from flowkit_builtins.images.invconv import InvertibleConv1x1
from flowkit_builtins.images.logit import Logit
from flowkit_builtins.images.multiscale import MultiScale
from flowkit_builtins.images.split_prior import SplitPrior
from flowkit_builtins.images.squeeze import Squeeze

_CONTRACT = [
    {"event_shape": (1, 4, 4), "levels": 2, "steps": 1, "hidden": 4},
    {"event_shape": (2, 4, 4), "levels": 1, "steps": 2, "hidden": 4, "coupling": "additive"},
    {
        "event_shape": (1, 4, 4),
        "levels": 1,
        "steps": 1,
        "hidden": 4,
        "coupling": "multiplicative",
        "coupling_options": {"scale_bound": "softclamp"},
    },
]


#: What the image pipelines pass to their coupling laws and conditioners themselves (and the
#: flag that sets each, or "").
def _component_arguments(*sizes: str) -> dict[str, dict[str, str]]:
    passed = {"in_channels": "", "out_channels": "", "context_features": "", "zero_init": ""}
    return {
        "coupling": {},
        "conditioner": {**passed, **{size: f"--set {size}=N" for size in sizes}},
    }


def _positive(config: dict[str, Any], key: str) -> int:
    value = config[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(f"{key} must be a positive integer, got {value!r}")
    return value


@dataclass(frozen=True)
class _CouplingParts:
    """What every coupling of an image pipeline is made of: a new law per layer, and the
    registered image conditioner class."""

    law: Callable[[], CouplingLaw]
    conditioner: type


class ImagePipeline(Pipeline):
    """Shared checks and assembly of the multi-scale image pipelines."""

    contract_domain: ClassVar[str] = "unit"
    contract_examples: ClassVar[list[dict[str, Any]]] = _CONTRACT

    def data_range(self, config: Mapping[str, Any]) -> tuple[float, float] | None:
        """The logit layer takes (dequantised) pixels in [0, 1]."""
        return (0.0, 1.0) if config.get("logit_alpha") else None

    def build(self, registry, features: int, config: dict[str, Any]) -> Flow:
        side = math.isqrt(features)
        if side * side != features:
            raise ConfigurationError(
                f"pipeline {self.name!r} models images: it needs the data's event shape "
                f"(C, H, W), and {features} features are not a square image"
            )
        return self.build_for(registry, (1, side, side), config)

    def build_for(self, registry, event_shape: tuple[int, ...], config: dict[str, Any]) -> Flow:
        shape = image_shape(event_shape)
        levels = _positive(config, "levels")
        _positive(config, "steps")
        _positive(config, "hidden")
        self.check_component_options(registry, config)
        parts = _CouplingParts(
            # Every layer gets its own law instance (a law may hold parameters of its own);
            # the pipeline's scale_bound goes to every law that takes one.
            law=partial(self.make_law, registry, config, {"scale_bound": config["scale_bound"]}),
            conditioner=self.conditioner_class(registry, config, "image"),
        )
        parts.law()  # a bad law or law option fails before any layer is built
        _, h, w = shape
        if h % 2**levels or w % 2**levels:
            raise ConfigurationError(
                f"{levels} level(s) halve the resolution {levels} time(s): height and width "
                f"must be divisible by {2**levels}, got {h}x{w}; use fewer --option levels=N"
            )
        prior = registry.get("prior", config["prior"])(math.prod(shape))
        stages, level_shapes = [], []
        for index in range(levels):
            level_input = shape
            layers, shape = self._level(
                shape, index, index == levels - 1, config, prior.stddev, parts
            )
            if index == 0 and config["logit_alpha"]:
                layers.insert(0, Logit(event_shape=level_input, alpha=config["logit_alpha"]))
            stages.append(CompositeTransform(layers))
            level_shapes.append(shape)
            shape = (shape[0] - (shape[0] + 1) // 2, shape[1], shape[2])
        return Flow(MultiScale(event_shape, stages, level_shapes), prior)

    def _level(self, shape, index, last, config, target_std, parts):
        raise NotImplementedError


class RealNVPPipeline(ImagePipeline):
    """RealNVP: checkerboard and channel-wise affine couplings with ResNet conditioners."""

    name = "realnvp"
    component_arguments: ClassVar[dict[str, dict[str, str]]] = _component_arguments(
        "hidden", "blocks"
    )
    description = "RealNVP: multi-scale flow of convolutional couplings (checkerboard, channel)"
    defaults: ClassVar[dict[str, Any]] = {
        "levels": 2,
        "steps": 2,
        "hidden": 32,
        "blocks": 1,
        "coupling": "affine",
        "coupling_options": {},
        "conditioner": "resnet",
        "conditioner_options": {},
        "scale_bound": "tanh",
        "actnorm": True,
        "learned_prior": False,
        "logit_alpha": 0.05,
        "prior": "gaussian",
    }

    def _level(self, shape, index, last, config, target_std, parts):
        options = dict(
            conditioner=parts.conditioner,
            hidden=config["hidden"],
            blocks=config["blocks"],
            conditioner_options=config["conditioner_options"],
        )
        layers: list = []
        for partition in ("checkerboard", "channel"):
            if partition == "channel":
                layers.append(Squeeze(shape))
                shape = squeezed_shape(shape)
            for step in range(config["steps"]):
                layers.append(
                    RealNVPCoupling(
                        shape,
                        law=parts.law(),
                        partition=partition,
                        parity=step % 2,
                        **options,
                    )
                )
                if config["actnorm"]:
                    layers.append(ChannelActNorm(shape, target_std=target_std))
        if config["learned_prior"] and not last:
            layers.append(SplitPrior(shape))
        return layers, shape


class GlowPipeline(ImagePipeline):
    """Glow: ActNorm, invertible 1x1 convolutions and affine couplings, learned prior."""

    name = "glow"
    component_arguments: ClassVar[dict[str, dict[str, str]]] = _component_arguments("hidden")
    description = "Glow: multi-scale flow of ActNorm, 1x1 convolutions and couplings"
    defaults: ClassVar[dict[str, Any]] = {
        "levels": 2,
        "steps": 4,
        "hidden": 64,
        "coupling": "affine",
        "coupling_options": {},
        "conditioner": "glow",
        "conditioner_options": {},
        "scale_bound": "tanh",
        "learned_prior": True,
        "logit_alpha": 0.05,
        "prior": "gaussian",
    }

    def _level(self, shape, index, last, config, target_std, parts):
        layers: list = [Squeeze(shape)]
        shape = squeezed_shape(shape)
        for step in range(config["steps"]):
            layers.append(ChannelActNorm(shape, target_std=target_std))
            layers.append(InvertibleConv1x1(shape, seed=100 * index + step))
            layers.append(
                GlowCoupling(
                    shape,
                    law=parts.law(),
                    parity=step % 2,
                    conditioner=parts.conditioner,
                    hidden=config["hidden"],
                    conditioner_options=config["conditioner_options"],
                )
            )
        if config["learned_prior"] and not last:
            layers.append(SplitPrior(shape))
        return layers, shape


__all__ = ["GlowPipeline", "ImagePipeline", "RealNVPPipeline"]
