"""The NICE-MNIST model built the same way in flowkit, plain PyTorch and four peer libraries.

The model (Dinh, Krueger, Bengio, NICE, arXiv 1410.8516, section 5.1): 784 dimensions, 4
additive coupling layers whose odd/even (interleaved) partition alternates from layer to layer,
each coupling function an MLP ``392 -> 5 x 1000 ReLU -> 392``, a diagonal scaling layer
``h = exp(s) * x`` and a standard logistic prior. Layer ``i`` (data -> latent order) updates the
odd coordinates from the even ones when ``i`` is even, and the even from the odd when ``i`` is odd.

Every builder returns a :class:`Candidate`: the same handful of callables whatever the library,
plus what :func:`load_reference_weights` needs to give every build one set of weights, so the
comparison script can check that they compute the same function before timing them.

Peers are optional (``pip install -e .[peers]``); a builder whose library is missing raises
``ImportError`` and the script leaves that build out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FEATURES = 784
COUPLINGS = 4
HIDDEN = 1000
DEPTH = 5  # hidden layers: 6 Linear layers per coupling function


# ---- pieces shared by the hand-written parts of the peer builds -------------------------------
def relu_mlp(inputs: int, outputs: int, hidden: int = HIDDEN, depth: int = DEPTH) -> nn.Sequential:
    """NICE's coupling function ``m``: ``depth`` ReLU layers of width ``hidden``, linear output."""
    widths = [inputs] + [hidden] * depth
    layers: list[nn.Module] = []
    for width_in, width_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(width_in, width_out), nn.ReLU()]
    layers.append(nn.Linear(widths[-1], outputs))
    return nn.Sequential(*layers)


def logistic_log_density(h: Tensor) -> Tensor:
    """Standard logistic, summed over dimensions: ``-sum softplus(h) + softplus(-h)``."""
    return -(F.softplus(h) + F.softplus(-h)).sum(dim=1)


def logistic_noise(n: int, features: int, like: Tensor) -> Tensor:
    """``n`` standard logistic draws by the inverse CDF, on ``like``'s device and dtype."""
    u = torch.rand(n, features, device=like.device, dtype=like.dtype)
    u = u.clamp(torch.finfo(like.dtype).tiny, 1.0 - torch.finfo(like.dtype).eps)
    return torch.log(u) - torch.log1p(-u)


def linears(module: nn.Module) -> list[nn.Module]:
    """Linear layers in creation order (zuko's ``Linear`` is not an ``nn.Linear``: duck-typed)."""
    return [
        m
        for m in module.modules()
        if all(hasattr(m, a) for a in ("in_features", "out_features", "weight", "bias"))
    ]


def version_of(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "?"


@dataclass
class Candidate:
    """One build of the model, seen through a library-neutral interface.

    ``nets`` are the 4 coupling functions in data -> latent order; ``negated`` says the library
    subtracts ``m`` going data -> latent (so equal functions need negated last layers);
    ``set_log_scale`` loads NICE's ``s``; ``latent_index`` is the latent ordering when the
    library's latent vector is a permutation of NICE's (FrEIA), else None.
    """

    key: str
    label: str
    module: nn.Module
    log_prob: Callable[[Tensor], Tensor]
    sample: Callable[[int], Tensor]
    encode: Callable[[Tensor], Tensor]
    decode: Callable[[Tensor], Tensor]
    nets: list[nn.Module]
    set_log_scale: Callable[[Tensor], None]
    negated: bool = False
    latent_index: Tensor | None = None
    notes: list[str] = field(default_factory=list)

    def parameters(self) -> list[nn.Parameter]:
        """Trainable floating-point parameters (FrEIA keeps index tensors as Parameters)."""
        return [p for p in self.module.parameters() if p.requires_grad and p.is_floating_point()]

    @property
    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @property
    def linear_macs(self) -> int:
        """Multiply-accumulates per example of all linear layers in one pass."""
        return sum(m.in_features * m.out_features for m in linears(self.module))

    def train(self, mode: bool = True) -> None:
        self.module.train(mode)


# ---- flowkit ------------------------------------------------------------------------------------
def build_flowkit(hidden: int = HIDDEN, depth: int = DEPTH, registry=None) -> Candidate:
    """flowkit's ``nice`` pipeline with the paper's MNIST settings, through the registry."""
    from flowkit import load_registry

    registry = registry or load_registry()
    pipeline = registry.get("pipeline", "nice")()
    config = pipeline.resolve(
        coupling="additive",
        layers=COUPLINGS,
        hidden=hidden,
        depth=depth,
        partition="interleaved",
        scaling="diagonal",
        prior="logistic",
    )
    flow = pipeline.build(registry, FEATURES, config)
    couplings = [t for t in flow.transform if hasattr(t, "net")]
    scaling = flow.transform[len(flow.transform) - 1]

    def set_log_scale(s: Tensor) -> None:
        scaling.log_scale.copy_(s)
        if getattr(scaling, "initialized", None) is not None:
            scaling.initialized.fill_(True)  # loaded weights: no data-dependent re-fit

    return Candidate(
        key="flowkit",
        label=f"flowkit {version_of('flowkit')}",
        module=flow,
        log_prob=flow.log_prob,
        sample=flow.sample,
        encode=flow.encode,
        decode=flow.decode,
        nets=[c.net for c in couplings],
        set_log_scale=set_log_scale,
        notes=[
            "registry.get('pipeline', 'nice')().build(registry, 784, config): additive "
            "couplings, interleaved partition, diagonal scaling, logistic prior"
        ],
    )


# ---- plain PyTorch ------------------------------------------------------------------------------
class PlainNice(nn.Module):
    """The model written directly in PyTorch, split by strided views (no library)."""

    def __init__(self, hidden: int = HIDDEN, depth: int = DEPTH) -> None:
        super().__init__()
        self.m = nn.ModuleList(
            relu_mlp(FEATURES // 2, FEATURES // 2, hidden, depth) for _ in range(COUPLINGS)
        )
        self.s = nn.Parameter(torch.zeros(FEATURES))

    def encode(self, x: Tensor) -> Tensor:
        even, odd = x[:, 0::2], x[:, 1::2]
        for i, m in enumerate(self.m):
            if i % 2 == 0:
                odd = odd + m(even)
            else:
                even = even + m(odd)
        return torch.stack((even, odd), dim=2).flatten(1) * torch.exp(self.s)

    def decode(self, h: Tensor) -> Tensor:
        x = h * torch.exp(-self.s)
        even, odd = x[:, 0::2], x[:, 1::2]
        for i in reversed(range(COUPLINGS)):
            if i % 2 == 0:
                odd = odd - self.m[i](even)
            else:
                even = even - self.m[i](odd)
        return torch.stack((even, odd), dim=2).flatten(1)

    def log_prob(self, x: Tensor) -> Tensor:
        return logistic_log_density(self.encode(x)) + self.s.sum()

    def sample(self, n: int) -> Tensor:
        return self.decode(logistic_noise(n, FEATURES, self.s))


def build_torch(hidden: int = HIDDEN, depth: int = DEPTH) -> Candidate:
    model = PlainNice(hidden, depth)
    return Candidate(
        key="torch",
        label=f"plain PyTorch {torch.__version__.split('+')[0]}",
        module=model,
        log_prob=model.log_prob,
        sample=model.sample,
        encode=model.encode,
        decode=model.decode,
        nets=list(model.m),
        set_log_scale=model.s.data.copy_,
        notes=["hand-written, strided-view split; the reference for the weight check"],
    )


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


BUILDERS: dict[str, Callable[..., Candidate]] = {
    "flowkit": build_flowkit,
    "torch": build_torch,
    "nflows": build_nflows,
    "normflows": build_normflows,
    "zuko": build_zuko,
    "freia": build_freia,
}


@torch.no_grad()
def load_reference_weights(reference: Candidate, target: Candidate) -> None:
    """Give ``target`` the weights of the plain-PyTorch ``reference`` (same function after)."""
    if not isinstance(reference.module, PlainNice):
        raise TypeError("the reference must be the plain PyTorch build")
    for net_from, net_to in zip(reference.nets, target.nets, strict=True):
        layers_from, layers_to = linears(net_from), linears(net_to)
        if len(layers_from) != len(layers_to):
            raise ValueError(f"{target.key}: coupling MLPs differ in depth")
        last = len(layers_from) - 1
        for position, (a, b) in enumerate(zip(layers_from, layers_to)):
            sign = -1.0 if position == last and target.negated else 1.0
            b.weight.copy_(sign * a.weight)
            b.bias.copy_(sign * a.bias)
    target.set_log_scale(reference.module.s.detach().clone())
