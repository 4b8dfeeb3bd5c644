"""Choosing the torch device a command runs on: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""

from __future__ import annotations

import torch

from flowkit.errors import ConfigurationError

#: What ``--device`` accepts, for help texts.
DEVICE_HELP = "auto (CUDA when available, else CPU), cpu, cuda or cuda:N"


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """The :class:`torch.device` for ``spec``.

    ``auto`` (or ``None``) picks the current CUDA device when one is available and the CPU
    otherwise. Asking for CUDA on a machine without it, or for a CUDA index that does not exist,
    is a :class:`ConfigurationError` rather than a failure deep inside training.
    """
    if isinstance(spec, torch.device):
        text = str(spec)
    else:
        text = "auto" if spec is None else str(spec).strip().lower()
    if text == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise ConfigurationError(f"unknown device {spec!r}; use {DEVICE_HELP}") from None
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type != "cuda":
        raise ConfigurationError(f"unsupported device {spec!r}; use {DEVICE_HELP}")
    if not torch.cuda.is_available():
        raise ConfigurationError(
            f"device {spec!r} asked for, but CUDA is not available here "
            f"(torch {torch.__version__}); use --device cpu or auto"
        )
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise ConfigurationError(
            f"device {spec!r} asked for, but only {count} CUDA device(s) exist (cuda:0 .. "
            f"cuda:{count - 1})"
        )
    return device


def set_threads(threads: int | None) -> None:
    """Use ``threads`` CPU threads for torch's operations (None: leave torch's default)."""
    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(int(threads))


def describe_device(device: torch.device) -> str:
    """A human-readable name, e.g. ``cpu (2 threads)`` or ``cuda:0 (NVIDIA H100)``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    threads = torch.get_num_threads()
    return f"{device.type} ({threads} thread{'' if threads == 1 else 's'})"


__all__ = ["DEVICE_HELP", "describe_device", "resolve_device"]
