"""Continuous 2-D points near a line, with two options: size and slope."""

import numpy as np

from flowkit import Dataset, hookimpl


class LineDataset(Dataset):
    name = "line"
    contract_examples = [{"size": 200}, {"size": 100, "slope": -1.0}]

    def __init__(self, *, size=2000, slope=2.0, **common):
        super().__init__(**common)  # data_dir, seed and the split fractions
        self.size, self.slope = int(size), float(slope)

    def _load(self):
        self.levels, self.variant = None, f"synthetic-{self.size}"
        rng = np.random.default_rng(self.seed)
        t = rng.normal(size=(self.size, 1))
        return np.concatenate([t, self.slope * t + 0.1 * rng.normal(size=t.shape)], axis=1)


@hookimpl
def flowkit_register_datasets():
    return [LineDataset]
