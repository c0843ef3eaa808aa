"""lstmkit.train: the one training engine every task and benchmark trains through.

* :class:`Trainer` / :func:`train` with :class:`TrainConfig` (:mod:`lstmkit.train.engine`): epochs, step or
  time budgets, gradient accumulation, clipping by global norm, truncated BPTT carry, evaluation, hooks;
* batch sources (:mod:`lstmkit.train.batches`): :class:`TensorBatches`, :class:`FunctionBatches`;
* schedules (:mod:`lstmkit.train.schedules`): :class:`Constant`, :class:`Cosine`, :class:`ReduceOnPlateau`,
  :class:`StepDecay`; early stopping with best-weights restore (:class:`EarlyStopping`);
* checkpoints with exact resume (:mod:`lstmkit.train.checkpoint`), precision (:mod:`lstmkit.train.precision`),
  progress and the JSONL log (:mod:`lstmkit.train.progress`), data parallelism (:mod:`lstmkit.train.distributed`).

Layering: imports only torch, numpy, rich, the standard library, :mod:`lstmkit.errors`, ``lstmkit.util``
and ``lstmkit.nn`` (the Keras-style ``Model.fit`` above it hands its loop to this engine).
See docs/training.md.
"""

from __future__ import annotations

from lstmkit.train import distributed
from lstmkit.train.batches import BatchSource, FunctionBatches, TensorBatches, epoch_generator, epoch_seed, shard
from lstmkit.train.checkpoint import KIND as CHECKPOINT_KIND
from lstmkit.train.checkpoint import Checkpoint, read_info
from lstmkit.train.early_stopping import EarlyStopping
from lstmkit.train.engine import (FunctionHooks, Hooks, StepOutput, TrainConfig, Trainer, TrainResult, TrainState,
                                  train)
from lstmkit.train.monitor import Monitor
from lstmkit.train.precision import (autocast, bf16_available, check_precision, cpu_info, precision_reason,
                                     resolve_precision)
from lstmkit.train.progress import MetricsLog, read_log
from lstmkit.train.schedules import Constant, Cosine, ReduceOnPlateau, Schedule, StepDecay, make_schedule

__all__ = [
    "Trainer", "train", "TrainConfig", "TrainResult", "TrainState", "StepOutput", "Hooks", "FunctionHooks",
    "BatchSource", "TensorBatches", "FunctionBatches", "epoch_generator", "epoch_seed", "shard",
    "Schedule", "Constant", "Cosine", "ReduceOnPlateau", "StepDecay", "make_schedule",
    "EarlyStopping", "Monitor", "Checkpoint", "read_info", "CHECKPOINT_KIND",
    "resolve_precision", "precision_reason", "check_precision", "bf16_available", "cpu_info", "autocast",
    "MetricsLog", "read_log", "distributed",
]
