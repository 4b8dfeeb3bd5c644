"""Transforms: invertible maps that return their log-determinant, in nflows' convention.

``forward(inputs, context=None) -> (outputs, logabsdet)`` maps data to noise (the NICE encoder
``f``); ``inverse`` maps noise back to data (the generator ``f^-1``). ``logabsdet`` has shape
``[batch]`` and is ``log|det df/dx|`` at ``inputs`` (for ``inverse``, that of the inverse map).

flowkit's :class:`Transform` *is* an ``nflows.transforms.base.Transform``, so flowkit components
run inside nflows' own ``Flow`` and ``CompositeTransform``, and the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from flowkit._nflows import transforms_base as nflows_base
from flowkit.errors import ConfigurationError, DataError


class Transform(nflows_base.Transform):
    """Base class of flowkit transforms.

    Subclasses registered through a plugin set :attr:`name` and accept ``features`` as their
    first constructor argument. A transform whose parameters are fitted from data (whitening,
    ActNorm) overrides :meth:`_initialize`; its ``initialized`` flag is a buffer, so it survives a
    state_dict round trip and a loaded model is never re-initialised.
    """

    #: Registry name (what users type on the command line).
    name: ClassVar[str] = ""
    #: Constructor keyword sets the contract kit checks besides the defaults.
    contract_examples: ClassVar[list[dict[str, Any]]] = [{}]

    def __init__(self, features: int) -> None:
        super().__init__()
        self.features = check_features(features)

    # ---- data-dependent initialisation ---------------------------------------------------------
    @property
    def needs_initialization(self) -> bool:
        """True while a data-dependent transform has not been fitted yet."""
        flag = getattr(self, "initialized", None)
        return flag is not None and not bool(flag)

    def enable_data_initialization(self) -> None:
        """Declare that this transform is fitted from data; call in ``__init__``."""
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def initialize(self, inputs: Tensor) -> None:
        """Fit data-dependent parameters on a batch of training data (a no-op for most)."""
        if getattr(self, "initialized", None) is None:
            return
        self._initialize(inputs)
        self.initialized.fill_(True)

    def _initialize(self, inputs: Tensor) -> None:
        raise NotImplementedError

    def check_inputs(self, inputs: Tensor) -> None:
        """Raise a clear error for inputs of the wrong shape."""
        if inputs.dim() != 2 or inputs.shape[1] != self.features:
            raise DataError(
                f"{type(self).__name__} expects inputs of shape [batch, {self.features}], "
                f"got {list(inputs.shape)}"
            )

    def extra_repr(self) -> str:
        return f"features={self.features}"


def check_features(features: Any) -> int:
    """Accept any positive integer (numpy integers too, unlike nflows' ``isinstance(x, int)``)."""
    try:
        value = int(features)
    except (TypeError, ValueError):
        value = -1
    if value != features or value < 1:
        raise ConfigurationError(f"features must be a positive integer, got {features!r}")
    return value


class CompositeTransform(nflows_base.CompositeTransform):
    """Applies transforms in order; ``inverse`` applies their inverses in reverse order.

    Adds :meth:`initialize`, which fits each data-dependent layer on the data as transformed by
    the layers before it.
    """

    def __init__(self, transforms: Iterable[nn.Module]) -> None:
        super().__init__(list(transforms))

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._chain(list(self._transforms), inputs, context, inverse=False)

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._chain(list(self._transforms)[::-1], inputs, context, inverse=True)

    @staticmethod
    def _chain(transforms: list, inputs: Tensor, context: Tensor | None, inverse: bool):
        """nflows' cascade, except that consecutive coupling layers splitting their inputs the
        same way (equal ``split_key``, see :class:`flowkit.CouplingTransform`) pass the two
        halves along and merge once at the end of the run, as a hand-written NICE would."""
        outputs, total = inputs, inputs.new_zeros(inputs.shape[0])
        index = 0
        while index < len(transforms):
            key = getattr(transforms[index], "split_key", None)
            end = index + 1
            while (
                key is not None
                and end < len(transforms)
                and (getattr(transforms[end], "split_key", None) == key)
            ):
                end += 1
            if end - index >= 2:
                parts = transforms[index].split_parts(outputs)
                for layer in transforms[index:end]:
                    parts, logabsdet = layer.couple_parts(*parts, context, inverse)
                    total = total + logabsdet
                outputs = transforms[end - 1].merge_parts(*parts)
            else:
                layer = transforms[index]
                outputs, logabsdet = (layer.inverse if inverse else layer)(outputs, context)
                total = total + logabsdet
            index = end
        return outputs, total

    def __len__(self) -> int:
        return len(self._transforms)

    def __getitem__(self, index: int) -> nn.Module:
        return self._transforms[index]

    def __iter__(self):
        return iter(self._transforms)

    @property
    def needs_initialization(self) -> bool:
        return any(getattr(t, "needs_initialization", False) for t in self._transforms)

    @torch.no_grad()
    def initialize(self, inputs: Tensor) -> None:
        outputs = inputs
        for transform in self._transforms:
            if getattr(transform, "needs_initialization", False):
                transform.initialize(outputs)
            outputs, _ = transform(outputs)


class InverseTransform(nflows_base.InverseTransform):
    """Swaps ``forward`` and ``inverse`` of a transform."""


__all__ = ["CompositeTransform", "InverseTransform", "Transform", "check_features"]
