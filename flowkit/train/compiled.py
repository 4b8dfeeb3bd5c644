"""Training through ``torch.compile`` (``TrainOptions.compile``, ``--compile``).

The compiled module computes the same function as the eager one (operations are fused, so
results may differ in the last bits of float32); validation and test evaluation stay eager.
The first step pays the compilation (seconds to tens of seconds on a CPU); whether it pays off
is measured in ``benchmarks/README.md``.
"""

from __future__ import annotations

from torch import nn

from flowkit.errors import ConfigurationError


def compile_available() -> tuple[bool, str]:
    """Whether ``torch.compile`` can be used here, and if not, why."""
    import torch

    if not hasattr(torch, "compile"):
        return False, f"torch {torch.__version__} has no torch.compile"
    try:
        import torch._dynamo
    except Exception as err:  # pragma: no cover - platform dependent
        return False, f"torch.compile is unavailable: {err}"
    return True, ""


def compile_module(module: nn.Module, enabled: bool, **kwargs) -> nn.Module:
    """``torch.compile(module, **kwargs)`` when ``enabled``, else ``module`` itself."""
    if not enabled:
        return module
    ok, why = compile_available()
    if not ok:
        raise ConfigurationError(f"--compile: {why}")
    import torch

    return torch.compile(module, **kwargs)  # type: ignore[return-value]


__all__ = ["compile_available", "compile_module"]
