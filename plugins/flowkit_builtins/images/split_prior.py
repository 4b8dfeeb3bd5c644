"""Glow's learned prior at a multi-scale factor-out, as a transform (Kingma & Dhariwal 2018).

At each factor-out the first half ``z`` of the channels leaves the flow and the rest ``h``
continues (RealNVP section 3.6). Glow gives ``z`` a Gaussian prior whose mean and log-scale a
zero-initialised convolution computes from ``h``: ``z ~ N(mu(h), sigma(h)^2)``. Since

    log N(z; mu, sigma^2) = log N((z - mu) / sigma; 0, 1) - sum log sigma,

that conditional prior is exactly this transform, ``z' = (z - mu(h)) / sigma(h)``,
``log|det| = -sum log sigma(h)``, followed by the flow's standard Gaussian prior on ``z'``. So it
is a channel-wise affine coupling (``s = -log sigma``, ``t = -mu / sigma``) conditioned by one
zeroed conv 3x3: it starts as the standard Gaussian, and sampling at temperature ``T`` draws
``z = mu + T sigma eps``, Glow's own temperature. The log-scale is bounded (``tanh``, 3) so a
factored-out channel can never get a degenerate scale.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flowkit_builtins.images.conv_coupling import ConvCoupling


class SplitPrior(ConvCoupling):
    """Normalise the channels that leave at a factor-out by a Gaussian conditioned on the rest.

    ``z`` = the first ``ceil(C / 2)`` channels (the ones :class:`.MultiScale` factors out),
    ``h`` = the others.
    """

    name = "split_prior"
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"event_shape": (2, 4, 4)},
        {"event_shape": (4, 2, 2)},
    ]

    def __init__(self, event_shape: Any, *, bound: float = 3.0, zero_init: bool = True) -> None:
        # Parity 1 of the channel partition: the first ceil(C/2) channels are transformed,
        # exactly the ones MultiScale factors out; the rest condition.
        super().__init__(
            event_shape,
            law="affine",
            law_options={"scale_bound": "tanh", "bound": bound},
            partition="channel",
            parity=1,
            conditioner="zero_conv",
            zero_init=zero_init,
        )


__all__ = ["SplitPrior"]
