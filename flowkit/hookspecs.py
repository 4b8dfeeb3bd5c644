# mypy: disable-error-code="empty-body"
"""The hooks a flowkit plugin can implement: this module is the plugin author's manual.

A plugin is any importable module (or object) that defines functions decorated with
:data:`flowkit.hookimpl` whose names are listed here. Installed plugins are found through the
``flowkit`` entry-point group::

    # pyproject.toml of your package
    [project.entry-points.flowkit]
    my_spline = "my_package.plugin"

flowkit's own built-in components are registered this way too (``plugins/`` in the source tree),
so everything below is exactly what the built-ins do.

Registration hooks return *classes*, not instances. Each class sets a ``name`` class attribute,
the name users type (``--coupling NAME``); the hook it is returned from decides its kind. A hook
implementation may take no arguments: pluggy passes only the ones it names.

A hook that raises, or a plugin that fails to import, is reported as a warning naming the plugin;
the other plugins keep working. Two plugins returning the same kind and name is an error
(:class:`flowkit.PluginConflictError`) that names both; block one with ``-p no:NAME`` or
``FLOWKIT_DISABLE_PLUGINS=NAME``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    import click

PROJECT_NAME = "flowkit"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# ---- Component registration ------------------------------------------------------------------


@hookspec
def flowkit_register_couplings() -> list[type]:
    """Return coupling-layer classes (kind ``coupling``).

    Subclass :class:`flowkit.CouplingTransform` and implement the coupling law
    ``g(x2; m(x1))`` in ``_transform`` and its inverse in ``_inverse_transform``; the base class
    splits inputs by index, builds the conditioner MLP and reassembles the outputs. The class is
    built as ``cls(features, hidden=..., depth=..., partition=..., parity=...)``, so every extra
    constructor argument must have a default.

    Once registered, ``flowkit run nice --coupling NAME`` and ``flowkit bench --couplings NAME``
    accept it, and ``flowkit.testing`` checks it.
    """


@hookspec
def flowkit_register_permutations() -> list[type]:
    """Return dimension-mixing classes placed before each coupling (kind ``permutation``).

    Each is a :class:`flowkit.Transform` built as ``cls(features, seed=...)``; a fixed
    permutation keeps its indices in buffers so that it moves with ``.to(device)`` and survives a
    state_dict round trip. Learned linear maps (``lu``) belong here too.
    """


@hookspec
def flowkit_register_scalings() -> list[type]:
    """Return element-wise scaling classes placed after the last coupling (kind ``scaling``).

    NICE's diagonal layer ``h = exp(s) * x`` is one; ActNorm is another. Built as
    ``cls(features, target_std=...)``: a layer initialised from data scales each output dimension
    to ``target_std``, the prior's standard deviation (the NICE pipeline passes it). A layer with
    data-dependent initialisation implements :meth:`flowkit.Transform.initialize`.
    """


@hookspec
def flowkit_register_whitenings() -> list[type]:
    """Return whitening classes placed before the first coupling (kind ``whitening``).

    A whitening is part of the flow (its log-determinant counts in the likelihood), fitted on
    training data through :meth:`flowkit.Transform.initialize`. Built as ``cls(features)``.
    """


@hookspec
def flowkit_register_transforms() -> list[type]:
    """Return any other :class:`flowkit.Transform` classes (kind ``transform``).

    Use this for transforms that are not couplings, permutations, scalings or whitenings, such
    as the wrapped nflows transforms. Built as ``cls(features)``.
    """


@hookspec
def flowkit_register_priors() -> list[type]:
    """Return prior (base distribution) classes (kind ``prior``).

    Subclass :class:`flowkit.Prior` and implement ``_log_prob`` and ``_sample``; built as
    ``cls(features)``. Define ``scipy_reference()`` to let the contract kit compare the density
    with SciPy's.
    """


@hookspec
def flowkit_register_datasets() -> list[type]:
    """Return dataset classes (kind ``dataset``).

    Subclass :class:`flowkit.Dataset` and implement ``_load``; built as
    ``cls(data_dir=..., seed=...)``. ``flowkit run --dataset NAME`` accepts the name.
    """


@hookspec
def flowkit_register_pipelines() -> list[type]:
    """Return pipeline classes (kind ``pipeline``): ``flowkit run NAME`` builds its model.

    A pipeline subclasses :class:`flowkit.Pipeline` and builds a :class:`flowkit.Flow` from the
    resolved run configuration and the registry.
    """


@hookspec
def flowkit_register_trackers() -> list[type]:
    """Return experiment-tracker classes (kind ``tracker``): ``flowkit run --track NAME``.

    Subclass :class:`flowkit.Tracker` and implement ``start`` (the run's name, run file and
    resolved configuration, once before the first epoch), ``log_epoch`` (every epoch's metrics)
    and ``finish`` (status and test results, after the run file is complete). Built as
    ``cls(destination)``, with the text after ``=`` in ``--track NAME=DESTINATION`` or ``None``.
    A tracker that raises is switched off with a one-line warning; the run carries on.
    """


# ---- Command line ----------------------------------------------------------------------------


@hookspec
def flowkit_register_commands(cli: click.Group) -> None:
    """Add Click commands to the ``flowkit`` command group.

    :param cli: the top-level :class:`click.Group`; call ``cli.add_command(...)`` or decorate
        functions with ``@cli.command()``.
    """


# ---- Run events ------------------------------------------------------------------------------


@hookspec
def flowkit_run_finished(run_file: str, status: str, results: dict[str, Any]) -> None:
    """Called once when ``flowkit run`` ends, after the run file is complete on disk.

    Use it to send results to an experiment tracker. Exceptions are reported as warnings and do
    not change the run's outcome.

    :param run_file: path of the finished HDF5 run file.
    :param status: ``completed``, ``interrupted`` or ``failed``.
    :param results: the test metrics (``test_log_likelihood_nats``, ``test_bits_per_dim``, ...).
    """


#: Registration hook name -> component kind.
REGISTRATION_HOOKS: dict[str, str] = {
    "flowkit_register_couplings": "coupling",
    "flowkit_register_permutations": "permutation",
    "flowkit_register_scalings": "scaling",
    "flowkit_register_whitenings": "whitening",
    "flowkit_register_transforms": "transform",
    "flowkit_register_priors": "prior",
    "flowkit_register_datasets": "dataset",
    "flowkit_register_pipelines": "pipeline",
    "flowkit_register_trackers": "tracker",
}

__all__ = ["REGISTRATION_HOOKS", "hookimpl", "hookspec"]
