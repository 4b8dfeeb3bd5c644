"""Convolutional conditioners of image coupling layers: ``x1 -> params`` at the same resolution.

Registered (kind ``conditioner``, layer type ``image``), so every coupling law drives them:

- ``glow``: Glow's coupling network (Kingma & Dhariwal 2018, section 3.3): conv 3x3, ReLU,
  conv 1x1, ReLU, conv 3x3 whose weights and bias start at zero, so every coupling starts as the
  identity (the flow then starts as its ActNorm and 1x1 convolution layers only).
- ``resnet``: a small version of RealNVP's ResNet (Dinh et al. 2017, section 4.1): conv 3x3 in,
  ``blocks`` residual blocks ``h + conv(relu(conv(relu(h))))``, ReLU, conv 3x3 out (zeroed too,
  Glow's trick, which made NICE 4x better at equal budget here, see ../shared/NICE.md). RealNVP's
  batch normalisation is left out: a flowkit transform must not depend on the other examples of
  a batch; ActNorm layers between the couplings take its role.

Not registered: ``zero_conv``, one zero-initialised conv 3x3, Glow's learned prior at a
factor-out (:mod:`.split_prior`). A context enters every conditioner as constant extra input
channels (:func:`flowkit.with_context`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn

from flowkit import Conditioner, ConfigurationError, with_context


def _conv(in_channels: int, out_channels: int, kernel: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2)


def _zeroed(conv: nn.Conv2d, zero: bool) -> nn.Conv2d:
    if zero:
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    return conv


def _channels(hidden: Any) -> int:
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
        raise ConfigurationError(f"hidden channels must be a positive integer, got {hidden!r}")
    return hidden


class ResidualBlock(nn.Module):
    """``h + conv3x3(relu(conv3x3(relu(h))))``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(), _conv(channels, channels, 3), nn.ReLU(), _conv(channels, channels, 3)
        )

    def forward(self, inputs: Tensor) -> Tensor:
        return inputs + self.body(inputs)


class _ConvConditioner(nn.Sequential, Conditioner):
    """A sequence of convolutions ``[B, C_in (+ context), H, W] -> [B, C_out, H, W]`` (a
    Sequential, so its weights keep the names they had before conditioners were parts)."""

    layer = "image"
    contract_examples: ClassVar[list[dict[str, Any]]] = [{"hidden": 4}]
    context_features = 0

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> Tensor:
        return nn.Sequential.forward(self, with_context(inputs, context, self.context_features))


class GlowConditioner(_ConvConditioner):
    """Glow's 3-layer CNN with ``hidden`` channels and a zeroed last convolution."""

    name = "glow"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        hidden: int = 64,
        context_features: int = 0,
        zero_init: bool = True,
    ) -> None:
        hidden = _channels(hidden)
        super().__init__(
            _conv(in_channels + context_features, hidden, 3),
            nn.ReLU(),
            _conv(hidden, hidden, 1),
            nn.ReLU(),
            _zeroed(_conv(hidden, out_channels, 3), zero_init),
        )
        self.context_features = context_features


class ResNetConditioner(_ConvConditioner):
    """RealNVP's ResNet, small: ``blocks`` residual blocks of ``hidden`` channels."""

    name = "resnet"
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"hidden": 4},
        {"hidden": 4, "blocks": 0},
    ]

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        hidden: int = 64,
        blocks: int = 1,
        context_features: int = 0,
        zero_init: bool = True,
    ) -> None:
        hidden = _channels(hidden)
        if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 0:
            raise ConfigurationError(f"blocks must be an integer >= 0, got {blocks!r}")
        super().__init__(
            _conv(in_channels + context_features, hidden, 3),
            *(ResidualBlock(hidden) for _ in range(blocks)),
            nn.ReLU(),
            _zeroed(_conv(hidden, out_channels, 3), zero_init),
        )
        self.context_features = context_features


class ZeroConv(nn.Conv2d, Conditioner):
    """One conv 3x3, zeroed by ``zero_init``: Glow's learned prior at a factor-out (a bare
    convolution, so its weights keep their names)."""

    name = "zero_conv"
    layer = "image"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        context_features: int = 0,
        zero_init: bool = True,
    ) -> None:
        super().__init__(in_channels + context_features, out_channels, 3, padding=1)
        _zeroed(self, zero_init)
        self.context_features = context_features

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> Tensor:  # type: ignore[override]
        return nn.Conv2d.forward(self, with_context(inputs, context, self.context_features))


#: The image conditioners by name, for image layers built directly from Python.
BUILTIN_IMAGE_CONDITIONERS: dict[str, type[Conditioner]] = {
    cls.name: cls for cls in (GlowConditioner, ResNetConditioner, ZeroConv)
}


__all__ = [
    "BUILTIN_IMAGE_CONDITIONERS",
    "GlowConditioner",
    "ResNetConditioner",
    "ResidualBlock",
    "ZeroConv",
]
