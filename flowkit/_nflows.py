"""nflows' three base modules, loaded without running nflows' package ``__init__`` files.

flowkit's ``Transform``, ``Prior`` and ``Flow`` *are* nflows' base classes, so flowkit components
run inside nflows and the other way round. But ``import nflows.transforms`` (likewise
``nflows.distributions`` and ``nflows.flows``) imports every nflows model, and one of them,
``nflows.nn.nde.made``, imports matplotlib's pyplot at import time: that alone made
``import flowkit`` pull in matplotlib. These three files import only torch, numpy and
``nflows.utils``, so they are loaded here under their usual names. A later ``import
nflows.transforms`` runs the package as usual and reuses these module objects (the import system
looks a dotted name up in ``sys.modules`` before it imports the parents), so every class is one
class and ``isinstance`` works across both libraries.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING


def _load(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    root = importlib.util.find_spec("nflows")  # nflows/__init__.py itself is empty
    if root is None or not root.submodule_search_locations:
        raise ModuleNotFoundError("flowkit needs nflows: pip install nflows", name="nflows")
    relative = name.split(".")[1:]
    path = Path(next(iter(root.submodule_search_locations)), *relative[:-1], f"{relative[-1]}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a broken nflows install
        raise ModuleNotFoundError(f"cannot load {name} from {path}", name=name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    parent = sys.modules.get(name.rpartition(".")[0])
    if parent is not None:
        setattr(parent, relative[-1], module)
    return module


if TYPE_CHECKING:  # the type checker reads the modules by their usual import path
    from nflows.distributions import base as distributions_base
    from nflows.flows import base as flows_base
    from nflows.transforms import base as transforms_base
else:
    distributions_base = _load("nflows.distributions.base")
    transforms_base = _load("nflows.transforms.base")
    flows_base = _load("nflows.flows.base")

__all__ = ["distributions_base", "flows_base", "transforms_base"]
