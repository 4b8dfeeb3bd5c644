"""Convolutional conditioners of image coupling layers: ``x1 -> params`` at the same resolution.

- ``glow``: Glow's coupling network (Kingma & Dhariwal 2018, section 3.3): conv 3x3, ReLU,
  conv 1x1, ReLU, conv 3x3 whose weights and bias start at zero, so every coupling starts as the
  identity (the flow then starts as its ActNorm and 1x1 convolution layers only).
- ``resnet``: a small version of RealNVP's ResNet (Dinh et al. 2017, section 4.1): conv 3x3 in,
  ``blocks`` residual blocks ``h + conv(relu(conv(relu(h))))``, ReLU, conv 3x3 out (zeroed too,
  Glow's trick, which made NICE 4x better at equal budget here, see ../shared/NICE.md). RealNVP's
  batch normalisation is left out: a flowkit transform must not depend on the other examples of
  a batch; ActNorm layers between the couplings take its role.
- ``zero_conv``: one zero-initialised conv 3x3, Glow's learned prior at a factor-out.
"""

from __future__ import annotations

from torch import Tensor, nn

from flowkit import ConfigurationError

CONDITIONERS = ("glow", "resnet", "zero_conv")


def _conv(in_channels: int, out_channels: int, kernel: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2)


def _zeroed(conv: nn.Conv2d, zero: bool) -> nn.Conv2d:
    if zero:
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    return conv


class ResidualBlock(nn.Module):
    """``h + conv3x3(relu(conv3x3(relu(h))))``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(), _conv(channels, channels, 3), nn.ReLU(), _conv(channels, channels, 3)
        )

    def forward(self, inputs: Tensor) -> Tensor:
        return inputs + self.body(inputs)


def make_conditioner(
    kind: str,
    in_channels: int,
    out_channels: int,
    *,
    hidden: int = 64,
    blocks: int = 1,
    zero_init: bool = True,
) -> nn.Module:
    """A network ``[B, in_channels, H, W] -> [B, out_channels, H, W]``."""
    if not isinstance(hidden, int) or hidden < 1:
        raise ConfigurationError(f"hidden channels must be a positive integer, got {hidden!r}")
    if kind == "glow":
        return nn.Sequential(
            _conv(in_channels, hidden, 3),
            nn.ReLU(),
            _conv(hidden, hidden, 1),
            nn.ReLU(),
            _zeroed(_conv(hidden, out_channels, 3), zero_init),
        )
    if kind == "resnet":
        if not isinstance(blocks, int) or blocks < 0:
            raise ConfigurationError(f"blocks must be an integer >= 0, got {blocks!r}")
        return nn.Sequential(
            _conv(in_channels, hidden, 3),
            *(ResidualBlock(hidden) for _ in range(blocks)),
            nn.ReLU(),
            _zeroed(_conv(hidden, out_channels, 3), zero_init),
        )
    if kind == "zero_conv":
        return _zeroed(_conv(in_channels, out_channels, 3), zero_init)
    raise ConfigurationError(
        f"unknown conditioner {kind!r}; choose from {', '.join(CONDITIONERS)}"
    )


__all__ = ["CONDITIONERS", "ResidualBlock", "make_conditioner"]
