"""Recipes: named run configurations shipped with flowkit (``flowkit run --config NAME``).

A recipe is a config file (see :mod:`flowkit.run.config_file`) stored as package data in
``flowkit/recipes/NAME.toml``; its first comment line is the one-line description that
``flowkit recipes`` lists.
"""

from __future__ import annotations

from importlib import resources

from flowkit.errors import ConfigurationError

#: Package that holds the recipe files.
RECIPE_PACKAGE = "flowkit"
RECIPE_FOLDER = "recipes"


def _folder():
    return resources.files(RECIPE_PACKAGE).joinpath(RECIPE_FOLDER)


def recipe_names() -> list[str]:
    """Names of the shipped recipes, sorted."""
    folder = _folder()
    if not folder.is_dir():
        return []
    return sorted(
        entry.name[: -len(".toml")] for entry in folder.iterdir() if entry.name.endswith(".toml")
    )


def recipe_text(name: str) -> str:
    """The TOML text of recipe ``name`` (a one-line error listing the recipes if unknown)."""
    if name not in recipe_names():
        raise ConfigurationError(
            f"no recipe named {name!r} (recipes: {', '.join(recipe_names()) or 'none'})"
        )
    return _folder().joinpath(f"{name}.toml").read_text(encoding="utf-8")


def recipe_description(name: str) -> str:
    """The first comment line of recipe ``name``, without its ``#``."""
    for line in recipe_text(name).splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


__all__ = ["recipe_description", "recipe_names", "recipe_text"]
