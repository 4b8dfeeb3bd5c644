"""The NICE-MNIST model built the same way in flowkit, plain PyTorch and four peer libraries.

The model (Dinh, Krueger, Bengio, NICE, arXiv 1410.8516, section 5.1): 784 dimensions, 4
additive coupling layers whose odd/even (interleaved) partition alternates from layer to layer,
each coupling function an MLP ``392 -> 5 x 1000 ReLU -> 392``, a diagonal scaling layer
``h = exp(s) * x`` and a standard logistic prior. Layer ``i`` (data -> latent order) updates the
odd coordinates from the even ones when ``i`` is even, and the even from the odd when ``i`` is odd.

Every builder returns a :class:`Candidate`: the same handful of callables whatever the library,
plus what :func:`load_reference_weights` needs to give every build one set of weights, so the
comparison script can check that they compute the same function before timing them.

This module is the catalogue the benchmark scripts import: :data:`BUILDERS` by name,
:func:`build_all` and :func:`load_reference_weights`. The builders themselves live in
``peer_builds_flowkit_torch.py`` and ``peer_builds_libraries.py``, the shared sizes, pieces and
:class:`Candidate` in ``peer_model_parts.py``; their names are re-exported here.

Peers are optional (``pip install -e .[peers]``); a builder whose library is missing raises
``ImportError`` and the script leaves that build out.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from peer_builds_flowkit_torch import PlainNice, build_flowkit, build_torch
from peer_builds_libraries import build_freia, build_nflows, build_normflows, build_zuko
from peer_model_parts import (
    COUPLINGS,
    DEPTH,
    FEATURES,
    HIDDEN,
    Candidate,
    linears,
    logistic_log_density,
    logistic_noise,
    relu_mlp,
    version_of,
)

__all__ = [
    "BUILDERS",
    "COUPLINGS",
    "DEPTH",
    "FEATURES",
    "HIDDEN",
    "Candidate",
    "PlainNice",
    "build_all",
    "build_flowkit",
    "build_freia",
    "build_nflows",
    "build_normflows",
    "build_torch",
    "build_zuko",
    "linears",
    "load_reference_weights",
    "logistic_log_density",
    "logistic_noise",
    "relu_mlp",
    "version_of",
]

BUILDERS: dict[str, Callable[..., Candidate]] = {
    "flowkit": build_flowkit,
    "torch": build_torch,
    "nflows": build_nflows,
    "normflows": build_normflows,
    "zuko": build_zuko,
    "freia": build_freia,
}


def build_all(names: list[str], hidden: int, depth: int) -> tuple[dict, dict]:
    """Build ``names`` (each from seed 0); returns the builds and, per missing library, why."""
    builds, missing = {}, {}
    for name in names:
        torch.manual_seed(0)
        try:
            builds[name] = BUILDERS[name](hidden=hidden, depth=depth)
        except ImportError as err:
            missing[name] = str(err)
    return builds, missing


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
