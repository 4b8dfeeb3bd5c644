"""The resolved configuration of a run: everything needed to build its data and model again.

A :class:`RunConfig` is what ``flowkit run`` records in the run file (as JSON) and what
``load_run`` rebuilds the model and the dataset from. It holds names and plain values only;
the classes come from the registry, so a run that used a third-party coupling can be loaded
wherever that plugin is installed.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowkit.datasets import dataset_options
from flowkit.errors import ConfigurationError, DataError
from flowkit.options import MAX_VALUE_DEPTH, check_count, check_plain_value
from flowkit.registry import KINDS
from flowkit.train.options import MAX_SEED, TrainOptions

if TYPE_CHECKING:  # pragma: no cover
    from flowkit.datasets import Dataset
    from flowkit.flows import Flow
    from flowkit.registry import Registry

#: Name of the dataset that reads user files (``--dataset PATH``).
FILE_DATASET = "file"
#: Temperatures of the samples stored in a run file: the prior's own, and the paper's preferred
#: "annealed" value for images (samples look best at 0.75-0.8, see the NICE notes).
SAMPLE_TEMPERATURES: tuple[float, ...] = (1.0, 0.75)
#: Most samples stored per temperature, and most temperatures (the run file's reader checks
#: the same bounds, :mod:`flowkit.io.schema`).
MAX_SAMPLES = 10**6
MAX_TEMPERATURES = 16
#: Bounds of the integer sizes of the built-in pipelines (layer counts, widths, depths, glow's
#: steps and levels, realnvp's blocks), checked by ``flowkit run`` and when a run file is read,
#: before any model is built.
OPTION_BOUNDS = {
    "layers": 1000,
    "hidden": 1 << 20,
    "depth": 100,
    "steps": 1000,
    "levels": 32,
    "blocks": 100,
}


@dataclass
class RunConfig:
    """A run's full configuration. ``pipeline_options`` are resolved (every default filled)."""

    pipeline: str = "nice"
    pipeline_options: dict[str, Any] = field(default_factory=dict)
    dataset: str = "mnist"
    #: Options of the dataset class (``{"path": ...}`` for a file, ``{"variant": ...}``...).
    dataset_options: dict[str, Any] = field(default_factory=dict)
    data_dir: str | None = None
    #: Seed of the dataset's train / validation / test split (kept apart from ``train.seed`` so
    #: that repeats with different seeds are evaluated on the same test set).
    split_seed: int = 0
    train: TrainOptions = field(default_factory=TrainOptions)
    num_samples: int = 64
    sample_temperatures: tuple[float, ...] = SAMPLE_TEMPERATURES
    #: Run file whose selected weights the model starts from (``--init-from``); None: fresh.
    init_from: str | None = None

    @property
    def seed(self) -> int:
        return self.train.seed

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["train"] = self.train.to_dict()
        data["sample_temperatures"] = list(self.sample_temperatures)
        data["seed"] = self.seed
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["train"] = TrainOptions.from_dict(data.get("train", {}))
        if "sample_temperatures" in values:
            values["sample_temperatures"] = tuple(values["sample_temperatures"])
        return cls(**values)

    def validate(self) -> RunConfig:
        """Raise :class:`ConfigurationError` for values that cannot work, or that are beyond
        the bounds the run file's reader checks (so that what a run writes reads back)."""
        self.train.validate()
        if isinstance(self.num_samples, bool) or not isinstance(self.num_samples, int):
            raise ConfigurationError(
                f"number of samples must be an integer, got {self.num_samples!r}"
            )
        if self.num_samples < 0:
            raise ConfigurationError(f"number of samples must be >= 0, got {self.num_samples}")
        check_count("num_samples", self.num_samples, MAX_SAMPLES)
        if not (isinstance(self.split_seed, int) and 0 <= self.split_seed <= MAX_SEED):
            raise ConfigurationError(f"split seed must be in [0, 2**32), got {self.split_seed!r}")
        temperatures = self.sample_temperatures
        if len(temperatures) > MAX_TEMPERATURES:
            raise ConfigurationError(
                f"{len(temperatures)} sample temperatures; at most {MAX_TEMPERATURES}"
            )
        if any(not (_is_number(t) and 0 < t < math.inf) for t in temperatures):
            raise ConfigurationError(f"temperatures must be finite and > 0, got {temperatures}")
        if len({f"{t:.2f}" for t in temperatures}) < len(temperatures):  # the samples' names
            raise ConfigurationError(
                f"temperatures must differ in their first two decimals, got {list(temperatures)}"
            )
        check_option_bounds(self.pipeline_options)
        return self


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_option_bounds(options: Mapping[str, Any]) -> None:
    """The sizes of :data:`OPTION_BOUNDS` are integers within their bounds (one line each)."""
    for key, limit in OPTION_BOUNDS.items():
        value = options.get(key)
        if isinstance(value, bool) or (value is not None and not isinstance(value, int)):
            raise ConfigurationError(f"{key} must be an integer, got {value!r:.60}")
        if isinstance(value, int):
            check_count(key, value, limit)


def looks_like_path(spec: str) -> bool:
    """Whether ``--dataset SPEC`` names a file: an existing path, a suffix, or a separator."""
    return Path(spec).exists() or os.sep in spec or "/" in spec or Path(spec).suffix != ""


def resolve_dataset(registry: Registry, spec: str) -> tuple[str, dict[str, Any]]:
    """``(dataset name, options)`` for ``--dataset SPEC``.

    A registered name is itself. Anything the ``file`` dataset recognises as a path (its
    ``looks_like_path``, e.g. ``data.npy`` or ``data.h5:images``) becomes ``("file",
    {"path": SPEC})``. Anything else is an unknown dataset (with suggestions).
    """
    if spec in registry.names("dataset"):
        return spec, {}
    if FILE_DATASET in registry.names("dataset"):
        file_cls = registry.get("dataset", FILE_DATASET)
        recognise = getattr(file_cls, "looks_like_path", looks_like_path)
        if recognise(spec):
            if Path(spec).is_dir():
                raise DataError(
                    f"--dataset {spec} is a directory; give a data file, or a "
                    "dataset name with --data-dir"
                )
            return FILE_DATASET, {"path": spec}
    registry.get("dataset", spec)  # raises UnknownComponentError with suggestions
    return spec, {}


def absolute_paths(options: Mapping[str, Any]) -> dict[str, Any]:
    """Dataset options with a relative ``path`` made absolute, so the run file can find the
    data again from any working directory."""
    result = dict(options)
    path = result.get("path")
    if isinstance(path, str) and path and not Path(path).is_absolute():
        result["path"] = str(Path(path).resolve())
    return result


def resolve_pipeline_options(
    registry: Registry, pipeline: str, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """The pipeline's defaults updated with ``overrides``: unknown option names, and values of
    another type than the option's (its default's in the pipeline, the constructor's for the
    components' options) are an error; a boolean spelled yes/no or 1/0 becomes a bool."""
    chosen = registry.get("pipeline", pipeline)()
    resolved = chosen.resolve(**dict(overrides))
    resolve_components = getattr(chosen, "resolve_components", None)
    return resolve_components(registry, resolved) if callable(resolve_components) else resolved


def check_components(registry: Registry, pipeline: str, options: Mapping[str, Any]) -> None:
    """Look up every option that names a component kind (``coupling``, ``prior``...) and check
    its ``<kind>_options`` against its constructor, so that a typo fails before any data is
    loaded; ``none`` means the component is left out."""
    pipeline_cls = registry.get("pipeline", pipeline)
    for key, value in options.items():
        if key == "coupling" and isinstance(value, str):
            registry.coupling(value)  # a law, or a whole coupling layer of an older plugin
        elif key in KINDS and isinstance(value, str) and value != "none":
            registry.get(key, value)
    check = getattr(pipeline_cls(), "check_component_options", None)
    if callable(check):
        check(registry, dict(options))


def build_dataset(registry: Registry, config: RunConfig) -> Dataset:
    """The run's dataset (not loaded yet), split with ``config.split_seed``."""
    cls = registry.get("dataset", config.dataset)
    check_plain_value(config.dataset_options, "the dataset options")
    resolved = dataset_options(cls, config.dataset_options)  # names and types checked
    given = {name: resolved[name] for name in config.dataset_options}
    dataset = cls(data_dir=config.data_dir, seed=config.split_seed, **given)
    # What the run file records: every option with its value, so eval rebuilds the same data.
    dataset.options = {**resolved, **dataset.options}
    return require_data_range(registry, dataset, config)


def require_data_range(registry: Registry, dataset: Dataset, config: RunConfig) -> Dataset:
    """``dataset``, set to refuse (when it loads) values outside the range ``config``'s model
    takes (:meth:`Pipeline.data_range`, e.g. [0, 1] before a logit) in one line."""
    pipeline = registry.get("pipeline", config.pipeline)()
    data_range = getattr(pipeline, "data_range", None)
    if callable(data_range):
        dataset.required_range = data_range(config.pipeline_options)
        dataset.required_by = f"pipeline {config.pipeline!r}"
    return dataset


def build_flow(registry: Registry, config: RunConfig, features: int | Sequence[int]) -> Flow:
    """The run's model, freshly initialised, from its pipeline: for ``features`` flat values,
    or for the data's event shape (``Pipeline.build_for``; image pipelines need the shape)."""
    pipeline = registry.get("pipeline", config.pipeline)()
    # Options the pipeline gained after the run was recorded (e.g. ``conditioner``) take their
    # defaults, which build the model the run trained.
    options = pipeline.resolve(**config.pipeline_options)
    if isinstance(features, Sequence):
        return pipeline.build_for(registry, tuple(features), options)
    return pipeline.build(registry, int(features), options)


def parse_assignment(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE read as JSON when it parses (``3``, ``true``, ``{"a": 1}``) and
    as a string otherwise."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigurationError(f"expected KEY=VALUE, got {text!r:.60}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    except RecursionError:
        raise ConfigurationError(
            f"{key.strip()} is nested more than {MAX_VALUE_DEPTH} levels deep"
        ) from None
    return key.strip(), check_plain_value(value, key.strip())


__all__ = [
    "FILE_DATASET",
    "MAX_SAMPLES",
    "MAX_TEMPERATURES",
    "OPTION_BOUNDS",
    "SAMPLE_TEMPERATURES",
    "RunConfig",
    "absolute_paths",
    "build_dataset",
    "build_flow",
    "check_components",
    "check_option_bounds",
    "looks_like_path",
    "parse_assignment",
    "require_data_range",
    "resolve_dataset",
    "resolve_pipeline_options",
]
