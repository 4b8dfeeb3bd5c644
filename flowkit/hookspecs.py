# mypy: disable-error-code="empty-body"
"""The hooks a flowkit plugin can implement: this module is the plugin author's reference.

The hook reference in ``docs/plugins.md`` is generated from these docstrings (``python
docs/hook_reference.py``) and a test checks that the two agree.

A plugin is any importable module (or object) that defines functions decorated with
:data:`flowkit.hookimpl` whose names are listed here. Installed plugins are found through the
``flowkit`` entry-point group::

    # pyproject.toml of your package
    [project.entry-points.flowkit]
    my_spline = "my_package.plugin"

flowkit's own built-in components are registered this way too (``plugins/`` in the source tree,
entry points named ``flowkit.*``, a prefix no other plugin may use), so everything below is
exactly what the built-ins do.

Registration hooks return a list of *classes*, not instances. Each class sets a ``name`` class
attribute, the name users type (``--coupling NAME``); the hook it is returned from decides its
kind. A hook implementation may take fewer arguments than the hook has: pluggy passes only the
ones it names.

A plugin is isolated from the others: one that fails to import, a hook that raises or returns
something other than a list of classes of its kind, or a function named like a hook that does
not exist (a misspelling, with a did-you-mean), is a one-line warning naming the plugin, and
that plugin's hook (for a misspelling: the plugin) is skipped. Two plugins registering the same
kind and name make that one name unusable (a warning, and :class:`flowkit.PluginConflictError`
when it is used); everything else keeps working. Every hook is called one plugin at a time.
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
    """Return whole coupling-layer classes (kind ``coupling``), the way before coupling laws.

    Prefer :func:`flowkit_register_coupling_laws`: a law works in every pipeline, this works
    only in ``nice``. Kept so that plugins written this way keep working unchanged.

    Subclass :class:`flowkit.CouplingTransform`; it splits the input by index into the conditioning
    part ``x1`` and the transformed part ``x2`` (NICE section 3.2), runs the conditioner MLP and
    reassembles the output. Implement the law ``y2 = g(x2; m(x1))``:
    ``_transform(x2, params) -> (y2, logabsdet)`` and ``_inverse_transform(y2, params) ->
    (x2, logabsdet)``, each log-determinant of shape ``[batch]``. Set ``params_per_dim``, the
    conditioner outputs per transformed dimension. ``params`` is ``[batch, params_per_dim * |x2|]``
    and ``self._split_params(params)`` cuts it into ``params_per_dim`` tensors of shape
    ``[batch, |x2|]``, in order: the first ``|x2|`` columns are the first tensor, the next
    ``|x2|`` the second, and so on. With ``zero_init=True`` (the default) the conditioner's last
    layer starts at zero, so make ``params = 0`` the identity.

    Constructed by the ``nice`` pipeline as ``cls(features, hidden=..., depth=...,
    activation=..., partition=..., parity=..., zero_init=..., **coupling_options)``: every extra
    constructor argument is a keyword with a default. The contract kit builds
    ``cls(6, **example)`` for each of ``contract_examples``.

    Then the CLI accepts ``flowkit run nice --coupling NAME --coupling-option KEY=VALUE``,
    ``flowkit bench --couplings additive,NAME``, and ``contract_test`` checks it.
    """


@hookspec
def flowkit_register_coupling_laws() -> list[type]:
    """Return coupling-law classes (kind ``law``): the elementwise map ``g`` of a coupling layer.

    Subclass :class:`flowkit.CouplingLaw` and implement ``forward(x, params)`` and
    ``inverse(y, params)``, each returning the mapped values and the elementwise
    log-derivative ``log|dy/dx|``, both of ``x``'s shape (NICE section 3.2: the layer sums it).
    ``params`` is ``[*x.shape, params_per_value]``; set ``params_per_value`` (a class attribute,
    or in ``__init__`` when an option decides it). Make all-zero parameters the identity (or set
    ``identity_at_zero = False``), since conditioners start with a zeroed last layer.

    Constructed as ``cls(**coupling_options)``: every option is a keyword with a default. The
    contract kit builds ``cls(**example)`` for each of ``contract_examples``, checks the law on
    its own, and checks it inside every layer type (flat, image, autoregressive) with every
    registered conditioner of that type.

    Then the CLI accepts ``--coupling NAME --coupling-option KEY=VALUE`` in every pipeline
    (``nice``, ``realnvp``, ``glow``, ``maf``) and ``flowkit bench --couplings additive,NAME``.
    """


@hookspec
def flowkit_register_conditioners() -> list[type]:
    """Return conditioner classes (kind ``conditioner``): the networks ``m`` of coupling layers.

    Subclass :class:`flowkit.Conditioner`, set ``layer`` to ``flat``, ``image`` or
    ``autoregressive`` and implement ``forward(inputs, context=None)``. Constructed as
    ``cls(in_features, out_features, ...)`` (flat), ``cls(in_channels, out_channels, ...)``
    (image) or ``cls(features, params_per_value, params_layout=..., ...)`` (autoregressive:
    the outputs of value ``i`` may depend only on values before it), always with
    ``context_features=`` and ``zero_init=`` keywords, plus those of ``hidden``, ``depth`` and
    ``activation`` that the constructor accepts and the user's ``conditioner_options``.
    :func:`flowkit.with_context` appends a context to flat or image inputs.

    Then the CLI accepts ``flowkit run PIPELINE --set conditioner=NAME`` (and its options as
    ``--set 'conditioner_options={"KEY": VALUE}'``) in every pipeline whose layers are of its
    type (``nice``: flat, ``realnvp`` and ``glow``: image, ``maf``: autoregressive), and the
    contract kit checks it with every registered law.
    """


@hookspec
def flowkit_register_permutations() -> list[type]:
    """Return dimension-mixing classes placed before each coupling (kind ``permutation``).

    Each is a :class:`flowkit.Transform` with ``forward(inputs, context=None)`` and
    ``inverse(inputs, context=None)``, each returning ``(outputs, logabsdet)``. A fixed permutation
    keeps its indices in buffers so that it moves with ``.to(device)`` and survives a state_dict
    round trip; learned linear maps (``lu``) belong here too.

    Constructed by the ``nice`` pipeline as ``cls(features, seed=i, **permutation_options)`` for
    layer ``i`` (0, 1, ...).

    Then the CLI accepts ``flowkit run nice --permutation NAME --permutation-option KEY=VALUE``.
    """


@hookspec
def flowkit_register_scalings() -> list[type]:
    """Return element-wise scaling classes placed after the last coupling (kind ``scaling``).

    NICE's diagonal layer ``h = exp(s) * x`` (section 3.3) is one; ActNorm is another. A layer with
    data-dependent initialisation calls ``self.enable_data_initialization()`` in ``__init__`` and
    implements ``_initialize(inputs)``; flowkit calls ``initialize`` on the first training data,
    and a loaded model is never initialised again.

    Constructed by the ``nice`` pipeline as ``cls(features, target_std=prior.stddev,
    **scaling_options)``: a layer initialised from data scales each output dimension to the prior's
    standard deviation.

    Then the CLI accepts ``flowkit run nice --scaling NAME --scaling-option KEY=VALUE``.
    """


@hookspec
def flowkit_register_whitenings() -> list[type]:
    """Return whitening classes placed before the first coupling (kind ``whitening``).

    A whitening is part of the flow (its log-determinant counts in the likelihood), fitted on
    training data through data initialisation, as for scalings: ``enable_data_initialization()``
    in ``__init__`` and ``_initialize(inputs)``.

    Constructed by the ``nice`` pipeline as ``cls(features, **whitening_options)``.

    Then the CLI accepts ``flowkit run nice --whitening NAME --whitening-option KEY=VALUE``.
    """


@hookspec
def flowkit_register_transforms() -> list[type]:
    """Return any other :class:`flowkit.Transform` classes (kind ``transform``).

    For transforms that are not couplings, permutations, scalings or whitenings, such as the
    wrapped nflows transforms: building blocks for your own pipelines. The ``nice`` pipeline has no
    slot for them.

    Constructed as ``cls(features, **example)`` by the contract kit, for each of
    ``contract_examples``; a pipeline of yours builds them as it likes.

    Then ``flowkit plugins`` lists them and ``contract_test`` checks them.
    """


@hookspec
def flowkit_register_priors() -> list[type]:
    """Return prior (base distribution) classes (kind ``prior``).

    Subclass :class:`flowkit.Prior` and implement ``_log_prob(inputs, context)`` (the log-density
    of ``inputs [batch, features]``, shape ``[batch]``) and ``_sample_standard(num_samples)``
    (``[num_samples, features]`` at temperature 1, created on ``self._anchor.device`` with its
    dtype). Set ``stddev``, the standard deviation of one coordinate (a class attribute, or an
    attribute set in ``__init__`` when it depends on an option). ``sample(n, temperature=T)``
    scales samples by ``T`` for you. Define ``scipy_reference()`` (a frozen ``scipy.stats``
    distribution of one coordinate) to let the contract kit compare density and moments with SciPy.

    Constructed by the ``nice`` pipeline as ``cls(features, **prior_options)``: options are keyword
    arguments with defaults, passed after ``super().__init__(features)``.

    Then the CLI accepts ``flowkit run nice --prior NAME --prior-option KEY=VALUE``.
    """


@hookspec
def flowkit_register_datasets() -> list[type]:
    """Return dataset classes (kind ``dataset``).

    Subclass :class:`flowkit.Dataset` and implement ``_load()``, returning one array of all
    examples (flowkit splits it with a seeded shuffle) or a :class:`flowkit.Splits`; set
    ``self.levels`` (quantisation levels of integer data, ``None`` for continuous data) and
    ``self.variant`` (which source was used). Return raw values; flowkit dequantises.

    Constructed as ``cls(data_dir=..., seed=..., **dataset_options)``. A dataset receives its
    options as keyword arguments of its constructor, each with a default, and passes the rest
    (``**common``) to ``super().__init__``. An option no constructor takes is an error that lists
    the known ones, and :func:`flowkit.dataset_options` (what ``flowkit run`` records in the run
    file) resolves them with their defaults, so ``flowkit eval`` rebuilds the same data.

    Then the CLI accepts ``flowkit run --dataset NAME --dataset-option KEY=VALUE``.
    """


@hookspec
def flowkit_register_pipelines() -> list[type]:
    """Return pipeline classes (kind ``pipeline``): ``flowkit run NAME`` builds its model.

    Subclass :class:`flowkit.Pipeline`, list every option with its default in ``defaults``, and
    implement ``build(registry, features, config) -> Flow``. Look components up with
    ``registry.get(kind, name)``, never by import, so that users can swap in any plugin's. Give a
    kind's constructor options as a dict option ``<kind>_options`` and list the kind in
    ``component_arguments`` (with the arguments the pipeline passes itself) to have them checked.

    Constructed as ``cls()``; ``resolve(**options)`` fills the defaults and rejects unknown option
    names; then ``build(registry, features, config)``. An option named like a kind (``coupling``,
    ``prior``...) is looked up before any data is loaded.

    Then the CLI accepts ``flowkit run NAME --set KEY=VALUE``.
    """


@hookspec
def flowkit_register_trackers() -> list[type]:
    """Return experiment-tracker classes (kind ``tracker``): ``flowkit run --track NAME``.

    Subclass :class:`flowkit.Tracker` and implement ``start`` (the run's name, run file and
    resolved configuration, once before the first epoch), ``log_epoch`` (every epoch's metrics)
    and ``finish`` (status and test results, after the run file is complete). Built as
    ``cls(destination)``, with the text after ``=`` in ``--track NAME=DESTINATION`` or ``None``.
    A tracker that raises is switched off with a one-line warning; the run carries on.

    Then the CLI accepts ``flowkit run --track NAME`` or ``--track NAME=DESTINATION``.
    """


# ---- Command line ----------------------------------------------------------------------------


@hookspec
def flowkit_register_commands(cli: click.Group) -> None:
    """Add Click commands to the ``flowkit`` command group.

    :param cli: the top-level :class:`click.Group`; call ``cli.add_command(...)`` or decorate
        functions with ``@cli.command()``. Use :class:`flowkit.cli.LazyCommand` to import a
        command's module only when it runs.

    Returns nothing. Inside a command, ``flowkit.cli.get_registry()`` is the registry that honours
    ``-p``; raise :class:`flowkit.FlowkitError` subclasses for user errors (one ``Error:`` line,
    exit status 2). A command name another plugin already added is ignored with a warning.

    Then the CLI accepts ``flowkit NAME``, listed in ``flowkit --help`` and ``flowkit plugins``.
    """


# ---- Run events ------------------------------------------------------------------------------


@hookspec
def flowkit_run_finished(run_file: str, status: str, results: dict[str, Any]) -> None:
    """Called once when ``flowkit run`` ends, after the run file is complete on disk.

    :param run_file: path of the finished HDF5 run file.
    :param status: ``completed``, ``interrupted`` or ``failed``.
    :param results: the test metrics (``test_log_likelihood_nats``, ``test_bits_per_dim``, ...)
        and facts about training (``best_epoch``, ``train_seconds``, ...).

    Returns nothing. Use it to send results to an experiment tracker. Each plugin is called on its
    own: an exception is a warning naming the plugin, the other listeners are still called, and the
    run's outcome does not change.

    Then every ``flowkit run`` calls it; ``flowkit plugins`` lists it under "listens".
    """


#: Registration hook name -> component kind.
REGISTRATION_HOOKS: dict[str, str] = {
    "flowkit_register_coupling_laws": "law",
    "flowkit_register_conditioners": "conditioner",
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
