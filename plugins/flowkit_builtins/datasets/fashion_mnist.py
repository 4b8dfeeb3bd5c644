"""Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): 28 x 28 grey images of clothing, 256 levels.

A drop-in replacement for MNIST with the same file format and sizes (60,000 training and 10,000
test images, ten classes), and a harder density: NICE's MNIST settings (section 5) apply as
they are. The four IDX files are read from ``data_dir``, else from the directory named by
``FLOWKIT_FASHION_MNIST_DIR``, else from where Debian's package ``dataset-fashion-mnist`` puts
them (``/usr/share/datasets/fashion-mnist``). There is no download and no fallback: missing
files are a :class:`~flowkit.DataError` that says how to install them.
"""

from __future__ import annotations

import os
from pathlib import Path

from flowkit import DataError, Splits

from .common import claim_options
from .mnist import MNIST, MNIST_FILES, REQUIRED, find_mnist_files, search_directories

ENV_VAR = "FLOWKIT_FASHION_MNIST_DIR"
#: Where ``apt-get install dataset-fashion-mnist`` installs the IDX files.
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
TITLE = "Fashion-MNIST"
HOW_TO_INSTALL = (
    "install it with `apt-get install dataset-fashion-mnist` (files go to "
    f"{SYSTEM_DIR}), or pass --data-dir FOLDER holding its four IDX files"
)


class FashionMNIST(MNIST):
    """Fashion-MNIST, 28 x 28 pixels with 256 levels, read from its four IDX files.

    Splits as full MNIST: the official 10,000 test images, and a seeded ``validation_fraction``
    cut off the 60,000 training images. ``labels`` holds the clothing classes per split after
    :meth:`load` (when the label files are present).
    """

    name = "fashion-mnist"
    description = "Fashion-MNIST clothing images, 28x28, 256 levels (IDX files; apt package)"
    # Needs the IDX files: tests/test_fashion_mnist.py runs the kit on a miniature folder.
    contract_examples = None
    contract_skip_reason = "reads Fashion-MNIST's IDX files (checked on a miniature copy)"

    def __init__(self, **common) -> None:
        super(MNIST, self).__init__(**common)  # MNIST's own option (variant) does not apply
        claim_options(self)
        self.labels: Splits | None = None

    def _roots(self) -> list[tuple[Path, str]]:
        if self.data_dir is not None:
            return [(Path(self.data_dir), "--data-dir")]
        if os.environ.get(ENV_VAR):
            return [(Path(os.environ[ENV_VAR]), ENV_VAR)]
        return [(SYSTEM_DIR, "the dataset-fashion-mnist package's folder")]

    def _load(self) -> Splits:
        roots = self._roots()
        directories = [d for root, _ in roots for d in search_directories(root)]
        found = find_mnist_files(directories)
        missing = [role for role in REQUIRED if role not in found]
        if missing:
            names = ", ".join(f"{MNIST_FILES[r]}[.gz]" for r in missing)
            (root, origin), *_ = roots
            raise DataError(
                f"{TITLE} not found in {root} ({origin}): missing {names}; {HOW_TO_INSTALL}"
            )
        splits = self._load_full(found)
        self.extra["title"] = TITLE
        return splits


__all__ = ["ENV_VAR", "HOW_TO_INSTALL", "SYSTEM_DIR", "TITLE", "FashionMNIST"]
