"""The two builds of the NICE-MNIST model that need no peer library: flowkit's ``nice``
pipeline (the build under test) and the model written directly in plain PyTorch (the reference
whose weights every other build is given before the equivalence check).
"""

from __future__ import annotations

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
