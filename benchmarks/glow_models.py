"""The two Glow models of ``glow_peers.py``: flowkit's ``glow`` pipeline and normflows' equal.

See ``glow_peers.py`` for what is compared and how; this module only builds the contenders,
each a model with ``log p(x)`` of flat ``[B, D]`` rows in [0, 1), and checks that both logit
preprocessing layers compute the same thing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from flowkit import __version__ as flowkit_version
from flowkit.train.precision import Precision, resolve_precision

CONTENDERS = ("flowkit", "flowkit-bf16", "normflows")  # flowkit-bf16: --precision bf16-mixed
SPLITS = ("channel", "channel_inv")  # normflows' names of flowkit's parities 0 and 1


@dataclass
class Contender:
    """A model and its ``log p(x)`` of flat ``[B, D]`` rows in [0, 1)."""

    name: str
    module: nn.Module
    version: str
    shape: tuple[int, ...] = ()
    precision: Precision | None = None  # flowkit's training-step policy (None: float32)

    def log_prob(self, x: Tensor) -> Tensor:
        if self.name.startswith("flowkit"):
            return self.module.log_prob(x)
        return self.module.log_prob(x.view(x.shape[0], *self.shape), None)

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters() if p.requires_grad)

    @torch.no_grad()
    def initialize(self, sample: Tensor) -> None:
        if self.name.startswith("flowkit"):
            self.module.transform.initialize(sample)  # what flowkit's TrainingLoop does
        else:
            self.module.log_prob(sample.view(sample.shape[0], *self.shape), None)


def build_flowkit(registry, event_shape, args) -> Contender:
    torch.manual_seed(args.seed)
    pipeline = registry.get("pipeline", "glow")()
    options = {"levels": args.levels, "steps": args.flow_steps, "hidden": args.hidden}
    options.update(logit_alpha=args.alpha, scale_bound=args.scale_bound)
    flow = pipeline.build_for(registry, event_shape, pipeline.resolve(**options))
    return Contender("flowkit", flow, flowkit_version)


def build_flowkit_bf16(registry, event_shape, args) -> Contender:
    """The same model (same seed, same weights), trained as ``--precision bf16-mixed`` does."""
    c = build_flowkit(registry, event_shape, args)
    policy = resolve_precision("bf16-mixed", "cpu")
    return Contender("flowkit-bf16", c.module, f"{flowkit_version} bf16-mixed", precision=policy)


def build_normflows(registry, event_shape, args) -> Contender:
    """normflows' Glow: its lists run from the coarsest level (index 0) to the data, and each
    level's flows in generative order, so a level reads [blocks (last step first), Squeeze]."""
    import normflows as nf

    torch.manual_seed(args.seed)
    c, h, w = shape = (1, *event_shape) if len(event_shape) == 2 else tuple(event_shape)
    levels, priors = [], []
    for index in range(args.levels):
        c, h, w = 4 * c, h // 2, w // 2
        block = functools.partial(nf.flows.GlowBlock, c, args.hidden, scale_map=args.scale_map)
        blocks = [block(split_mode=SPLITS[step % 2]) for step in range(args.flow_steps)]
        levels.append([*reversed(blocks), nf.flows.Squeeze()])
        last = index == args.levels - 1
        # normflows' Merge keeps the first half of the channels and factors out the second.
        priors.append(nf.distributions.GlowBase((c if last else c // 2, h, w)))
        c = c if last else c - c // 2
    merges = [nf.flows.Merge() for _ in range(args.levels - 1)]
    logit = nf.transforms.Logit(alpha=args.alpha)
    model = nf.MultiscaleFlow(priors[::-1], levels[::-1], merges, logit, class_cond=False)
    return Contender("normflows", model, nf.__version__, shape)


BUILDERS = {"flowkit": build_flowkit, "flowkit-bf16": build_flowkit_bf16}
BUILDERS["normflows"] = build_normflows


def check_logit(registry, event_shape, alpha: float, x: Tensor) -> dict[str, float]:
    """flowkit's and normflows' logit on the same inputs: outputs and log-dets."""
    import normflows as nf

    shape = (1, *event_shape) if len(event_shape) == 2 else tuple(event_shape)
    mine = registry.get("transform", "logit")(event_shape=shape, alpha=alpha)
    y, logdet = mine(x)
    y_nf, logdet_nf = nf.transforms.Logit(alpha=alpha).inverse(x.view(-1, *shape))
    return {
        "output_max_abs_diff": float((y - y_nf.flatten(1)).abs().max()),
        "logdet_max_abs_diff": float((logdet - logdet_nf).abs().max()),
    }


__all__ = ["BUILDERS", "CONTENDERS", "Contender", "check_logit"]
