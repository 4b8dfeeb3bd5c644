"""Run configuration files: ``flowkit run --config FILE.toml`` and ``flowkit config RUN.h5``.

A config file is TOML whose top-level keys are the options of ``flowkit run``, spelled as their
Python names (``batch_size``) or as their flags (``batch-size``), plus three tables:

* ``[pipeline_options]``: any pipeline option (what ``--set KEY=VALUE`` sets);
* ``[dataset_options]``: options of the dataset (what ``--dataset-option KEY=VALUE`` sets);
* ``[train]``: training options that have no flag (``init_examples``, ``eval_batch_size``...).

Nothing here lists the options: the keys are read off the ``run`` command's Click parameters
and the fields of :class:`~flowkit.run.config.RunConfig` and
:class:`~flowkit.train.options.TrainOptions`, so a flag added to ``run`` is a config key at
once. The file's values become the command's defaults (Click's ``default_map``), so flags given
on the command line override them.
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from flowkit.errors import ConfigurationError
from flowkit.options import MAX_VALUE_DEPTH, check_plain_value
from flowkit.run.config import RunConfig
from flowkit.train.options import TrainOptions

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found]

#: Parameters of ``run`` that are not config keys (``--set`` and ``--dataset-option`` are
#: the tables; ``--resume`` takes its configuration from the run file).
NOT_IN_FILE = frozenset({"config_file", "resume", "assignments", "dataset_assignments", "help"})
#: Tables of a config file (the keys inside are option names of the pipeline, the dataset or
#: the training).
TABLES = ("pipeline_options", "dataset_options", "train")
#: Fields whose flag has another name.
FIELD_FLAGS = {"max_seconds": "max_time"}
#: ``ctx.meta`` key of the loaded file.
META_KEY = "flowkit.run.config_file"
#: First line of ``flowkit config`` output.
HEADER = "# flowkit run configuration: use it with `flowkit run --config FILE.toml`"


@dataclass
class FileConfig:
    """A parsed config file: ``values`` are Click defaults by parameter name, the rest tables."""

    source: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    pipeline_options: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    #: RunConfig fields that have no flag (``sample_temperatures``).
    extras: dict[str, Any] = field(default_factory=dict)


# ---- reading ---------------------------------------------------------------------------------


def read_config_source(spec: str) -> tuple[str, str]:
    """``(name for messages, TOML text)`` of ``--config SPEC``: a file, else a recipe name."""
    from flowkit.run import recipes

    path = Path(spec)
    if path.is_file():
        try:
            return str(path), path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigurationError(f"{spec}: cannot read the config file ({err})") from None
    if spec in recipes.recipe_names():
        return f"recipe {spec}", recipes.recipe_text(spec)
    if path.suffix or "/" in spec or path.is_dir():
        raise ConfigurationError(f"{spec}: no such config file")
    raise ConfigurationError(
        f"--config {spec}: no such file or recipe (recipes: {', '.join(recipes.recipe_names())})"
    )


def load_config_file(spec: str, command: click.Command) -> FileConfig:
    """Read and check ``--config SPEC`` against ``command``'s parameters (one-line errors that
    name the file and the key)."""
    source, text = read_config_source(spec)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigurationError(f"{source}: TOML syntax error: {err}") from None
    except RecursionError:
        raise ConfigurationError(
            f"{source}: a value is nested more than {MAX_VALUE_DEPTH} levels deep"
        ) from None
    try:
        check_plain_value(data, "a value", MAX_VALUE_DEPTH + 1)  # + 1: the file's own table
    except ConfigurationError as err:
        raise ConfigurationError(f"{source}: {err}") from None
    return parse_config(data, command, source)


def parse_config(data: Mapping[str, Any], command: click.Command, source: str) -> FileConfig:
    params = config_params(command)
    extras_allowed = _run_config_extras(params)
    train_allowed = _train_extras(params)
    loaded = FileConfig(source=source)
    seen: dict[str, str] = {}
    context = click.Context(command)
    for key, value in data.items():
        name = key.replace("-", "_")
        if name in seen:
            raise ConfigurationError(f"{source}: {key!r} and {seen[name]!r} are the same key")
        seen[name] = key
        if name in TABLES:
            if not isinstance(value, dict):
                raise ConfigurationError(f"{source}: {key!r} must be a table ([{name}])")
            if name == "train":
                for option, item in value.items():
                    if option not in train_allowed:
                        _unknown(source, f"train.{option}", option, train_allowed, "[train] ")
                    loaded.train[option] = _like(train_allowed[option], item, source, option)
            else:
                getattr(loaded, name).update(value)
        elif name in params:
            loaded.values[name] = _check_param(context, params[name], value, source, key)
        elif name in extras_allowed:
            loaded.extras[name] = _like(extras_allowed[name], value, source, key)
        else:
            _unknown(source, key, name, [*params, *extras_allowed, *TABLES])
    return loaded


def config_params(command: click.Command) -> dict[str, click.Parameter]:
    """The parameters of ``command`` that a config file may set, by name."""
    return {p.name: p for p in command.params if p.name and p.name not in NOT_IN_FILE}


def install(ctx: click.Context, spec: str) -> FileConfig:
    """Load ``--config SPEC`` for ``ctx``'s command: its values become the defaults that the
    command line overrides. Call it from an eager option's callback."""
    loaded = load_config_file(spec, ctx.command)
    ctx.default_map = {**(ctx.default_map or {}), **loaded.values}
    ctx.meta[META_KEY] = loaded
    return loaded


def option_callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Click callback of an eager ``--config`` option (see :func:`install`)."""
    if value is not None:
        install(ctx, value)
    return value


def current(ctx: click.Context | None = None) -> FileConfig:
    """The config file loaded for this command line (an empty one without ``--config``)."""
    ctx = ctx or click.get_current_context(silent=True)
    return (ctx.meta.get(META_KEY) if ctx is not None else None) or FileConfig()


def pipeline_table(registry: Any, pipeline: str, loaded: FileConfig) -> dict[str, Any]:
    """The file's ``[pipeline_options]``, checked against ``pipeline``'s options."""
    if loaded.pipeline_options:
        known = registry.get("pipeline", pipeline)().defaults
        for option in loaded.pipeline_options:
            if option not in known:
                _unknown(
                    loaded.source,
                    f"pipeline_options.{option}",
                    option,
                    known,
                    f"[pipeline_options] of pipeline {pipeline!r}: ",
                )
    return dict(loaded.pipeline_options)


def train_options(options: Mapping[str, Any]) -> TrainOptions:
    """:class:`TrainOptions` from a command's parsed ``options``: every field that has a flag
    of the same name (or its :data:`FIELD_FLAGS` name) takes the flag's value; a flag left
    unset (None) keeps the field's default."""
    defaults = TrainOptions()
    values: dict[str, Any] = {}
    for f in dataclasses.fields(TrainOptions):
        flag = FIELD_FLAGS.get(f.name, f.name)
        if flag in options and (options[flag] is not None or getattr(defaults, f.name) is None):
            value = options[flag]
            values[f.name] = tuple(value) if isinstance(value, list) else value
    return TrainOptions(**values)


def apply_extras(config: RunConfig, loaded: FileConfig) -> RunConfig:
    """``config`` with the file's ``[train]`` table and flag-less fields applied."""
    if loaded.train:
        config.train = dataclasses.replace(config.train, **loaded.train)
    if loaded.extras:
        values = dict(loaded.extras)
        if "sample_temperatures" in values:
            values["sample_temperatures"] = tuple(values["sample_temperatures"])
        config = dataclasses.replace(config, **values)
    return config


# ---- writing ---------------------------------------------------------------------------------


def config_to_dict(config: RunConfig, command: click.Command) -> dict[str, Any]:
    """``config`` as config-file keys: flags at the top level in the command's order, the rest
    in the tables. Values that are ``None`` are left out (TOML has no null; None is their
    default)."""
    params = config_params(command)
    candidates: dict[str, Any] = {}
    pipeline_rest: dict[str, Any] = {}
    for key, value in config.pipeline_options.items():
        (candidates if key in params else pipeline_rest)[key] = value
    for f in dataclasses.fields(RunConfig):
        if f.name not in ("pipeline_options", "dataset_options", "train"):
            candidates.setdefault(FIELD_FLAGS.get(f.name, f.name), getattr(config, f.name))
    train_rest: dict[str, Any] = {}
    for f in dataclasses.fields(TrainOptions):
        flag = FIELD_FLAGS.get(f.name, f.name)
        (candidates if flag in params else train_rest)[flag] = getattr(config.train, f.name)
    top = {name: candidates.pop(name) for name in params if name in candidates}
    top.update(candidates)  # fields without a flag (sample_temperatures)
    result = _plain({k: v for k, v in top.items() if v is not None})
    for name, table in (
        ("pipeline_options", pipeline_rest),
        ("dataset_options", config.dataset_options),
        ("train", train_rest),
    ):
        table = _plain({k: v for k, v in table.items() if v is not None}, name)
        if table:
            result[name] = table
    return result


def config_to_toml(config: RunConfig, command: click.Command, comment: str = "") -> str:
    """``config`` as the TOML text that ``flowkit run --config`` reads back."""
    try:
        import tomli_w
    except ImportError:  # pragma: no cover - a core dependency
        raise ConfigurationError("writing TOML needs tomli-w: pip install tomli-w") from None
    lines = [HEADER] + [f"# {line}" for line in comment.splitlines() if line]
    values = config_to_dict(config, command)
    try:
        text = tomli_w.dumps(values)
    except (TypeError, ValueError, RecursionError) as err:
        raise ConfigurationError(f"the configuration cannot be written as TOML: {err}") from None
    return "\n".join(lines) + "\n" + text


# ---- checks ----------------------------------------------------------------------------------


def _run_config_extras(params: Mapping[str, click.Parameter]) -> dict[str, Any]:
    defaults = RunConfig()
    return {
        f.name: getattr(defaults, f.name)
        for f in dataclasses.fields(RunConfig)
        if f.name not in (*TABLES, "train") and FIELD_FLAGS.get(f.name, f.name) not in params
    }


def _train_extras(params: Mapping[str, click.Parameter]) -> dict[str, Any]:
    defaults = TrainOptions()
    return {
        f.name: getattr(defaults, f.name)
        for f in dataclasses.fields(TrainOptions)
        if FIELD_FLAGS.get(f.name, f.name) not in params
    }


def _unknown(source: str, key: str, name: str, known, prefix: str = "") -> None:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigurationError(f"{source}: unknown key {prefix}{key!r}{hint}")


def _describe(value: Any) -> str:
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list"}
    return f"{kinds.get(type(value), type(value).__name__)} {value!r}"


def _scalar_ok(kind: click.ParamType, value: Any, is_flag: bool) -> tuple[bool, str]:
    if is_flag or isinstance(kind, click.types.BoolParamType):
        return isinstance(value, bool), "true or false"
    if isinstance(kind, click.types.IntParamType):
        return isinstance(value, int) and not isinstance(value, bool), "an integer"
    if isinstance(kind, click.types.FloatParamType):
        return isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    if isinstance(kind, (click.types.StringParamType, click.Choice, click.Path)):
        return isinstance(value, str), "a string"
    return isinstance(value, (str, int, float, bool)), "a string or a number"


def _check_param(
    ctx: click.Context, param: click.Parameter, value: Any, source: str, key: str
) -> Any:
    """``value`` if it has the parameter's type and passes its checks (ranges, choices)."""
    is_flag = bool(getattr(param, "is_flag", False))
    if param.multiple or param.nargs != 1:
        if not isinstance(value, list):
            raise ConfigurationError(f"{source}: {key!r} must be a list, not {_describe(value)}")
        kinds = getattr(param.type, "types", None) or [param.type] * len(value)
        if param.nargs > 1 and not param.multiple and len(value) != param.nargs:
            raise ConfigurationError(
                f"{source}: {key!r} must be a list of {param.nargs} values, got {value!r}"
            )
        items = zip(kinds, value)
    else:
        items = zip([param.type], [value])
    for kind, item in items:
        ok, wanted = _scalar_ok(kind, item, is_flag)
        if not ok:
            raise ConfigurationError(f"{source}: {key!r} must be {wanted}, not {_describe(item)}")
    try:
        param.type_cast_value(ctx, value)
    except click.BadParameter as err:
        raise ConfigurationError(f"{source}: {key!r}: {err.format_message()}") from None
    except ConfigurationError as err:  # a count beyond its bound (flowkit.cli.params.Count)
        raise ConfigurationError(f"{source}: {key!r}: {err}") from None
    return value


def _like(default: Any, value: Any, source: str, key: str) -> Any:
    """``value`` if it has the type of ``default`` (None: any scalar)."""
    if isinstance(default, bool):
        ok, wanted = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, wanted = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        wanted = "a number"
    elif isinstance(default, str):
        ok, wanted = isinstance(value, str), "a string"
    elif isinstance(default, (tuple, list)):
        ok, wanted = isinstance(value, list), "a list"
        if ok and default:
            for item in value:
                _like(default[0], item, source, key)
    else:
        ok, wanted = isinstance(value, (str, int, float, bool)), "a string, number or boolean"
    if not ok:
        raise ConfigurationError(f"{source}: {key!r} must be {wanted}, not {_describe(value)}")
    return float(value) if isinstance(default, float) else value


def _plain(value: Any, where: str = "") -> Any:
    """TOML-ready: tuples as lists, mappings as dicts, ``None`` entries dropped; a ``None`` in a
    list (TOML has no null, and dropping it would change the list) is one line naming it."""
    if isinstance(value, Mapping):
        return {
            str(k): _plain(v, f"{where}.{k}" if where else str(k))
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, (tuple, list)):
        if any(v is None for v in value):
            raise ConfigurationError(
                f"{where} = {list(value)!r:.60} holds null, which TOML cannot write; "
                "give the option on the command line instead"
            )
        return [_plain(v, f"{where}[]") for v in value]
    return value


__all__ = [
    "FIELD_FLAGS",
    "HEADER",
    "NOT_IN_FILE",
    "TABLES",
    "FileConfig",
    "apply_extras",
    "config_params",
    "config_to_dict",
    "config_to_toml",
    "current",
    "install",
    "load_config_file",
    "option_callback",
    "parse_config",
    "pipeline_table",
    "read_config_source",
    "train_options",
]
