"""The NICE-MNIST model built in the four peer libraries: nflows, normflows, zuko and FrEIA.

Each builder imports its library inside the function, so a missing library raises
``ImportError`` only when that build is asked for (``peer_models.build_all`` then leaves it
out). What a library lacks (a logistic prior, NICE's scaling layer, an interleaved split) is
written here by hand from the pieces in ``peer_model_parts.py``.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from peer_model_parts import (
    COUPLINGS,
    DEPTH,
    FEATURES,
    HIDDEN,
    Candidate,
    logistic_log_density,
    logistic_noise,
    relu_mlp,
    version_of,
)
from torch import Tensor, nn


# ---- nflows -------------------------------------------------------------------------------------
def build_nflows(hidden: int = HIDDEN, depth: int = DEPTH) -> Candidate:
    from nflows.distributions.base import Distribution
    from nflows.flows.base import Flow
    from nflows.transforms.base import CompositeTransform, Transform
    from nflows.transforms.coupling import AdditiveCouplingTransform

    class Conditioner(nn.Module):
        """nflows calls ``net(x, context)``; its own MLP takes no context."""

        def __init__(self, inputs: int, outputs: int) -> None:
            super().__init__()
            self.body = relu_mlp(inputs, outputs, hidden, depth)

        def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
            return self.body(x)

    class ExpScale(Transform):  # nflows has no learnable NICE scaling layer
        def __init__(self) -> None:
            super().__init__()
            self.s = nn.Parameter(torch.zeros(FEATURES))

        def forward(self, inputs, context=None):
            return inputs * torch.exp(self.s), self.s.sum().expand(inputs.shape[0])

        def inverse(self, inputs, context=None):
            return inputs * torch.exp(-self.s), (-self.s.sum()).expand(inputs.shape[0])

    class Logistic(Distribution):  # nflows ships no logistic distribution
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("anchor", torch.zeros(()), persistent=False)

        def _log_prob(self, inputs, context):
            return logistic_log_density(inputs)

        def _sample(self, num_samples, context):
            return logistic_noise(num_samples, FEATURES, self.anchor)

    couplings = []
    for i in range(COUPLINGS):
        # nflows: mask > 0 marks the transformed coordinates.
        transformed = torch.arange(FEATURES) % 2 == (1 if i % 2 == 0 else 0)
        couplings.append(AdditiveCouplingTransform(transformed.int(), Conditioner))
    scale = ExpScale()
    transform = CompositeTransform([*couplings, scale])
    flow = Flow(transform, Logistic())
    return Candidate(
        key="nflows",
        label=f"nflows {version_of('nflows')}",
        module=flow,
        log_prob=flow.log_prob,
        sample=flow.sample,
        encode=flow.transform_to_noise,
        decode=lambda h: transform.inverse(h)[0],
        nets=[c.transform_net.body for c in couplings],
        set_log_scale=scale.s.data.copy_,
        notes=[
            "conditioner wrapped to accept a context; custom scaling Transform and "
            "logistic Distribution (nflows ships neither)"
        ],
    )


# ---- normflows ----------------------------------------------------------------------------------
def build_normflows(hidden: int = HIDDEN, depth: int = DEPTH) -> Candidate:
    import normflows as nf

    class Logistic(nf.distributions.BaseDistribution):  # normflows ships none
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("anchor", torch.zeros(()))

        def forward(self, num_samples=1, context=None):
            z = logistic_noise(num_samples, FEATURES, self.anchor)
            return z, logistic_log_density(z)

        def log_prob(self, z, context=None):
            return logistic_log_density(z)

    # normflows flows run latent -> data; log_prob applies their inverses from the last flow
    # to the first. Its AffineCoupling inverse is x2 - t(x1): m enters with a minus sign.
    couplings = [
        nf.flows.AffineCouplingBlock(
            nf.nets.MLP([FEATURES // 2] + [hidden] * depth + [FEATURES // 2]),
            scale=False,
            # conditioning half z1: even coordinates ("checkerboard_inv") for layers 0, 2
            split_mode="checkerboard_inv" if i % 2 == 0 else "checkerboard",
        )
        for i in range(COUPLINGS)
    ]
    scale = nf.flows.AffineConstFlow((FEATURES,), scale=True, shift=False)
    model = nf.NormalizingFlow(q0=Logistic(), flows=[scale, *reversed(couplings)])
    return Candidate(
        key="normflows",
        label=f"normflows {version_of('normflows')}",
        module=model,
        log_prob=model.log_prob,
        sample=lambda n: model.sample(n)[0],
        encode=model.inverse,
        decode=model.forward,
        nets=[c.flows[1].param_map for c in couplings],
        set_log_scale=lambda s: scale.s.data.copy_(-s.view(1, -1)),
        negated=True,
        notes=[
            "AffineCouplingBlock(scale=False) with checkerboard split; flows defined in the "
            "sampling direction (s and m enter negated); custom logistic BaseDistribution"
        ],
    )


# ---- zuko ---------------------------------------------------------------------------------------
def build_zuko(hidden: int = HIDDEN, depth: int = DEPTH) -> Candidate:
    from torch.distributions import AffineTransform, Distribution, constraints
    from zuko.flows import (
        Flow,
        GeneralCouplingTransform,
        UnconditionalDistribution,
        UnconditionalTransform,
    )
    from zuko.transforms import AdditiveTransform

    class Logistic(Distribution):  # zuko ships none
        arg_constraints: ClassVar[dict] = {}
        support = constraints.real_vector
        has_rsample = True

        def __init__(self, anchor: Tensor) -> None:
            self.anchor = anchor
            super().__init__(event_shape=anchor.shape, validate_args=False)

        def log_prob(self, value):
            return logistic_log_density(value)

        def rsample(self, sample_shape=torch.Size()):
            n = math.prod(sample_shape)
            return logistic_noise(n, FEATURES, self.anchor).reshape(*sample_shape, FEATURES)

    couplings = [
        # zuko: mask True marks the conditioning (constant) coordinates
        GeneralCouplingTransform(
            FEATURES,
            mask=torch.arange(FEATURES) % 2 == (i % 2),
            univariate=AdditiveTransform,
            shapes=((),),
            hidden_features=[hidden] * depth,
        )
        for i in range(COUPLINGS)
    ]
    scale = UnconditionalTransform(
        lambda s: AffineTransform(0.0, s.exp(), event_dim=1), torch.zeros(FEATURES)
    )
    flow = Flow(
        [*couplings, scale],
        UnconditionalDistribution(Logistic, torch.zeros(FEATURES), buffer=True),
    )
    return Candidate(
        key="zuko",
        label=f"zuko {version_of('zuko')}",
        module=flow,
        log_prob=lambda x: flow().log_prob(x),
        sample=lambda n: flow().sample((n,)),
        encode=lambda x: flow().transform(x),
        decode=lambda h: flow().transform.inv(h),
        nets=[c.hyper for c in couplings],
        set_log_scale=lambda s: next(scale.parameters()).data.copy_(s),
        notes=[
            "GeneralCouplingTransform(univariate=AdditiveTransform) (zuko.flows.NICE is "
            "affine); scale via a torch AffineTransform; custom logistic Distribution"
        ],
    )


# ---- FrEIA --------------------------------------------------------------------------------------
def build_freia(hidden: int = HIDDEN, depth: int = DEPTH) -> Candidate:
    import FrEIA.framework as Ff
    import FrEIA.modules as Fm

    # FrEIA splits into contiguous halves; a fixed permutation to [odd | even] makes the two-sided
    # NICECouplingBlock's first half the odd coordinates: y1 = odd + F(even), y2 = even + G(y1).
    order = torch.cat([torch.arange(1, FEATURES, 2), torch.arange(0, FEATURES, 2)])

    class OddEven(Fm.InvertibleModule):
        def __init__(self, dims_in, dims_c=None):
            super().__init__(dims_in, dims_c)
            self.register_buffer("order", order.clone())
            self.register_buffer("undo", torch.argsort(order))

        def forward(self, x, c=(), rev=False, jac=True):
            return (x[0].index_select(1, self.undo if rev else self.order),), 0.0

        def output_dims(self, input_dims):
            return input_dims

    inn = Ff.SequenceINN(FEATURES)
    inn.append(OddEven)
    for _ in range(COUPLINGS // 2):
        inn.append(
            Fm.NICECouplingBlock, subnet_constructor=lambda i, o: relu_mlp(i, o, hidden, depth)
        )
    inn.append(Fm.LearnedElementwiseScaling)
    anchor = inn[3].s

    def log_prob(x: Tensor) -> Tensor:
        z, log_det = inn(x)
        return logistic_log_density(z) + log_det

    def sample(n: int) -> Tensor:
        # jac=False fails with LearnedElementwiseScaling (it returns None); ask for it anyway.
        return inn(logistic_noise(n, FEATURES, anchor), rev=True, jac=True)[0]

    return Candidate(
        key="freia",
        label=f"FrEIA {version_of('FrEIA')}",
        module=inn,
        log_prob=log_prob,
        sample=sample,
        encode=lambda x: inn(x)[0],
        decode=lambda h: inn(h, rev=True)[0],
        nets=[inn[1].F, inn[1].G, inn[2].F, inn[2].G],
        set_log_scale=lambda s: anchor.data.copy_(s[order].view(1, -1)),
        latent_index=order,
        notes=[
            "2 two-sided NICECouplingBlocks = 4 couplings; a fixed odd/even permutation module "
            "turns its halves split into the interleaved one; LearnedElementwiseScaling; "
            "prior written by hand (FrEIA has no distributions)"
        ],
    )
