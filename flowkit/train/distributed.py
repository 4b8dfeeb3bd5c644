"""Data-parallel training on several processes: torch.distributed with DistributedDataParallel.

:class:`DistributedTopology` is the :class:`flowkit.train.topology.Topology` of one process among
``WORLD_SIZE``, as started by ``torchrun`` (or ``flowkit run --nproc N``, see
:mod:`flowkit.train.launch`). It reads the launcher's environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) and joins the process group: gloo on CPUs;
with CUDA, NCCL for GPU tensors and gloo for the small CPU sums (``cpu:gloo,cuda:nccl``), one GPU
per process (``cuda:LOCAL_RANK``).

What changes against a single process:

- training rows: every epoch's shuffled order (the same permutation in every process, drawn from
  the run's seeded generator, so re-seeded each epoch) is dealt out round-robin, padded by
  repeating its first rows so that every process gets the same number of rows and batches
  (``DistributedSampler`` with ``drop_last=False``);
- ``--batch-size`` is the *global* batch: each process trains ``batch_size / world_size`` rows per
  step and DDP averages the gradients, so one step sees the same number of examples as in one
  process;
- validation and test rows are an exact partition; sums of log-likelihoods (float64) and counts
  are all-reduced, so the means equal a single-process evaluation of the same weights;
- data-dependent initialisation (ActNorm, ZCA) runs in every process on the same seeded sample,
  then rank 0's parameters and buffers are broadcast so that every copy is bit-identical;
- Ctrl-C and SIGTERM only set a flag; the processes agree at the next training step (a tiny
  all-reduce, overlapped with the step) and all stop there, as one process would on Ctrl-C;
- every collective has a timeout (``FLOWKIT_DIST_TIMEOUT`` seconds, default
  :data:`DEFAULT_TIMEOUT`): a process whose peer died or hangs fails instead of waiting forever.
"""

from __future__ import annotations

import inspect
import math
import os
import signal
import threading
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from flowkit.errors import ConfigurationError
from flowkit.flows import Flow
from flowkit.train.topology import Topology

#: Environment variable: seconds a collective may wait for the other processes.
TIMEOUT_ENV = "FLOWKIT_DIST_TIMEOUT"
#: Default of :data:`TIMEOUT_ENV`. It bounds how long a process waits for a peer that hangs
#: (a dead peer is noticed at once), so it must exceed the longest stretch one process works
#: alone: rank 0 writing a checkpoint of the paper's model takes a few seconds.
DEFAULT_TIMEOUT = 300.0
#: Signals that stop every process together at the next training step.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: DDP's switch for "no buffer broadcast before every forward" (renamed in recent torch).
_NO_BUFFER_SYNC: dict[str, Any] = (
    {"forward_sync_buffers": False}
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
    else {"broadcast_buffers": False}
)


def launched_world_size(environ: Mapping[str, str] | None = None) -> int:
    """``WORLD_SIZE`` set by a launcher (torchrun, ``flowkit run --nproc``), else 1."""
    environ = os.environ if environ is None else environ
    text = environ.get("WORLD_SIZE", "").strip()
    if not text:
        return 1
    try:
        size = int(text)
    except ValueError:
        raise ConfigurationError(f"WORLD_SIZE={text!r} is not a number of processes") from None
    if size < 1:
        raise ConfigurationError(f"WORLD_SIZE={text!r} must be >= 1")
    return size


def shard_indices(indices: Tensor, rank: int, world_size: int, *, pad: bool = False) -> Tensor:
    """Rows ``rank, rank + world_size, ...`` of ``indices``.

    Without ``pad`` the shards partition ``indices`` exactly (sizes differ by at most one): for
    evaluation, where every example must count once. With ``pad`` the list is first extended by
    repeating its first entries to a multiple of ``world_size``, so every shard has
    ``ceil(n / world_size)`` entries: for training, where every process must take the same
    number of steps.
    """
    count = len(indices)
    if pad and count % world_size:
        total = math.ceil(count / world_size) * world_size
        indices = indices.repeat(math.ceil(total / count))[:total]
    return indices[rank::world_size]


def process_batch_size(batch_size: int, world_size: int) -> int:
    """Rows per process and step for a global ``batch_size`` (which must split evenly)."""
    if batch_size % world_size:
        low = batch_size - batch_size % world_size
        raise ConfigurationError(
            f"--batch-size {batch_size} is the global batch and must split evenly between "
            f"{world_size} processes; use a multiple of {world_size} such as "
            f"{low or world_size} or {low + world_size}"
        )
    return batch_size // world_size


def collective_timeout(environ: Mapping[str, str] | None = None) -> timedelta:
    """The timeout of every collective: :data:`TIMEOUT_ENV` seconds, else the default."""
    environ = os.environ if environ is None else environ
    text = environ.get(TIMEOUT_ENV, "").strip()
    try:
        seconds = float(text) if text else DEFAULT_TIMEOUT
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigurationError(f"{TIMEOUT_ENV}={text!r} must be a positive number of seconds")
    return timedelta(seconds=seconds)


class DistributedTopology(Topology):
    """One process of a data-parallel run (see the module documentation).

    Create it with :meth:`from_environment` inside a process started by a launcher, pass it to
    :func:`flowkit.run.runner.start_run` / :func:`flowkit.train.trainer.fit` as ``topology``, and
    call :meth:`close` at the end.
    """

    name = "torch.distributed"

    def __init__(
        self, rank: int, world_size: int, local_rank: int = 0, local_world_size: int | None = None
    ) -> None:
        self._rank, self._world_size = int(rank), int(world_size)
        self.local_rank = int(local_rank)
        self.local_world_size = int(local_world_size or world_size)
        self.backend = dist.get_backend() if dist.is_initialized() else "none"
        self.name = f"torch.distributed ({self.backend})"
        self.stop_requested = False
        self._pending_stop: tuple[dist.Work, Tensor] | None = None
        self._previous_handlers: dict[int, Any] = {}

    @classmethod
    def from_environment(cls) -> DistributedTopology:
        """Join the process group described by a launcher's environment variables."""
        environ = os.environ
        world_size = launched_world_size(environ)
        missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if not environ.get(k)]
        if missing:
            raise ConfigurationError(
                f"WORLD_SIZE={world_size} but {', '.join(missing)} not set: start several "
                "processes with `torchrun --nproc-per-node N -m flowkit run ...` or "
                "`flowkit run --nproc N ...`"
            )
        rank = int(environ["RANK"])
        local_rank = int(environ.get("LOCAL_RANK", rank))
        local_world_size = int(environ.get("LOCAL_WORLD_SIZE", world_size))
        timeout = collective_timeout(environ)
        if torch.cuda.is_available():
            # NCCL only comes into play (lazily) if the model is put on a GPU: --device cpu
            # trains on gloo alone, even with more processes than GPUs.
            if local_rank < torch.cuda.device_count():
                torch.cuda.set_device(local_rank)  # "cuda" and "auto" mean cuda:LOCAL_RANK
            # NCCL: abort a process whose collective failed or timed out instead of hanging.
            os.environ.setdefault("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1")
            backend = "cpu:gloo,cuda:nccl"
        else:
            backend = "gloo"
        if not dist.is_initialized():
            dist.init_process_group(
                backend, init_method="env://", rank=rank, world_size=world_size, timeout=timeout
            )
        topology = cls(rank, world_size, local_rank, local_world_size)
        topology.install_signal_handlers()
        return topology

    # ---- Topology ------------------------------------------------------------------------------
    @property
    def rank(self) -> int:
        return self._rank

    @property
    def world_size(self) -> int:
        return self._world_size

    def shard(self, indices: Tensor, *, pad: bool = False) -> Tensor:
        return shard_indices(indices, self.rank, self.world_size, pad=pad)

    def process_batch_size(self, batch_size: int) -> int:
        return process_batch_size(batch_size, self.world_size)

    def all_reduce_sum(self, values: Tensor) -> Tensor:
        total = values.detach().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total

    def wrap(self, module: nn.Module) -> nn.Module:
        device = next(iter(module.parameters())).device
        if device.type == "cuda" and device.index != self.local_rank:
            if self.local_rank >= torch.cuda.device_count():
                raise ConfigurationError(
                    f"LOCAL_RANK {self.local_rank} has no GPU of its own "
                    f"({torch.cuda.device_count()} visible): start at most one process per GPU "
                    "on each node, or train on the CPU with --device cpu"
                )
            raise ConfigurationError(
                f"each process trains on the GPU of its LOCAL_RANK (cuda:{self.local_rank}), "
                f"not {device}; use --device auto or cuda"
            )
        # static_graph: a flow uses the same parameters every step, which lets DDP skip the
        # search for unused parameters and still accept a plugin layer that has some.
        # Buffers are not re-broadcast each step: they only change in data-dependent
        # initialisation, which synchronises them itself.
        ddp = DistributedDataParallel(
            module,
            device_ids=[device.index] if device.type == "cuda" else None,
            static_graph=True,
            **_NO_BUFFER_SYNC,
        )
        return ddp

    def initialize(self, flow: Flow, inputs: Tensor) -> None:
        super().initialize(flow, inputs)
        self.synchronize(flow)

    def synchronize(self, module: nn.Module) -> None:
        """Overwrite every process's parameters and buffers with rank 0's (one broadcast per
        dtype and device)."""
        groups: dict[tuple[torch.dtype, torch.device], list[Tensor]] = {}
        for tensor in module.state_dict().values():
            groups.setdefault((tensor.dtype, tensor.device), []).append(tensor)
        for (dtype, _device), tensors in groups.items():
            wire = torch.uint8 if dtype == torch.bool else dtype  # gloo has no bool
            flat = torch.cat([t.reshape(-1).to(wire) for t in tensors])
            dist.broadcast(flat, src=0)
            offset = 0
            for tensor in tensors:
                tensor.copy_(flat[offset : offset + tensor.numel()].view_as(tensor).to(dtype))
                offset += tensor.numel()

    def barrier(self) -> None:
        dist.barrier()

    # ---- stopping together ---------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        """Make SIGINT and SIGTERM request a stop instead of interrupting this process alone
        (which would leave the others waiting in a collective)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in STOP_SIGNALS:
            self._previous_handlers[signum] = signal.signal(signum, self.request_stop)

    def poll_stop(self) -> None:
        """Called before every training step, in every process: raises ``KeyboardInterrupt`` in
        all of them at the same step once any of them has been asked to stop (a SIGINT or
        SIGTERM handled by :meth:`Topology.request_stop`).

        The flags are combined by an all-reduce (max) that runs during the step and is read at
        the next one, so checking costs no waiting.
        """
        if self._pending_stop is not None:
            work, flag = self._pending_stop
            self._pending_stop = None
            work.wait()
            if flag.item():
                raise KeyboardInterrupt
        flag = torch.tensor([int(self.stop_requested)], dtype=torch.int32)
        work = dist.all_reduce(flag, op=dist.ReduceOp.MAX, async_op=True)
        self._pending_stop = (work, flag)

    def close(self) -> None:
        """Leave the process group, then restore the signal handlers (after a normal end; after
        a failure, exiting the process is enough). Until the group is gone a signal only sets
        the stop flag: a second Ctrl-C cannot interrupt the teardown."""
        if self._pending_stop is not None:
            self._pending_stop[0].wait()
            self._pending_stop = None
        if dist.is_initialized():
            dist.destroy_process_group()
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers.clear()


__all__ = [
    "DEFAULT_TIMEOUT",
    "TIMEOUT_ENV",
    "DistributedTopology",
    "collective_timeout",
    "launched_world_size",
    "process_batch_size",
    "shard_indices",
]
