"""The check that every build computes the same function before any of them is timed.

The plain-PyTorch build's weights (with a non-trivial scaling layer) are loaded into every
build; log_prob on the same inputs, the inverse on the same latents and the round trip are then
compared with the reference. A build outside the tolerances stops the run, since timing models
that differ would compare nothing.
"""

from __future__ import annotations

import peer_models
import torch

LOG_PROB_TOLERANCE = 1e-2  # nats, on values near -1150 summed over 784 float32 terms
DECODE_TOLERANCE = 1e-4


@torch.no_grad()
def check_equivalence(builds: dict, device: torch.device) -> dict[str, dict[str, float]]:
    """Load one set of weights everywhere; compare log_prob, the inverse and the round trip."""
    reference = peer_models.build_torch(hidden=_hidden_of(builds), depth=_depth_of(builds))
    torch.manual_seed(1)
    reference.module.s.normal_(0.0, 0.1)  # a non-trivial scaling layer
    reference.module.to(device).eval()
    generator = torch.Generator().manual_seed(2)
    x = torch.rand(256, peer_models.FEATURES, generator=generator).to(device)
    u = torch.rand(256, peer_models.FEATURES, generator=generator).clamp(1e-6, 1 - 1e-6)
    h = (torch.log(u) - torch.log1p(-u)).to(device)
    expected_log_prob, expected_x = reference.log_prob(x), reference.decode(h)
    report = {}
    for name, build in builds.items():
        peer_models.load_reference_weights(reference, build)
        build.module.eval()
        latent = h if build.latent_index is None else h[:, build.latent_index.to(device)]
        log_prob_error = float((build.log_prob(x) - expected_log_prob).abs().max())
        decode_error = float((build.decode(latent) - expected_x).abs().max())
        round_trip = float((build.decode(build.encode(x)) - x).abs().max())
        report[name] = {
            "log_prob_max_abs_diff": log_prob_error,
            "decode_max_abs_diff": decode_error,
            "round_trip_max_abs_error": round_trip,
            "reference_mean_log_prob": float(expected_log_prob.mean()),
        }
        if not (log_prob_error <= LOG_PROB_TOLERANCE and decode_error <= DECODE_TOLERANCE):
            raise SystemExit(
                f"{name} does not compute the reference function: "
                f"log_prob differs by {log_prob_error:.3g}, inverse by "
                f"{decode_error:.3g}"
            )
        build.module.train()
    return report


def _hidden_of(builds: dict) -> int:
    return peer_models.linears(next(iter(builds.values())).nets[0])[0].out_features


def _depth_of(builds: dict) -> int:
    return len(peer_models.linears(next(iter(builds.values())).nets[0])) - 1
