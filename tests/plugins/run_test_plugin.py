"""A plugin for the run / eval tests: tiny datasets, a coupling that turns NaN on cue, and a
``flowkit_run_finished`` recorder. Load it with ``load_registry(plugins=[__name__])`` or
``flowkit -p tests.plugins.run_test_plugin``."""

from __future__ import annotations

import numpy as np

from flowkit import CouplingTransform, Dataset, hookimpl

#: ``(run_file, status, results)`` of every ``flowkit_run_finished`` call.
FINISHED: list[tuple[str, str, dict]] = []
#: Set to make the hook raise (the run must still succeed, with a warning).
RAISE_IN_FINISHED = {"on": False}


class TinyGrid(Dataset):
    """4x4 "images" with 8 levels: a per-image brightness plus pixel noise (structure to learn)."""

    name = "tiny-grid"

    def __init__(self, *, size: int = 240, **common) -> None:
        super().__init__(**common)
        self.size = size

    def _load(self) -> np.ndarray:
        size = int(self.size)
        rng = np.random.default_rng(123)
        brightness = rng.integers(1, 7, size=(size, 1, 1))
        noise = rng.integers(-1, 2, size=(size, 4, 4))
        self.levels, self.variant = 8, f"synthetic-{size}"
        return np.clip(brightness + noise, 0, 7)


class TinyLine(Dataset):
    """One-dimensional data: no coupling partition can split it."""

    name = "tiny-line"

    def _load(self) -> np.ndarray:
        self.levels, self.variant = None, "synthetic"
        return np.random.default_rng(0).normal(size=(50, 1))


class NanAfterCoupling(CouplingTransform):
    """Additive coupling whose output becomes NaN after ``after`` training-mode calls."""

    name = "nan-after"

    def __init__(self, features: int, *, after: int = 3, **kwargs) -> None:
        super().__init__(features, **kwargs)
        self.after, self.calls = after, 0

    def _transform(self, x2, params):
        if self.training:
            self.calls += 1
            if self.calls > self.after:
                params = params * float("nan")
        return x2 + params, x2.new_zeros(x2.shape[0])

    def _inverse_transform(self, y2, params):
        return y2 - params, y2.new_zeros(y2.shape[0])


@hookimpl
def flowkit_register_datasets():
    return [TinyGrid, TinyLine]


@hookimpl
def flowkit_register_couplings():
    return [NanAfterCoupling]


@hookimpl
def flowkit_run_finished(run_file, status, results):
    FINISHED.append((run_file, status, dict(results)))
    if RAISE_IN_FINISHED["on"]:
        raise RuntimeError("tracker is down")
