"""The mutable state of one :func:`flowkit.train.trainer.fit` call and its epoch step.

Resumable snapshots (:class:`TrainState`) copy the weights and Adam's moments: for the paper's
20-million-parameter model that is about 240 MB, a noticeable fraction of a short epoch. So a
snapshot is taken when someone needs it (a checkpoint writer asks through
:meth:`TrainingLoop.snapshot`), and otherwise only often enough to cost at most
:data:`SNAPSHOT_OVERHEAD` of the training time; an interrupted run continues from the latest one.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from flowkit.datasets import Splits, dequantize
from flowkit.flows import Flow
from flowkit.metrics import bits_per_dim
from flowkit.train.compiled import compile_module
from flowkit.train.device import resolve_device, set_threads
from flowkit.train.evaluation import (
    EVALUATION_SEED,
    as_rows,
    evaluation_mode,
    fixed_dequantization,
)
from flowkit.train.precision import resolve_precision
from flowkit.train.schedule import make_scheduler, restore_scheduler, scheduler_state
from flowkit.train.state import EpochRecord, History, TrainState, clone_state
from flowkit.train.topology import LogLikelihood, Topology

if TYPE_CHECKING:  # pragma: no cover
    from flowkit.train.options import TrainOptions

#: Largest fraction of training time spent on snapshots nobody asked for.
SNAPSHOT_OVERHEAD = 0.05


class TrainingLoop:
    """Data, generators, optimiser, history and model selection of one training session."""

    def __init__(
        self,
        flow: Flow,
        splits: Splits,
        levels: int | None,
        options: TrainOptions,
        topology: Topology,
        optimizer_factory,
        state: TrainState | None,
    ) -> None:
        self.flow, self.levels, self.options, self.topology = flow, levels, options, topology
        set_threads(options.threads)
        self.batch_size = topology.process_batch_size(options.batch_size)
        self.device = resolve_device(options.device)
        self.precision = resolve_precision(options.precision, self.device)
        flow.to(self.device)
        self.train = as_rows(splits.train).to(self.device)
        self.features = self.train.shape[1]
        valid = fixed_dequantization(splits.validation, levels, EVALUATION_SEED)
        self.valid = valid[topology.shard(torch.arange(len(valid)))].to(self.device)
        self.shuffle_rng = torch.Generator().manual_seed(int(options.seed))
        self.noise_rng = torch.Generator(device=self.device).manual_seed(
            topology.noise_seed(options.seed)
        )
        if state is None:
            self._initialize()
        self.optimizer, self.optimizer_name = optimizer_factory(flow.parameters(), options)
        self.scheduler = make_scheduler(self.optimizer, options)
        self.module = compile_module(topology.wrap(LogLikelihood(flow)), options.compile)
        self.snapshot_cost, self.snapshot_time = 0.0, -math.inf
        if state is not None:
            self._restore(state)
            self.last_snapshot = state
            self.snapshot_time = time.perf_counter()
        else:
            self.history, self.elapsed, self.bad_epochs, self.epoch = History(), 0.0, 0, 0
            self.initial_ll = self.validate()
            self.best_ll = self.initial_ll if math.isfinite(self.initial_ll) else -math.inf
            self.best_state, self.best_epoch = clone_state(flow.state_dict()), 0
            self.last_snapshot = self.snapshot()

    @property
    def batches_per_epoch(self) -> int:
        rows = len(self.topology.shard(torch.arange(len(self.train)), pad=True))
        return math.ceil(rows / self.batch_size)

    # ---- one epoch -----------------------------------------------------------------------------
    def run_epoch(self, callbacks) -> EpochRecord | None:
        """Train one epoch and validate; ``None`` when a loss or the validation is not finite."""
        began = time.perf_counter()
        order = self.topology.shard(
            torch.randperm(len(self.train), generator=self.shuffle_rng), pad=True
        )
        self.flow.train()
        with self.precision.training(self.flow):  # validation below stays float32
            loss_sum, count, finite = self._train_steps(order.to(self.device), callbacks)
        trained = time.perf_counter() - began
        totals = self.topology.all_reduce_sum(torch.tensor([loss_sum, count], dtype=torch.float64))
        train_nll = float(totals[0] / totals[1])
        finite = math.isfinite(train_nll)  # the same verdict in every process
        valid_ll = self.validate() if finite else math.nan
        if not (finite and math.isfinite(train_nll) and math.isfinite(valid_ll)):
            return None
        self.epoch += 1
        if self.scheduler is not None:
            self.scheduler.step()  # once per epoch: the schedule's unit
        seconds = time.perf_counter() - began
        self.elapsed += seconds
        record = EpochRecord(
            epoch=self.epoch,
            train_nll_nats=train_nll,
            valid_nll_nats=-valid_ll,
            train_bits_per_dim=bits_per_dim(-train_nll, self.features, self.levels),
            valid_bits_per_dim=bits_per_dim(valid_ll, self.features, self.levels),
            seconds=seconds,
            samples_per_second=float(totals[1]) / max(trained, 1e-9),
        )
        self.history.append(record)
        if valid_ll > self.best_ll:
            self.best_ll, self.best_epoch, self.bad_epochs = valid_ll, self.epoch, 0
            self.best_state = clone_state(self.flow.state_dict())
        else:
            self.bad_epochs += 1
        return record

    def _train_steps(self, order: Tensor, callbacks) -> tuple[float, int, bool]:
        """Minibatch Adam over ``order``: (sum of per-example NLL, examples, all finite)."""
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        count, size = 0, self.batch_size
        # On the CPU checking every loss is free; on an accelerator it would synchronise every
        # step, so there the epoch's sum is checked once (the best weights are a safe copy).
        # With several processes every one must take every step, so the sum is checked too.
        check_each = self.device.type == "cpu" and self.topology.world_size == 1
        for begin in range(0, len(order), size):
            self.topology.poll_stop()  # Ctrl-C / SIGTERM end training here, between two steps
            rows = order[begin : begin + size]
            inputs = dequantize(self.train[rows], self.levels, self.noise_rng)
            loss = -self.module(inputs).mean()
            if check_each and not math.isfinite(loss.item()):
                return math.nan, count + len(rows), False
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.options.clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(self.flow.parameters(), self.options.clip_grad_norm)
            self.optimizer.step()
            total += loss.detach().double() * len(rows)
            count += len(rows)
            for callback in callbacks:
                callback.on_batch_end(len(rows) * self.topology.world_size)
        value = float(total)
        return value, count, math.isfinite(value)

    def validate(self) -> float:
        """Mean validation log-likelihood, exact over processes (sum / count)."""
        total = torch.zeros(2, dtype=torch.float64)
        size = self.options.eval_batch_size
        with evaluation_mode(self.flow):
            for begin in range(0, len(self.valid), size):
                values = self.flow.log_prob(self.valid[begin : begin + size])
                total[0] += values.double().sum().cpu()
                total[1] += len(values)
        total = self.topology.all_reduce_sum(total)
        return float(total[0] / total[1])

    # ---- snapshots -----------------------------------------------------------------------------
    def snapshot(self) -> TrainState:
        """A resumable copy of the current state (kept as :attr:`last_snapshot`)."""
        began = time.perf_counter()
        self.last_snapshot = TrainState(
            epoch=self.epoch,
            model=clone_state(self.flow.state_dict()),
            optimizer=clone_state(self.optimizer.state_dict()["state"]),
            best_model=self.best_state,
            best_epoch=self.best_epoch,
            best_valid_ll=self.best_ll,
            bad_epochs=self.bad_epochs,
            rng={"shuffle": self.shuffle_rng.get_state(), "noise": self.noise_rng.get_state()},
            rng_devices={"shuffle": "cpu", "noise": self.noise_rng.device.type},
            history=self.history.copy(),
            elapsed_seconds=self.elapsed,
            initial_valid_ll=self.initial_ll,
            scheduler=scheduler_state(self.scheduler),
        )
        self.snapshot_time = time.perf_counter()
        self.snapshot_cost = self.snapshot_time - began
        return self.last_snapshot

    def snapshot_due(self) -> bool:
        if self.last_snapshot.epoch == self.epoch:
            return False
        waited = time.perf_counter() - self.snapshot_time
        return waited * SNAPSHOT_OVERHEAD >= self.snapshot_cost

    def current_snapshot(self) -> TrainState:
        return self.last_snapshot if self.last_snapshot.epoch == self.epoch else self.snapshot()

    # ---- start ---------------------------------------------------------------------------------
    def _initialize(self) -> None:
        """Data-dependent initialisation on a seeded sample of dequantised training rows."""
        count = min(self.options.init_examples, len(self.train))
        rows = torch.randperm(len(self.train), generator=self.shuffle_rng)[:count]
        sample = dequantize(self.train[rows.to(self.device)].cpu(), self.levels, self.shuffle_rng)
        self.topology.initialize(self.flow, sample.to(self.device))

    def _restore(self, state: TrainState) -> None:
        """Weights, Adam moments, generator states and model selection of a snapshot."""
        self.flow.load_state_dict(state.model)
        groups = self.optimizer.state_dict()["param_groups"]
        self.optimizer.load_state_dict({"state": state.optimizer, "param_groups": groups})
        restore_scheduler(self.scheduler, self.optimizer, state.scheduler)
        self.shuffle_rng.set_state(state.rng["shuffle"])
        # The stored noise state is rank 0's: other processes must not replay it.
        if (
            state.rng_devices.get("noise", "cpu") == self.device.type
            and self.topology.world_size == 1
        ):
            self.noise_rng.set_state(state.rng["noise"])
        else:
            # A generator state of another device type cannot be loaded (nor rank 0's be shared);
            # continue with a seed that depends on where the run stopped (and on the rank): no
            # longer bit-exact, still reproducible.
            self.noise_rng.manual_seed(
                self.topology.noise_seed(self.options.seed) + 104729 * state.epoch
            )
        self.history, self.elapsed = state.history.copy(), state.elapsed_seconds
        self.best_state, self.best_epoch = state.best_model, state.best_epoch
        self.best_ll, self.bad_epochs = state.best_valid_ll, state.bad_epochs
        self.initial_ll, self.epoch = state.initial_valid_ll, state.epoch


__all__ = ["SNAPSHOT_OVERHEAD", "TrainingLoop"]
