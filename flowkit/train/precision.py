"""Numeric precision of training steps: which parts run in which floating-point format.

Maximum-likelihood training of a NICE is sensitive wherever numbers are added to the data or
summed (NICE section 3.2 and 5.1): the coupling's ``x2 + m(x1)`` works at the scale of the
``1/256`` dequantisation noise, and the log-determinants, the prior's log-density and the loss
are sums over 784 dimensions. The hidden matrix products of the coupling MLPs carry nearly all
the work (about 92% of the multiply-adds of the paper's MNIST model) and tolerate rounding.

So a policy here lowers only the hidden layers of the conditioner MLPs
(:class:`flowkit.nn.MLP`; the whole net for other conditioners, such as the convolutional
networks of image couplings, about 80% of a Glow training step's CPU time) and casts their
output back to float32 before it touches the data; the output layer of an MLP, the coupling
arithmetic, the scaling layer, the prior and the loss stay float32. Validation and test
evaluation always run in float32: the policy applies only inside :func:`Precision.training`,
which the trainer enters for the training steps of each epoch.

Policies (``TrainOptions.precision``, ``--precision``):

- ``fp32``: everything float32 (the default);
- ``bf16-mixed``: hidden MLP layers under ``torch.autocast`` in bfloat16 (CPU or GPU);
- ``tf32``: float32 tensors, matrix products in TensorFloat-32 (NVIDIA GPUs, CUDA only).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from flowkit.errors import ConfigurationError
from flowkit.nn import MLP
from flowkit.transforms import Transform

#: Names accepted by ``--precision`` and ``TrainOptions.precision``.
PRECISIONS = ("fp32", "bf16-mixed", "tf32")


@dataclass(frozen=True)
class Precision:
    """A resolved policy: the conditioner dtype (None: float32) and whether TF32 is on."""

    name: str
    conditioner_dtype: torch.dtype | None = None
    tf32: bool = False

    @contextmanager
    def training(self, flow: nn.Module) -> Iterator[int]:
        """Apply the policy to ``flow`` for the block; yields how many conditioners it lowers.

        Everything is restored on exit, so evaluation after the block is float32.
        """
        lowered = _set_conditioner_dtype(flow, self.conditioner_dtype)
        previous = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        if self.tf32:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        try:
            yield lowered
        finally:
            _set_conditioner_dtype(flow, None)
            if self.tf32:
                torch.backends.cuda.matmul.allow_tf32 = previous[0]
                torch.backends.cudnn.allow_tf32 = previous[1]


def resolve_precision(name: str, device: torch.device | str) -> Precision:
    """The :class:`Precision` called ``name`` on ``device``; raise for what cannot run there."""
    device = torch.device(device)
    if name == "fp32":
        return Precision(name)
    if name == "bf16-mixed":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ConfigurationError(
                "--precision bf16-mixed needs a GPU with bfloat16 support (Ampere or newer)"
            )
        return Precision(name, conditioner_dtype=torch.bfloat16)
    if name == "tf32":
        if device.type != "cuda":
            raise ConfigurationError(
                f"--precision tf32 needs a CUDA GPU (TensorFloat-32 is an NVIDIA matmul mode); "
                f"training runs on {device.type}: use bf16-mixed or fp32"
            )
        return Precision(name, tf32=True)
    raise ConfigurationError(f"unknown precision {name!r}; choose from {', '.join(PRECISIONS)}")


def _set_conditioner_dtype(flow: nn.Module, dtype: torch.dtype | None) -> int:
    """Set the autocast dtype of every conditioner in ``flow``; return how many there are.

    An :class:`MLP` keeps its output layer in float32 itself. Any other transform opts in by
    declaring a class attribute ``conditioner_dtype = None`` (as :class:`CouplingTransform`
    does, and image couplings of plugins may): it runs its conditioner under autocast in that
    dtype and casts the conditioner's output to float32 before it touches the data.
    """
    count = 0
    for module in flow.modules():
        if isinstance(module, MLP):
            module.compute_dtype = dtype
            count += 1
        elif (
            isinstance(module, Transform)
            and hasattr(type(module), "conditioner_dtype")
            and not isinstance(getattr(module, "net", None), MLP)
        ):
            module.conditioner_dtype = dtype
            count += 1
    return count


__all__ = ["PRECISIONS", "Precision", "resolve_precision"]
