"""Image flows: RealNVP and Glow as flowkit plugins (the ``images`` entry point).

Components (kind ``transform``, built as ``cls(event_shape, **options)`` except ``logit``):
``squeeze``/``unsqueeze``, ``conv_coupling``/``realnvp_coupling``/``glow_coupling``,
``channel_actnorm``, ``invconv1x1``, ``split_prior`` and ``logit``; conditioners ``glow``
and ``resnet`` (layer type ``image``); pipelines ``realnvp`` and ``glow``. See docs/image-flows.md.
"""

from __future__ import annotations

from flowkit import hookimpl
from flowkit_builtins.images.actnorm import ChannelActNorm
from flowkit_builtins.images.conditioners import GlowConditioner, ResNetConditioner
from flowkit_builtins.images.conv_coupling import ConvCoupling, GlowCoupling, RealNVPCoupling
from flowkit_builtins.images.invconv import InvertibleConv1x1
from flowkit_builtins.images.logit import Logit
from flowkit_builtins.images.pipelines import GlowPipeline, RealNVPPipeline
from flowkit_builtins.images.split_prior import SplitPrior
from flowkit_builtins.images.squeeze import Squeeze, Unsqueeze


@hookimpl
def flowkit_register_transforms() -> list[type]:
    return [
        Squeeze,
        Unsqueeze,
        ConvCoupling,
        RealNVPCoupling,
        GlowCoupling,
        ChannelActNorm,
        InvertibleConv1x1,
        SplitPrior,
        Logit,
    ]


@hookimpl
def flowkit_register_conditioners() -> list[type]:
    return [GlowConditioner, ResNetConditioner]


@hookimpl
def flowkit_register_pipelines() -> list[type]:
    return [RealNVPPipeline, GlowPipeline]
