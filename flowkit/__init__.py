"""flowkit: a plugin-based toolkit for normalizing flows in the NICE family."""

from flowkit.conditioners import (
    LAYER_TYPES,
    Conditioner,
    check_layer,
    with_context,
)
from flowkit.coupling import CouplingTransform, LawCoupling, law_coupling_class, partition_indices
from flowkit.datasets import (
    Dataset,
    DatasetInfo,
    Splits,
    dataset_options,
    dequantize,
    split_indices,
)
from flowkit.errors import (
    ConfigurationError,
    DataError,
    FlowkitError,
    FlowkitWarning,
    InputOutsideDomain,
    InverseNotAvailable,
    MissingExtraError,
    PluginConflictError,
    RunFileError,
    UnknownComponentError,
)
from flowkit.extras import require
from flowkit.flows import Flow
from flowkit.hdf5 import hdf5_hazard
from flowkit.hookspecs import hookimpl, hookspec
from flowkit.laws import PARAM_LAYOUTS, CouplingLaw, apply_law, arrange_params, sum_log_derivative
from flowkit.metrics import bits_per_dim, nats_from_bits_per_dim
from flowkit.nn import ACTIVATIONS, MLP, run_conditioner
from flowkit.options import accepted_options
from flowkit.pipelines import Pipeline
from flowkit.plugins import PluginWarning, get_plugin_manager
from flowkit.priors import Prior, check_count, check_temperature
from flowkit.registry import Registry, load_registry
from flowkit.trackers import TrackedRun, Tracker
from flowkit.trackers import result_metrics as tracker_metrics
from flowkit.transforms import CompositeTransform, InverseTransform, Transform
from flowkit.version import __version__

__all__ = [
    "ACTIVATIONS",
    "LAYER_TYPES",
    "MLP",
    "PARAM_LAYOUTS",
    "CompositeTransform",
    "Conditioner",
    "ConfigurationError",
    "CouplingLaw",
    "CouplingTransform",
    "DataError",
    "Dataset",
    "DatasetInfo",
    "Flow",
    "FlowkitError",
    "FlowkitWarning",
    "InputOutsideDomain",
    "InverseNotAvailable",
    "InverseTransform",
    "LawCoupling",
    "MissingExtraError",
    "Pipeline",
    "PluginConflictError",
    "PluginWarning",
    "Prior",
    "Registry",
    "RunFileError",
    "Splits",
    "TrackedRun",
    "Tracker",
    "Transform",
    "UnknownComponentError",
    "__version__",
    "accepted_options",
    "apply_law",
    "arrange_params",
    "bits_per_dim",
    "check_count",
    "check_layer",
    "check_temperature",
    "dataset_options",
    "dequantize",
    "get_plugin_manager",
    "hdf5_hazard",
    "hookimpl",
    "hookspec",
    "law_coupling_class",
    "load_registry",
    "nats_from_bits_per_dim",
    "partition_indices",
    "require",
    "run_conditioner",
    "split_indices",
    "sum_log_derivative",
    "tracker_metrics",
    "with_context",
]
