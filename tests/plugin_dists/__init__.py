"""Small broken or clashing flowkit plugins, each installed as a real distribution.

Every folder here is the source of one distribution (``DISTS`` gives its name, version and
``flowkit`` entry points). :func:`install` copies the chosen ones into a test's temporary
folder, writes their ``*.dist-info`` (METADATA and ``entry_points.txt``), so that
``importlib.metadata`` finds them exactly as it finds a ``pip install``-ed plugin, and puts the
folder on ``sys.path`` for that test only (the ``install_dists`` fixture in tests/conftest.py
removes it and the imported modules afterwards). Nothing here is ever installed into the
environment, so no other test sees these plugins.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

#: folder -> (distribution name, version, {entry-point name: module})
DISTS: dict[str, tuple[str, str, dict[str, str]]] = {
    # entry-point name that the built-ins used before they had the "flowkit." prefix
    "fk_third_priors": ("fk-third-priors", "1.0", {"priors": "fk_third_priors"}),
    # two distributions that use the same entry-point name
    "fk_twin_a": ("fk-twin-a", "1.0", {"twin": "fk_twin_a"}),
    "fk_twin_b": ("fk-twin-b", "2.0", {"twin": "fk_twin_b"}),
    # registers the built-in coupling name "additive", and a prior of its own
    "fk_clash": ("fk-clash", "0.3", {"clash": "fk_clash"}),
    # registration hooks returning an instance, a function, a class without a name
    "fk_bad_returns": ("fk-bad-returns", "0.1", {"bad-returns": "fk_bad_returns"}),
    "fk_misspelled": ("fk-misspelled", "0.1", {"misspelled": "fk_misspelled"}),
    "fk_listener_raises": ("fk-listener-raises", "0.1", {"listener-raises": "fk_listener_raises"}),
    "fk_listener_ok": ("fk-listener-ok", "0.1", {"listener-ok": "fk_listener_ok"}),
    "fk_broken_import": ("fk-broken-import", "0.1", {"broken-import": "fk_broken_import"}),
    # a coupling, a command and a listener: what `flowkit plugins` must list
    "fk_contrib": ("fk-contrib", "0.2", {"contrib": "fk_contrib"}),
    # a whole CouplingTransform subclass, the way coupling plugins were written before laws
    "fk_oldstyle": ("fk-oldstyle", "0.1", {"oldstyle": "fk_oldstyle"}),
    # a prior, a permutation and a dataset whose constructors take options
    "fk_options": ("fk-options", "0.1", {"options": "fk_options"}),
}


def install(names: tuple[str, ...], root: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Install the distributions ``names`` under ``root``; returns their top-level modules."""
    modules = []
    for folder in names:
        distribution, version, entry_points = DISTS[folder]
        target = root / folder
        shutil.copytree(HERE / folder, target, ignore=shutil.ignore_patterns("__pycache__"))
        info = target / f"{distribution.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
        )
        lines = "".join(f"{name} = {module}\n" for name, module in entry_points.items())
        (info / "entry_points.txt").write_text(f"[flowkit]\n{lines}")
        monkeypatch.syspath_prepend(str(target))
        modules.extend(module.split(".")[0] for module in entry_points.values())
    return modules
