"""Conditioners: the networks ``m`` that compute a coupling law's parameters.

A coupling layer is three separate parts: a partition (which values condition, which are
transformed), a conditioner ``m`` and a law ``g`` (:mod:`flowkit.laws`), ``y2 = g(x2; m(x1))``
(NICE, Dinh et al. 2014, section 3.2). A conditioner fits one *layer type*, its
:attr:`Conditioner.layer`, which fixes how it is built and what it maps:

- ``flat``: ``cls(in_features, out_features, *, context_features=0, zero_init=True,
  **options)``, ``[B, in_features] -> [B, out_features]`` (NICE's MLP);
- ``image``: ``cls(in_channels, out_channels, *, context_features=0, zero_init=True,
  **options)``, ``[B, C_in, H, W] -> [B, C_out, H, W]`` (Glow's 3-layer CNN, RealNVP's ResNet);
- ``autoregressive``: ``cls(features, params_per_value, *, params_layout="grouped",
  context_features=0, zero_init=True, **options)``, ``[B, D] -> [B, D * P]`` where the
  outputs of value ``i`` depend only on the values ``0 .. i-1`` (MADE, Germain et al. 2015),
  laid out as :func:`flowkit.arrange_params` reads ``params_layout``.

``forward(inputs, context=None)``: every conditioner takes an optional context ``[B, F]``
(``F = context_features``), which conditional flows feed to every layer. ``zero_init`` zeroes
the last layer, so a layer whose law is the identity at zero parameters starts as the
identity (Glow's initialisation, which moved NICE's test log-likelihood 4x here).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from flowkit.errors import ConfigurationError

#: The layer types a conditioner can fit (see the module docstring).
LAYER_TYPES = ("flat", "image", "autoregressive")


class Conditioner(nn.Module):
    """Base class of registered conditioners (kind ``conditioner``).

    Subclasses set :attr:`name`, :attr:`layer` (one of :data:`LAYER_TYPES`) and implement
    ``forward(inputs, context=None)``; the constructor follows the convention of the layer type.
    """

    name: ClassVar[str] = ""
    layer: ClassVar[str] = "flat"
    #: Options of each contract example (``cls(<sizes>, **example)``).
    contract_examples: ClassVar[list[dict[str, Any]]] = [{}]

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> Tensor:
        raise NotImplementedError


def with_context(inputs: Tensor, context: Tensor | None, context_features: int) -> Tensor:
    """``inputs`` with the context appended along dimension 1: as extra columns of a flat
    ``[B, D]`` input, as constant extra channels of an image ``[B, C, H, W]`` one.

    Raises :class:`ConfigurationError` when a conditioner built for a context gets none, or one
    of the wrong shape, and when one built without a context gets one.
    """
    if not context_features:
        if context is not None:
            raise ConfigurationError("a context was given to a layer built without one")
        return inputs
    if context is None:
        raise ConfigurationError(
            f"this layer was built for a context of {context_features} features; pass context="
        )
    if context.dim() != 2 or context.shape[1] != context_features or len(context) != len(inputs):
        raise ConfigurationError(
            f"the context must have shape [{len(inputs)}, {context_features}], got "
            f"{list(context.shape)}"
        )
    context = context.to(inputs.dtype)
    spatial = inputs.shape[2:]
    if spatial:
        context = context.reshape(*context.shape, *(1,) * len(spatial)).expand(-1, -1, *spatial)
    return torch.cat([inputs, context], dim=1)


def check_layer(cls: type, layer: str, what: str) -> None:
    """Raise unless conditioner ``cls`` fits layers of type ``layer``."""
    fits = getattr(cls, "layer", None)
    if fits != layer:
        raise ConfigurationError(
            f"{what} needs a conditioner for {layer} layers; {getattr(cls, 'name', cls)!r} is "
            f"for {fits} layers"
        )


__all__ = ["LAYER_TYPES", "Conditioner", "check_layer", "with_context"]
