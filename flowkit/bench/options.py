"""What ``flowkit bench`` compares and how: :class:`BenchOptions`.

Only bench's own settings (the laws, repeats, timing) are declared here; every other option is
the run configuration of :mod:`flowkit.run.config`, shared by every law: the pipeline (``nice``
by default; ``realnvp``, ``glow``, ``maf`` or a plugin's) and its options included.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import torch

from flowkit.errors import ConfigurationError
from flowkit.options import check_count
from flowkit.run.config import RunConfig, resolve_pipeline_options
from flowkit.train.options import TrainOptions

#: The laws compared by default: NICE's three (section 3.2).
DEFAULT_COUPLINGS = ("additive", "multiplicative", "affine")
#: A small NICE that trains in seconds on digits (the paper's MNIST model is 4 x (5 x 1000)).
DEFAULT_MODEL = {"layers": 4, "hidden": 256, "depth": 3}
#: Bench's model of each built-in pipeline: small sizes that train in seconds on digits (the
#: other options keep the pipeline's defaults). A pipeline not listed here (a plugin's) is
#: benched with its own defaults.
DEFAULT_MODELS: dict[str, dict[str, Any]] = {
    "nice": DEFAULT_MODEL,
    "realnvp": {"steps": 2, "hidden": 32, "blocks": 1},
    "glow": {"steps": 2, "hidden": 32},
    "maf": {"layers": 4, "hidden": 128, "depth": 1},
}
#: Examples per timed sampling call of pipelines whose sampling inverts one dimension at a
#: time (``D`` conditioner passes per layer); others sample ``eval_batch_size`` at once.
SEQUENTIAL_SAMPLE_BATCH = {"maf": 100}
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
#: Most seeds per law, and most interleaved timing rounds (each repeat trains every law).
MAX_REPEATS = 1000
MAX_SPEED_ROUNDS = 1000


#: Where bench's defaults differ from ``flowkit run``'s: a small model (``DEFAULT_MODELS``) on
#: digits, a fixed number of epochs with no early stopping, so that every law trains for the
#: same budget.
BENCH_RUN_DEFAULTS: dict[str, Any] = {
    "dataset": "digits",
    "epochs": 50,
    "patience": 0,
}
_RUN_FIELDS = frozenset(f.name for f in dataclasses.fields(RunConfig)) - {"train"}
_TRAIN_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainOptions))


def default_model(pipeline: str, declared: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Bench's model options for ``pipeline`` (:data:`DEFAULT_MODELS`; ``{}``: its own
    defaults), keeping only the options in ``declared`` (the pipeline's ``defaults``) when
    given, so that no option reaches a pipeline that has none of that name."""
    model = dict(DEFAULT_MODELS.get(pipeline, {}))
    if declared is not None:
        model = {key: value for key, value in model.items() if key in declared}
    return model


def check_law(registry, pipeline: str, law: str) -> None:
    """Fail on a law ``pipeline`` cannot use: an unknown name (with suggestions), or a whole
    coupling layer of a plugin written before laws anywhere but in ``nice``."""
    registry.coupling(law)
    if pipeline != "nice" and registry.coupling_kind(law) == "coupling":
        raise ConfigurationError(
            f"coupling {law!r} is a whole flat coupling layer (registered with "
            f"flowkit_register_couplings), which only the 'nice' pipeline can build, not "
            f"{pipeline!r}; leave it out of --couplings, or register it as a coupling law "
            "(flowkit.CouplingLaw)"
        )


class BenchOptions:
    """What ``flowkit bench`` compares and how.

    Bench's own settings are attributes here; everything else is the run configuration that
    every law shares (:attr:`base`, a :class:`RunConfig` whose coupling is left out), so a run
    option is declared once, in :class:`RunConfig` / :class:`TrainOptions`. Any of their fields
    may be passed as a keyword (``BenchOptions(epochs=2, lr=1e-3)``) and read as an attribute
    (``options.epochs``). Without ``pipeline_options``, the pipeline's model is
    :func:`default_model`'s. ``sample_batch_size`` (examples per timed sampling call) defaults
    to ``eval_batch_size``, capped for a pipeline of :data:`SEQUENTIAL_SAMPLE_BATCH`.
    """

    def __init__(
        self,
        couplings: tuple[str, ...] = DEFAULT_COUPLINGS,
        repeats: int = 3,
        speed_rounds: int = 3,
        speed_seconds: float = 0.25,
        compile: bool = False,
        amp: str | None = None,
        sample_batch_size: int | None = None,
        **run_options: Any,
    ) -> None:
        unknown = set(run_options) - _RUN_FIELDS - _TRAIN_FIELDS
        if unknown:
            raise ConfigurationError(f"unknown bench option(s): {', '.join(sorted(unknown))}")
        self.couplings = tuple(couplings)
        self.repeats = repeats
        self.speed_rounds = speed_rounds
        self.speed_seconds = speed_seconds
        self.compile = compile
        self.amp = amp
        values = {**BENCH_RUN_DEFAULTS, **run_options}
        pipeline = values.setdefault("pipeline", "nice")
        given = values.get("pipeline_options")
        values["pipeline_options"] = dict(default_model(pipeline) if given is None else given)
        train = TrainOptions(**{k: v for k, v in values.items() if k in _TRAIN_FIELDS})
        self.base = RunConfig(
            **{k: v for k, v in values.items() if k in _RUN_FIELDS and k != "seed"}, train=train
        )
        if sample_batch_size is None:
            cap = SEQUENTIAL_SAMPLE_BATCH.get(pipeline, train.eval_batch_size)
            sample_batch_size = min(train.eval_batch_size, cap)
        self.sample_batch_size = sample_batch_size

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: the shared run configuration's fields.
        base = self.__dict__.get("base")
        if base is not None and name in _TRAIN_FIELDS:
            return getattr(base.train, name)
        if base is not None and name in _RUN_FIELDS:
            return getattr(base, name)
        raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """Bench's settings and the shared run configuration, flat (as stored in the file)."""
        own = {
            "couplings": list(self.couplings),
            "repeats": self.repeats,
            "speed_rounds": self.speed_rounds,
            "speed_seconds": self.speed_seconds,
            "compile": self.compile,
            "amp": self.amp,
            "sample_batch_size": self.sample_batch_size,
        }
        run = {k: v for k, v in self.base.to_dict().items() if k in _RUN_FIELDS}
        # Bench's own ``compile`` (timings) wins over the training option of the same name.
        return {**run, **self.base.train.to_dict(), **own}

    def validate(self) -> BenchOptions:
        if not self.couplings:
            raise ConfigurationError("give at least one coupling law to compare")
        if len(set(self.couplings)) != len(self.couplings):
            raise ConfigurationError(f"a coupling law is listed twice: {','.join(self.couplings)}")
        if "coupling" in self.base.pipeline_options:
            raise ConfigurationError("the coupling law is what bench varies; use --couplings")
        if self.repeats < 1 or self.speed_rounds < 1 or self.sample_batch_size < 1:
            raise ConfigurationError("repeats, speed rounds and sample batch size must be >= 1")
        check_count("repeats", self.repeats, MAX_REPEATS)
        check_count("speed_rounds", self.speed_rounds, MAX_SPEED_ROUNDS)
        if self.amp not in (None, *AMP_DTYPES):
            raise ConfigurationError(f"--amp takes {', '.join(AMP_DTYPES)}, got {self.amp!r}")
        for law in self.couplings:
            self.run_config(law, 0).validate()
        return self

    def run_config(self, law: str, repeat: int, registry=None) -> RunConfig:
        """The configuration ``flowkit run`` would get for this law and repeat (its pipeline
        options resolved, every default filled in, when a ``registry`` is given)."""
        pipeline_options = {**self.base.pipeline_options, "coupling": law}
        if registry is not None:
            pipeline_options = resolve_pipeline_options(registry, self.pipeline, pipeline_options)
        return dataclasses.replace(
            self.base,
            pipeline_options=pipeline_options,
            dataset_options=dict(self.base.dataset_options),
            train=dataclasses.replace(self.base.train, seed=self.base.train.seed + repeat),
        )


__all__ = [
    "AMP_DTYPES",
    "BENCH_RUN_DEFAULTS",
    "DEFAULT_COUPLINGS",
    "DEFAULT_MODEL",
    "DEFAULT_MODELS",
    "MAX_REPEATS",
    "MAX_SPEED_ROUNDS",
    "SEQUENTIAL_SAMPLE_BATCH",
    "BenchOptions",
    "check_law",
    "default_model",
]
