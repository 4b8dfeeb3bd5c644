"""What flowkit refuses in an HDF5 file before it reads a value from it.

HDF5 follows some links and layouts inside the library, where no Python check runs: an
external link opens another file, a virtual dataset reads other datasets (of other files, or
of the same one: one mapped onto itself crashes the library with SIGSEGV), a dataset with
external storage reads raw files named in it (``../../anything``), and a user-defined link runs
whatever its link class does. flowkit writes none of them, and data has no need of them, so
every reader (run files, their checkpoints, bench files, a user's ``.h5`` data) refuses a file
that holds any, before it reads anything but the root's attributes.

Soft links stay allowed: a soft link names a path of the same file, and with no external or
user-defined link anywhere in it, every path resolves inside the file (a soft link that loops
or points nowhere is an ordinary lookup error). The walk dereferences no link: it visits the
objects reachable through hard links, each once (so a hard-link cycle ends), and reads the
class of every link of every group it visits, and the layout of every dataset.

This module is core (a plugin's dataset reads HDF5 too) and imports h5py only when called, so
that ``import flowkit`` stays light.
"""

from __future__ import annotations

from typing import Any

#: Longest object name quoted in a refusal.
_MAX_NAME = 120
_OUTSIDE = "flowkit reads nothing outside the file"


def hdf5_hazard(node: Any) -> str | None:
    """The first link or dataset under ``node`` (an open ``h5py`` file, group or dataset) that
    makes HDF5 read outside plain datasets of this file, as a sentence; ``None`` if none."""
    import h5py

    if isinstance(node, h5py.Dataset):
        return _dataset_hazard(node)
    found: list[str] = []

    def visit(name: str, item: Any) -> bool | None:
        if isinstance(item, h5py.Group):
            problem = _links_hazard(item)
        elif isinstance(item, h5py.Dataset):
            problem = _dataset_hazard(item)
        else:  # a committed datatype: nothing is read through it
            problem = None
        if problem:
            found.append(problem)
            return True  # stops the walk
        return None

    if visit(node.name, node) is None:
        node.visititems(visit)  # H5Ovisit: hard links only, every object once
    return found[0] if found else None


def display_name(name: str | bytes, path: bool = True) -> str:
    """``name`` on one line, for a message (an object ``path`` without its leading ``/``)."""
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    text = (name.lstrip("/") or "/") if path else name
    text = text if text.isprintable() else ascii(text)
    return text if len(text) <= _MAX_NAME else text[: _MAX_NAME - 3] + "..."


def _links_hazard(group: Any) -> str | None:
    """The first external or user-defined link of ``group`` (its own links, not followed)."""
    from h5py import h5l

    for raw in group.id:  # link names (bytes), in the group's own order
        kind = group.id.links.get_info(raw).type
        if kind in (h5l.TYPE_HARD, h5l.TYPE_SOFT):
            continue
        where = display_name(f"{group.name.rstrip('/')}/{raw.decode('utf-8', 'replace')}")
        if kind == h5l.TYPE_EXTERNAL:
            file, path = (display_name(part, False) for part in group.id.links.get_val(raw))
            return f"{where} is an external link to {file}:{path}; {_OUTSIDE}"
        return f"{where} is a user-defined link (class {int(kind)}); flowkit follows none"
    return None


def _dataset_hazard(dataset: Any) -> str | None:
    from h5py import h5d

    where = display_name(dataset.name or "(anonymous dataset)")
    plist = dataset.id.get_create_plist()
    if plist.get_layout() == h5d.VIRTUAL:
        return (
            f"{where} is a virtual dataset (its values are read from other datasets); "
            "flowkit reads plain datasets only"
        )
    if plist.get_external_count():
        first = display_name(plist.get_external(0)[0], False)
        return f"{where} keeps its values in external files ({first}...); {_OUTSIDE}"
    return None


__all__ = ["display_name", "hdf5_hazard"]
