"""A test plugin that registers nflows' own transforms as flowkit components.

flowkit builds every component as ``cls(features, **options)`` and reads ``cls.name``; nflows
transforms are built differently (a mask and a network factory for couplings), so each gets a
tiny adapter subclass. Only nflows parts that work on torch 2.x are used (not ``NaiveLinear`` or
``LULinear``, whose inverses call removed or deprecated solvers).
"""

from __future__ import annotations

import torch
from nflows.nn.nets import ResidualNet
from nflows.transforms.coupling import AdditiveCouplingTransform
from nflows.transforms.normalization import ActNorm
from nflows.transforms.permutations import ReversePermutation

from flowkit import hookimpl


class NflowsReverse(ReversePermutation):
    """``nflows.transforms.permutations.ReversePermutation`` (it already takes ``features``)."""

    name = "nflows_reverse"

    def __init__(self, features: int) -> None:
        super().__init__(features)


class NflowsActNorm(ActNorm):
    """``nflows.transforms.normalization.ActNorm``, with flowkit's data-initialisation API.

    nflows fits it on the first training batch; exposing ``needs_initialization`` and
    ``initialize`` lets flowkit's ``CompositeTransform.initialize`` (and the contract kit) fit it
    explicitly. The ``initialized`` flag is already a buffer in nflows.
    """

    name = "nflows_actnorm"

    @property
    def needs_initialization(self) -> bool:
        return not bool(self.initialized)

    @torch.no_grad()
    def initialize(self, inputs: torch.Tensor) -> None:
        self._initialize(inputs)


class NflowsAdditiveCoupling(AdditiveCouplingTransform):
    """``nflows.transforms.coupling.AdditiveCouplingTransform`` with a ``ResidualNet``.

    :param parity: 0 transforms the odd dimensions, 1 the even ones.
    :param context_features: width of a context fed to the network (``None``: no context).
    """

    name = "nflows_additive"
    contract_examples = [{"hidden": 16}, {"hidden": 8, "blocks": 2, "parity": 1}]

    def __init__(
        self,
        features: int,
        *,
        hidden: int = 16,
        blocks: int = 1,
        parity: int = 0,
        context_features: int | None = None,
    ) -> None:
        transformed = torch.arange(features) % 2 != parity % 2
        mask = torch.where(transformed, 1, -1)

        def make_net(in_features: int, out_features: int) -> ResidualNet:
            return ResidualNet(
                in_features,
                out_features,
                hidden_features=hidden,
                context_features=context_features,
                num_blocks=blocks,
            )

        super().__init__(mask, make_net)


@hookimpl
def flowkit_register_transforms():
    return [NflowsReverse, NflowsActNorm, NflowsAdditiveCoupling]
