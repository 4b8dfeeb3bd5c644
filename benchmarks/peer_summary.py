"""The numbers drawn from the timed rounds: one summary row per training configuration and the
headline ratios of flowkit against its closest rival.

Every ratio is a median of per-round ratios (:func:`ratio_median`), never a ratio of medians,
so that drift of the machine between rounds cancels out.
"""

from __future__ import annotations

from flowkit.bench.throughput import median


def ratio_median(numerator: list[float], denominator: list[float]) -> float:
    """Median over rounds of the per-round ratio (robust to the machine's drift)."""
    return median([a / b for a, b in zip(numerator, denominator)])


def summarise(entries, train_values, infer_values, bounds) -> list[dict]:
    rows = []
    for entry in entries:
        name, suffix = entry.infer_name, "_bf16" if entry.autocast is not None else ""
        train = train_values[entry.key]
        log_prob, sample = infer_values[f"{name}/log_prob"], infer_values[f"{name}/sample"]
        rows.append(
            {
                "key": entry.key,
                "build": name,
                "label": entry.build.label,
                "optimizer": entry.optimizer_name,
                "parameters": entry.build.parameter_count,
                "linear_macs": entry.build.linear_macs,
                "rounds": len(train),
                "train_samples_per_s": median(train),
                "train_best_samples_per_s": max(train),
                "log_prob_samples_per_s": median(log_prob),
                "sample_samples_per_s": median(sample),
                "flowkit_train_ratio": ratio_median(train_values["flowkit"], train),
                "flowkit_log_prob_ratio": ratio_median(infer_values["flowkit/log_prob"], log_prob),
                "flowkit_sample_ratio": ratio_median(infer_values["flowkit/sample"], sample),
                "train_fraction_of_bound": ratio_median(train, bounds[entry.bound_name]),
                "log_prob_fraction_of_bound": ratio_median(log_prob, bounds[f"forward{suffix}"]),
                "sample_fraction_of_bound": ratio_median(sample, bounds[f"forward{suffix}"]),
            }
        )
    return rows


def headline_ratios(train_values, infer_values, bounds, builds) -> dict[str, float]:
    """flowkit against its closest rival: for every other build (plain PyTorch included) the
    median of per-round ratios, then the smallest of those."""
    peers = [name for name in builds if name != "flowkit"]
    if not peers:
        return {}

    def versus(values: dict, mine: str, suffix: str) -> float:
        return min(ratio_median(values[mine], values[f"{p}{suffix}"]) for p in peers)

    result = {
        "train_vs_fastest_peer_default_adam": versus(train_values, "flowkit", "/adam"),
        "train_vs_fastest_peer_fused_adam": versus(train_values, "flowkit", "/adam-fused"),
        "train_fraction_of_bound": ratio_median(train_values["flowkit"], bounds["train"]),
        "log_prob_vs_fastest_peer": versus(infer_values, "flowkit/log_prob", "/log_prob"),
        "sample_vs_fastest_peer": versus(infer_values, "flowkit/sample", "/sample"),
    }
    if "flowkit/bf16" in train_values:
        result.update(
            {
                "bf16_train_vs_fastest_peer_default_adam": versus(
                    train_values, "flowkit/bf16", "/adam"
                ),
                "bf16_train_vs_fastest_peer_fused_adam": versus(
                    train_values, "flowkit/bf16", "/adam-fused"
                ),
                "bf16_train_fraction_of_bf16_bound": ratio_median(
                    train_values["flowkit/bf16"], bounds["train_bf16"]
                ),
                "bf16_log_prob_vs_fastest_peer": versus(
                    infer_values, "flowkit-bf16/log_prob", "/log_prob"
                ),
                "bf16_sample_vs_fastest_peer": versus(
                    infer_values, "flowkit-bf16/sample", "/sample"
                ),
            }
        )
    return result
