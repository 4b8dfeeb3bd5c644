"""Where training runs: one process, or (later) several with torch.distributed.

The trainer never asks torch.distributed anything directly. It goes through a :class:`Topology`,
whose methods are the only places that change when training is spread over processes:
which examples a process trains and evaluates on (:meth:`Topology.shard`), how per-process sums
become global ones (:meth:`Topology.all_reduce_sum`), how the model is wrapped for gradient
synchronisation (:meth:`Topology.wrap`), how data-dependent initialisation is made identical
everywhere (:meth:`Topology.initialize`), and who writes files and prints
(:attr:`Topology.is_main_process`). The base class is the single-process case.
"""

from __future__ import annotations

from torch import Tensor, nn

from flowkit.flows import Flow


class Topology:
    """A single process: every method is the identity. Subclass for distributed training."""

    #: Name recorded in run files.
    name: str = "single-process"

    @property
    def rank(self) -> int:
        return 0

    @property
    def world_size(self) -> int:
        return 1

    @property
    def is_main_process(self) -> bool:
        """True in the one process that writes run files and prints progress."""
        return self.rank == 0

    def shard(self, indices: Tensor, *, pad: bool = False) -> Tensor:
        """The part of ``indices`` (shared by every process) this process works on.

        Used for each epoch's shuffled training order (``pad=True``: every process must get the
        same number of rows, hence of batches; a few rows may repeat) and for ``arange(n)`` of
        evaluation rows (``pad=False``: an exact partition, every example counted once).
        """
        return indices

    def process_batch_size(self, batch_size: int) -> int:
        """Rows per training step in this process for the global ``batch_size``."""
        return batch_size

    def all_reduce_sum(self, values: Tensor) -> Tensor:
        """Element-wise sum of ``values`` over processes (float64 sums of log-likelihoods)."""
        return values

    def wrap(self, module: nn.Module) -> nn.Module:
        """The module whose ``forward`` the training step calls (DistributedDataParallel)."""
        return module

    def initialize(self, flow: Flow, inputs: Tensor) -> None:
        """Data-dependent initialisation of ``flow`` (same result in every process)."""
        initialize = getattr(flow.transform, "initialize", None)
        if initialize is not None:
            initialize(inputs)

    def synchronize(self, module: nn.Module) -> None:
        """Make every process's copy of ``module`` (parameters and buffers) the main one's."""

    #: Set by :meth:`request_stop` (the SIGINT/SIGTERM handler while training runs).
    stop_requested: bool = False

    def request_stop(self, signum: int | None = None, frame: object = None) -> None:
        """Ask training to stop at the next step; usable directly as a signal handler.

        A signal handler that raised ``KeyboardInterrupt`` at once could fire inside a ``__del__``
        (h5py and torch objects are freed all the time), where Python drops the exception and the
        run never stops; so the handler only sets a flag, and :meth:`poll_stop` acts on it.
        """
        self.stop_requested = True

    def poll_stop(self) -> None:
        """Called before every training step: raises ``KeyboardInterrupt`` once a stop was
        asked."""
        if self.stop_requested:
            self.stop_requested = False
            raise KeyboardInterrupt

    def noise_seed(self, seed: int) -> int:
        """Seed of this process's dequantisation noise (distinct per process)."""
        return int(seed) + 1 + 7919 * self.rank

    def barrier(self) -> None:
        """Wait for every process (nothing to wait for here)."""


class LogLikelihood(nn.Module):
    """``forward(x) = flow.log_prob(x)``: gives a flow a ``forward`` that DDP can wrap.

    nflows' ``Distribution.forward`` refuses to be called, so the training step goes through this.
    """

    def __init__(self, flow: Flow) -> None:
        super().__init__()
        self.flow = flow

    def forward(self, inputs: Tensor) -> Tensor:
        return self.flow.log_prob(inputs)


SINGLE_PROCESS = Topology()


def default_topology() -> Topology:
    return SINGLE_PROCESS


__all__ = ["SINGLE_PROCESS", "LogLikelihood", "Topology", "default_topology"]
