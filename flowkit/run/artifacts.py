"""What a finished run stores besides its weights: samples, the scaling spectrum, the
environment (versions and which plugin provided each component)."""

from __future__ import annotations

import platform
import warnings
from typing import Any

import h5py
import numpy as np
import torch

from flowkit.errors import FlowkitError, FlowkitWarning
from flowkit.run.config import RunConfig
from flowkit.train.device import describe_device
from flowkit.train.evaluation import evaluation_mode
from flowkit.train.topology import Topology, default_topology
from flowkit.version import __version__


def draw_samples(flow, config: RunConfig, event_shape, device) -> dict[float, np.ndarray]:
    """``config.num_samples`` samples per temperature, seeded by the run's seed."""
    if config.num_samples == 0:
        return {}
    samples = {}
    devices = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices), evaluation_mode(flow):
            torch.manual_seed(config.seed)
            for temperature in config.sample_temperatures:
                values = flow.sample(config.num_samples, temperature=temperature)
                values = values.reshape(config.num_samples, *event_shape)
                samples[float(temperature)] = values.cpu().numpy().astype(np.float32)
    except (FlowkitError, NotImplementedError, RuntimeError) as err:
        warnings.warn(
            f"no samples stored: the model cannot sample ({err})", FlowkitWarning, stacklevel=2
        )
        return {}
    return samples


def scaling_spectrum(flow) -> np.ndarray | None:
    """Sorted (decreasing) ``exp(s)`` of the last layer that has ``spectrum()`` (NICE Fig. 8)."""
    layers = [m for m in flow.transform.modules() if callable(getattr(m, "spectrum", None))]
    if not layers:
        return None
    with torch.no_grad():
        values = np.asarray(layers[-1].spectrum().detach().cpu(), dtype=np.float64).ravel()
    return np.sort(values)[::-1].copy()


def collect_environment(
    registry, config: RunConfig, device: torch.device, topology: Topology | None = None
) -> dict[str, Any]:
    """Versions of everything that can change a run's numbers, and who provided each component."""
    topology = topology or default_topology()
    versions = {
        "flowkit": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "h5py": h5py.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": describe_device(device),
        "topology": topology.name,
        "world_size": topology.world_size,
    }
    pm = getattr(registry, "plugin_manager", None)
    plugins = {
        name: {"module": p.module, "distribution": p.distribution, "version": p.version}
        for name, p in (pm.plugin_info.items() if pm is not None else [])
    }
    components = {}
    choices = {"pipeline": config.pipeline, "dataset": config.dataset, **config.pipeline_options}
    for kind, name in choices.items():
        if kind == "coupling" and isinstance(name, str) and name in registry.coupling_names():
            entry = registry.entry(registry.coupling_kind(name), name)  # a law, or a layer
        elif isinstance(name, str) and (kind, name) in registry:
            entry = registry.entry(kind, name)
        else:
            continue
        components[kind] = {
            "name": name,
            "plugin": entry.plugin,
            "distribution": entry.distribution,
            "version": entry.version,
        }
    return {"versions": versions, "plugins": plugins, "components": components}


__all__ = ["collect_environment", "draw_samples", "scaling_spectrum"]
