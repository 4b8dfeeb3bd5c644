"""What every build of the NICE-MNIST model shares: its sizes, the hand-written pieces the peer
builds need (coupling MLP, logistic prior) and :class:`Candidate`, the library-neutral view of
one build.

Kept apart from the builders so that each builder module (``peer_builds_flowkit_torch.py``,
``peer_builds_libraries.py``) and the weight loader in ``peer_models.py`` can import it without
importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FEATURES = 784
COUPLINGS = 4
HIDDEN = 1000
DEPTH = 5  # hidden layers: 6 Linear layers per coupling function


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
