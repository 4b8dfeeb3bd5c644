"""The general coupling layer of NICE (section 3.2), split by index.

``y1 = x1``, ``y2 = g(x2; m(x1))``: the inputs are split into a conditioning part ``x1`` and a
transformed part ``x2`` by index buffers (never by multiplying with masks, which doubles the
work of the conditioner's first and last layers). A coupling *law* ``g`` is a subclass that
implements :meth:`CouplingTransform._transform` and :meth:`CouplingTransform._inverse_transform`;
the Jacobian is block-triangular, so ``log|det| = log|det dg/dx2|``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from flowkit.conditioners import Conditioner, check_layer
from flowkit.errors import ConfigurationError
from flowkit.laws import CouplingLaw, apply_law
from flowkit.nn import MLP, run_conditioner
from flowkit.options import accepted_options, constructor_options
from flowkit.transforms import Transform

PARTITIONS = ("interleaved", "halves")


def partition_indices(features: int, partition: str, parity: int) -> tuple[Tensor, Tensor]:
    """Indices of the conditioning and transformed parts.

    ``interleaved`` is the paper's odd/even split; ``halves`` splits into first and second half.
    ``parity`` (0 or 1) swaps the roles, so consecutive layers alternate (NICE section 3.4).
    """
    if features < 2:
        raise ConfigurationError(f"a coupling layer needs at least 2 dimensions, got {features}")
    if partition not in PARTITIONS:
        raise ConfigurationError(
            f"unknown partition {partition!r}; choose from {', '.join(PARTITIONS)}"
        )
    index = torch.arange(features)
    if partition == "interleaved":
        first, second = index[0::2], index[1::2]
    else:
        half = (features + 1) // 2
        first, second = index[:half], index[half:]
    return (first, second) if parity % 2 == 0 else (second, first)


def _slice_layout(features: int, partition: str) -> tuple[slice, slice] | None:
    """The ``(first, second)`` parts of :func:`partition_indices` (parity 0) as slices, when the
    merge back is a plain stack (interleaved, even ``features``) or cat (halves); else None."""
    if partition == "interleaved" and features % 2 == 0:
        return slice(0, None, 2), slice(1, None, 2)
    if partition == "halves":
        half = (features + 1) // 2
        return slice(0, half), slice(half, None)
    return None


class CouplingTransform(Transform):
    """Base class of coupling layers; subclasses define the coupling law.

    :param features: dimension of the inputs.
    :param hidden: width of the conditioner MLP's hidden layers (paper: 1000).
    :param depth: number of hidden layers (paper: 5).
    :param partition: ``interleaved`` (odd/even, the paper's) or ``halves``.
    :param parity: 0 or 1; which part conditions. Alternate it between consecutive layers.
    :param activation: hidden activation of the MLP (paper: ``relu``).
    :param zero_init: start as the identity by zeroing the MLP's last layer.
    :param context_features: width of an optional context appended to the MLP's input.

    Subclasses set :attr:`params_per_dim` (how many conditioner outputs each transformed
    dimension needs) and implement ``_transform``/``_inverse_transform`` on the transformed part.
    """

    params_per_dim: ClassVar[int] = 1
    #: Autocast dtype of a conditioner that is not a :class:`flowkit.nn.MLP`, set by
    #: :mod:`flowkit.train.precision` during mixed-precision training steps (None: float32).
    conditioner_dtype: torch.dtype | None = None
    contract_examples: ClassVar[list[dict[str, Any]]] = [
        {"hidden": 16, "depth": 2},
        {"hidden": 16, "depth": 1, "partition": "halves", "parity": 1},
    ]

    def __init__(
        self,
        features: int,
        *,
        hidden: int = 1000,
        depth: int = 5,
        partition: str = "interleaved",
        parity: int = 0,
        activation: str = "relu",
        zero_init: bool = True,
        context_features: int = 0,
    ) -> None:
        super().__init__(features)
        identity, transformed = partition_indices(self.features, partition, parity)
        self.partition, self.parity = partition, parity % 2
        self.context_features = context_features
        self.register_buffer("identity_index", identity)
        self.register_buffer("transform_index", transformed)
        self.register_buffer("output_order", torch.argsort(torch.cat([identity, transformed])))
        # The paper's two partitions are also strided or contiguous slices: splitting by slicing
        # copies nothing, and merging is one stack/cat instead of a cat plus a permuting gather;
        # with runs of couplings kept in split form (split_key) this took log_prob on the
        # paper's MNIST model from 0.98x to 1.00x of a hand-written PyTorch NICE (measured,
        # benchmarks/README.md). Other layouts use the index buffers.
        self._layout = _slice_layout(self.features, partition)
        self.net = self._build_net(
            len(identity),
            len(transformed) * self.params_per_dim,
            hidden=hidden,
            depth=depth,
            activation=activation,
            zero_init=zero_init,
        )

    def _build_net(self, in_features: int, out_features: int, **sizes: Any) -> nn.Module:
        """The conditioner ``m``: NICE's MLP, with room for the context in its input."""
        return MLP(
            in_features + self.context_features,
            out_features,
            hidden=sizes["hidden"],
            depth=sizes["depth"],
            activation=sizes["activation"],
            zero_init_output=sizes["zero_init"],
        )

    @property
    def transform_features(self) -> int:
        return len(self.transform_index)

    def _conditioner(self, x1: Tensor, context: Tensor | None) -> Tensor:
        if isinstance(self.net, Conditioner):  # a registered conditioner takes the context
            net = self.net
            return run_conditioner(lambda x: net(x, context), x1, self.conditioner_dtype)
        if self.context_features:
            if context is None:
                raise ConfigurationError(f"{type(self).__name__} was built to need a context")
            x1 = torch.cat([x1, context], dim=1)
        # conditioner_dtype is set only for a net that is not a flowkit MLP (which lowers its
        # own hidden layers): such a net runs whole under autocast, with a float32 output.
        return run_conditioner(self.net, x1, self.conditioner_dtype)

    def _split_params(self, params: Tensor) -> tuple[Tensor, ...]:
        """Split the conditioner output into ``params_per_dim`` tensors of shape [B, |x2|]."""
        return params.split(self.transform_features, dim=1)

    def _split(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """``(x1, x2)``: the conditioning and the transformed part (possibly strided views)."""
        if self._layout is None:
            return (
                inputs.index_select(1, self.identity_index),
                inputs.index_select(1, self.transform_index),
            )
        first, second = inputs[:, self._layout[0]], inputs[:, self._layout[1]]
        return (first, second) if self.parity == 0 else (second, first)

    def _merge(self, x1: Tensor, y2: Tensor) -> Tensor:
        """The inverse of :meth:`_split`: both parts back in their original positions."""
        if self._layout is None:
            return torch.cat([x1, y2], dim=1).index_select(1, self.output_order)
        first, second = (x1, y2) if self.parity == 0 else (y2, x1)
        if self.partition == "interleaved":
            return torch.stack((first, second), dim=2).flatten(1)
        return torch.cat((first, second), dim=1)

    def _couple(
        self, inputs: Tensor, context: Tensor | None, inverse: bool
    ) -> tuple[Tensor, Tensor]:
        self.check_inputs(inputs)
        x1, x2 = self._split(inputs)
        params = self._conditioner(x1, context)
        law = self._inverse_transform if inverse else self._transform
        y2, logabsdet = law(x2, params)
        return self._merge(x1, y2), logabsdet

    # ---- runs of couplings in split form (used by flowkit.CompositeTransform) ------------------
    @property
    def split_key(self) -> tuple | None:
        """Equal keys mean two couplings split their inputs into the same two slices, so a run
        of them can pass the parts along without merging in between (what a hand-written NICE
        does; it saves a full copy and its gradient per layer). ``None`` when this layer must
        be called as a whole: no slice layout, a subclass that overrides the coupling
        mechanics, or module hooks that would be skipped."""
        cls = type(self)
        if (
            self._layout is None
            or cls.forward is not CouplingTransform.forward
            or cls.inverse is not CouplingTransform.inverse
            or cls._couple is not CouplingTransform._couple
            or self._forward_hooks
            or self._forward_pre_hooks
            or self._backward_hooks
            or self._backward_pre_hooks
        ):
            return None
        return (self.features, self.partition)

    def split_parts(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """``inputs`` as its two slices ``(first, second)``, independent of the parity."""
        self.check_inputs(inputs)
        if self._layout is None:
            raise TypeError(f"{type(self).__name__} has no slice layout; call it as a whole")
        return inputs[:, self._layout[0]], inputs[:, self._layout[1]]

    def couple_parts(
        self, first: Tensor, second: Tensor, context: Tensor | None, inverse: bool
    ) -> tuple[tuple[Tensor, Tensor], Tensor]:
        """This layer (or its inverse) on split inputs: ``((first, second), logabsdet)``."""
        x1, x2 = (first, second) if self.parity == 0 else (second, first)
        params = self._conditioner(x1, context)
        law = self._inverse_transform if inverse else self._transform
        y2, logabsdet = law(x2, params)
        return ((x1, y2) if self.parity == 0 else (y2, x1)), logabsdet

    def merge_parts(self, first: Tensor, second: Tensor) -> Tensor:
        """The inverse of :meth:`split_parts`."""
        return self._merge(*((first, second) if self.parity == 0 else (second, first)))

    def forward(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._couple(inputs, context, inverse=False)

    def inverse(self, inputs: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._couple(inputs, context, inverse=True)

    def _transform(self, x2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        """``g(x2; params)`` and ``log|det dg/dx2|`` (shape [batch]).

        ``x2`` may be a strided view of the inputs: use ``reshape``, not ``view``, on it.
        """
        raise NotImplementedError

    def _inverse_transform(self, y2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        """``g^-1(y2; params)`` and its log|det| (the negation of the forward one)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"features={self.features}, partition={self.partition!r}, parity={self.parity}"


class LawCoupling(CouplingTransform):
    """A flat coupling layer made of parts: a registered law ``g`` and conditioner ``m``.

    ``y2 = g(x2; m(x1))`` (NICE section 3.2), with ``x`` split by index as in
    :class:`CouplingTransform`. The ``nice`` pipeline builds one per layer from ``--coupling``
    (a :class:`flowkit.CouplingLaw` name) and its conditioner (``mlp`` by default).

    :param law: the coupling law, an instance (its options already applied).
    :param conditioner: a registered ``flat`` conditioner class, built as ``conditioner(|x1|,
        |x2| * P, context_features=..., zero_init=..., **options)`` with those of ``hidden``,
        ``depth`` and ``activation`` it accepts; None: NICE's :class:`flowkit.MLP`.
    :param conditioner_options: further options of the conditioner.

    The other parameters are :class:`CouplingTransform`'s.
    """

    name = "law_coupling"
    #: The layer type this class drives laws in; the contract kit builds it with every law
    #: and every conditioner of this type, as ``cls(features, law=..., conditioner=...,
    #: **law_contract_example)``.
    law_layer: ClassVar[str] = "flat"
    law_contract_example: ClassVar[dict[str, Any]] = {"hidden": 8, "depth": 1}

    def __init__(
        self,
        features: int,
        *,
        law: CouplingLaw,
        conditioner: type[nn.Module] | None = None,
        conditioner_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(law, CouplingLaw):
            raise ConfigurationError(f"law must be a flowkit.CouplingLaw instance, got {law!r}")
        if conditioner is not None:
            check_layer(conditioner, "flat", "a flat coupling layer")
        # Read by CouplingTransform.__init__ (plain attributes, set before Module.__init__).
        self.params_per_dim = law.params_per_value  # type: ignore[misc]
        self._conditioner_choice = (conditioner, dict(conditioner_options or {}))
        super().__init__(features, **kwargs)
        self.law = law

    def _build_net(self, in_features: int, out_features: int, **sizes: Any) -> nn.Module:
        cls, given = self._conditioner_choice
        if cls is None:
            return super()._build_net(in_features, out_features, **sizes)
        zero_init = sizes.pop("zero_init")
        return cls(
            in_features,
            out_features,
            context_features=self.context_features,
            zero_init=zero_init,
            **accepted_options(cls, sizes, given),
        )

    @property
    def bounded_scale(self) -> bool:
        """Whether the law keeps the inverse finite at extreme conditioner outputs."""
        return bool(self.law.bounded)

    def _transform(self, x2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return apply_law(self.law, x2, params, inverse=False)

    def _inverse_transform(self, y2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        return apply_law(self.law, y2, params, inverse=True)


@functools.cache
def law_coupling_class(law: type[CouplingLaw]) -> type[LawCoupling]:
    """A whole flat coupling-layer class for ``law``, as coupling classes were before laws:
    ``cls(features, <the law's options>, hidden=..., depth=..., ...)``. What
    ``registry.get("coupling", NAME)`` returns for a law, so that pipelines written for the
    earlier API keep working."""
    law_options = set(constructor_options(law) or {})

    def __init__(self: LawCoupling, features: int, **options: Any) -> None:
        own = {k: options.pop(k) for k in list(options) if k in law_options}
        LawCoupling.__init__(self, features, law=law(**own), **options)

    return type(
        f"{law.__name__}Coupling",
        (LawCoupling,),
        {"name": law.name, "__init__": __init__, "__module__": law.__module__},
    )


__all__ = [
    "PARTITIONS",
    "CouplingTransform",
    "LawCoupling",
    "law_coupling_class",
    "partition_indices",
]
