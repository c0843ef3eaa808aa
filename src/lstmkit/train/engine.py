"""The training loop every task and benchmark runs through.

A task supplies four things and the engine does the rest:

* a **step function** ``step_fn(model, batch, carry) -> loss`` (a scalar mean over the batch), or a
  :class:`StepOutput` ``(loss, weight, carry, metrics)``: ``weight`` is how many samples or tokens
  the mean is over (for exact averaging over accumulated micro-batches, processes and epochs),
  ``carry`` the state truncated BPTT passes to the next step (an LSTM's ``(h, c)``; the engine
  detaches it), ``metrics`` a dict of on-device scalar tensors (batch means, averaged like the loss);
* a **batch source** (:mod:`lstmkit.train.batches`) that can give batch ``i`` of epoch ``e`` again
  and again, so a resumed run sees the same batches;
* optionally an **evaluate** function ``evaluate(model) -> {name: float}`` (run in eval mode under
  ``torch.no_grad()`` at epoch ends and/or every ``eval_every`` steps), an ``init_carry(epoch)`` that
  resets the carry at the start of each epoch (default: ``None``, which ``torch.nn.LSTM`` reads as
  zeros), and **hooks** (:class:`Hooks`);
* a **fingerprint** (the settings a resumed run must share) and an ``extra`` JSON dict saved in checkpoints.

The loop, per optimizer step: set the learning rate from the schedule; run ``grad_accum`` batches
(``backward`` of each loss, weighted by its share when several are combined); in a multi-process run
all-reduce the gradients and the loss sums in one call; clip by global norm; ``optimizer.step()``;
add the loss to an on-device running sum (no host sync: the sum is read back at most ten times a
second for the progress bar, and at epoch ends); call ``on_step``; evaluate / checkpoint / log when
due. It stops at ``epochs``, ``max_steps`` or ``minutes`` of training time, whichever comes first,
or on early stopping, a hook's request or Ctrl-C (which saves a checkpoint first).

Resume is exact: a run resumed from a checkpoint ends with the same weights, bit for bit, as the
uninterrupted run (on CPU, same thread count, ``epochs``/``max_steps`` budgets; a ``minutes`` budget
depends on the clock by nature).

>>> import torch
>>> from lstmkit.train import Trainer, TensorBatches
>>> torch.manual_seed(0)  # doctest: +ELLIPSIS
<torch._C.Generator object at ...>
>>> x, y = torch.randn(64, 3), torch.randn(64, 1)
>>> model = torch.nn.Linear(3, 1)
>>> def step(model, batch, carry):
...     xb, yb = batch
...     return torch.nn.functional.mse_loss(model(xb), yb)
>>> result = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), step,
...                  TensorBatches(x, y, batch_size=16), epochs=3).fit()
>>> result.steps, len(result.history)
(12, 3)
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch

from lstmkit.errors import ConfigError, ModelFileError
from lstmkit.nn.threads import torch_threads
from lstmkit.train import checkpoint as ckpt_io
from lstmkit.train import distributed as dist
from lstmkit.train.batches import BatchSource, check_source
from lstmkit.train.early_stopping import EarlyStopping
from lstmkit.train.precision import autocast, resolve_precision
from lstmkit.train.progress import MetricsLog, Progress, format_logs
from lstmkit.train.schedules import Schedule, make_schedule
from lstmkit.train.signals import StopFlag
from lstmkit.util.files import prepare_output


@dataclass
class StepOutput:
    """What a step function may return (a bare loss tensor means ``StepOutput(loss)``).

    ``loss``: scalar, the mean over the batch. ``weight``: samples/tokens behind that mean (a number,
    or an on-device scalar tensor such as a count of non-padding tokens). ``carry``: the state for the
    next step (detached by the engine). ``metrics``: ``{name: scalar tensor}``, batch means.
    """

    loss: torch.Tensor
    weight: float | int | torch.Tensor = 1
    carry: Any = None
    metrics: dict[str, torch.Tensor] | None = None


class Hooks:
    """Override any of these; every one gets the live :class:`TrainState`.

    ``on_step`` returning True stops the run like Ctrl-C (a checkpoint is written, the result says
    ``interrupted``); ``on_epoch_end`` may add entries to ``logs`` (they reach the history, the
    schedule and early stopping) and returning True ends the run after this epoch (like Keras's
    ``model.stop_training``).
    """

    def on_train_begin(self, state: "TrainState") -> None: ...
    def on_epoch_begin(self, state: "TrainState") -> None: ...
    def on_step_begin(self, state: "TrainState") -> None: ...
    def on_step(self, state: "TrainState") -> bool | None: ...
    def on_eval(self, state: "TrainState", metrics: dict[str, float]) -> None: ...
    def on_epoch_end(self, state: "TrainState", logs: dict[str, float]) -> bool | None: ...
    def on_train_end(self, state: "TrainState") -> None: ...


class FunctionHooks(Hooks):
    """Hooks from plain functions: ``FunctionHooks(on_step=f, on_epoch_end=g, on_eval=h)``."""

    def __init__(self, **fns: Callable[..., Any]) -> None:
        names = {n for n in dir(Hooks) if n.startswith("on_")}
        for name, fn in fns.items():
            if name not in names:
                raise ConfigError(f"hooks: unknown hook {name!r}; known: {', '.join(sorted(names))}")
            if fn is not None:
                if not callable(fn):
                    raise ConfigError(f"{name}: expected a function, found {type(fn).__name__}")
                setattr(self, name, fn)


@dataclass
class TrainState:
    """Where a run is: read by hooks (do not assign). ``epoch`` is 0-based and ``batch`` the next batch's index."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    elapsed: float = 0.0
    lr: float = 0.0
    epochs: int | None = None
    batches_in_epoch: int | None = None
    rank: int = 0
    world_size: int = 1
    grad_norm: torch.Tensor | None = None
    logs: dict[str, float] = field(default_factory=dict)
    model: Any = None
    trainer: Any = None
    _loss_sum: Any = None
    _weight: Any = None

    @property
    def loss(self) -> torch.Tensor | None:
        """The last optimizer step's mean loss, an on-device tensor (``float()`` on it is a host sync)."""
        if self._loss_sum is None:
            return None
        return self._loss_sum if isinstance(self._weight, (int, float)) and self._weight == 1 else self._loss_sum / self._weight

    @property
    def progress(self) -> float:
        """Fraction of the run's budget used, in [0, 1] (the largest over steps and time)."""
        return self.trainer.progress() if self.trainer is not None else 0.0


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns.

    ``history``: one dict per finished epoch (``epoch`` 1-based, ``step``, ``lr``, ``loss``, metrics,
    evaluation results, ``seconds``). ``evals``: every evaluation (``step``, ``epoch``, metrics).
    ``stop_reason``: ``epochs``, ``max_steps``, ``time``, ``early_stopping``, ``hook`` or ``interrupted``.
    """

    history: list[dict[str, Any]]
    evals: list[dict[str, Any]]
    steps: int
    epochs_completed: int
    elapsed: float
    stop_reason: str
    interrupted: bool
    final_logs: dict[str, float]
    precision: str
    checkpoint: Path | None = None
    resumed: bool = False
    best: dict[str, float] | None = None
    best_epoch: int | None = None
    best_step: int | None = None
    extra: dict[str, Any] | None = None

    def metric(self, name: str) -> list[float]:
        """One logged value per finished epoch, e.g. ``result.metric("val_loss")``."""
        return [h[name] for h in self.history if name in h]


_ALIASES = {"lr": "learning_rate", "clip": "clip_norm", "steps": "max_steps", "accum": "grad_accum",
            "gradient_accumulation": "grad_accum"}


@dataclass
class TrainConfig:
    """The engine's options. Build it from user input with :meth:`from_dict` (accepts ``lr``/``clip`` aliases).

    * ``epochs`` / ``max_steps`` / ``minutes``: the budget, whichever ends first (at least one; ``minutes``
      counts training time, not evaluation or checkpoint writing). ``initial_epoch``: start counting there.
    * ``grad_accum``: batches per optimizer step. ``clip_norm``: clip the global gradient norm (None: off).
    * ``learning_rate``: ``lr_0`` of the first parameter group (None: the optimizer's own); ``schedule``:
      a :class:`~lstmkit.train.schedules.Schedule` or a name (``constant``, ``cosine``, ``plateau``, ``step``).
    * ``early_stopping``: an :class:`~lstmkit.train.early_stopping.EarlyStopping` (None: off).
    * ``precision``: ``fp32``, ``bf16`` or ``auto`` (:mod:`lstmkit.train.precision`).
    * ``eval_every``: also evaluate every N steps; ``eval_at_epoch_end``: evaluate at each epoch's end.
    * ``checkpoint``: the file; ``checkpoint_every`` N steps; ``checkpoint_at_epoch_end``; ``resume``:
      continue from ``checkpoint`` (it must exist). A checkpoint is also written when the run ends and at Ctrl-C.
    * ``verbose``: 0, 1 (a bar per epoch) or 2 (a line per epoch). ``log_path``: a JSONL metrics log;
      ``log_every``: a ``step`` event every N steps (0: only epoch and eval events).
    * ``threads``: torch threads for the run (None: leave as is). ``handle_sigint``: Ctrl-C saves and stops.
    """

    epochs: int | None = 1
    max_steps: int | None = None
    minutes: float | None = None
    initial_epoch: int = 0
    grad_accum: int = 1
    clip_norm: float | None = None
    learning_rate: float | None = None
    schedule: Schedule | str | None = None
    early_stopping: EarlyStopping | None = None
    precision: str = "fp32"
    eval_every: int | None = None
    eval_at_epoch_end: bool = True
    checkpoint: str | os.PathLike[str] | None = None
    checkpoint_every: int | None = None
    checkpoint_at_epoch_end: bool = True
    resume: bool = False
    verbose: int = 0
    log_path: str | os.PathLike[str] | None = None
    log_every: int = 0
    threads: int | None = None
    handle_sigint: bool = True

    @classmethod
    def from_dict(cls, options: dict[str, Any]) -> "TrainConfig":
        """A config from a dict of user options; ``lr``, ``clip``, ``steps``, ``accum`` are accepted aliases."""
        known = {f.name for f in dataclasses.fields(cls)}
        out: dict[str, Any] = {}
        for key, value in options.items():
            name = _ALIASES.get(key, key)
            if name not in known:
                raise ConfigError(f"train option {key!r}: unknown; known options: {', '.join(sorted(known))}")
            if name in out and key != name:
                raise ConfigError(f"train option {key!r}: given twice (as {key!r} and {name!r})")
            out[name] = value
        return cls(**out).checked()

    def replace(self, **options: Any) -> "TrainConfig":
        merged = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for key, value in options.items():
            merged[_ALIASES.get(key, key)] = value
        return TrainConfig.from_dict(merged)

    def checked(self) -> "TrainConfig":
        def pos_int(name: str, low: int = 1, none: bool = True) -> None:
            v = getattr(self, name)
            if v is None and none:
                return
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ConfigError(f"{name}: expected an integer >= {low}{' or None' if none else ''}, found {v!r}")

        pos_int("epochs")
        pos_int("max_steps")
        pos_int("initial_epoch", 0, none=False)
        pos_int("grad_accum", none=False)
        pos_int("eval_every")
        pos_int("checkpoint_every")
        pos_int("log_every", 0, none=False)
        pos_int("threads")
        for name in ("minutes", "clip_norm", "learning_rate"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not (v > 0 and math.isfinite(v))):
                raise ConfigError(f"{name}: expected a positive number or None, found {v!r}")
        if self.epochs is None and self.max_steps is None and self.minutes is None:
            raise ConfigError("budget: give epochs, max_steps or minutes (found none)")
        if self.epochs is not None and self.initial_epoch >= self.epochs:
            raise ConfigError(f"initial_epoch: expected an integer in [0, epochs={self.epochs}), found {self.initial_epoch}")
        if self.verbose not in (0, 1, 2) or isinstance(self.verbose, bool):
            raise ConfigError(f"verbose: expected 0, 1 or 2, found {self.verbose!r}")
        if self.early_stopping is not None and not isinstance(self.early_stopping, EarlyStopping):
            raise ConfigError(f"early_stopping: expected an lstmkit.train.EarlyStopping, found {type(self.early_stopping).__name__}")
        for name in ("eval_at_epoch_end", "checkpoint_at_epoch_end", "resume", "handle_sigint"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}: expected true or false, found {getattr(self, name)!r}")
        if self.resume and self.checkpoint is None:
            raise ConfigError("resume: needs checkpoint= (the file to resume from)")
        if self.checkpoint_every is not None and self.checkpoint is None:
            raise ConfigError("checkpoint_every: needs checkpoint= (the file to write)")
        make_schedule(self.schedule) if not isinstance(self.schedule, Schedule) else None
        return self


_STOP_CODES = {None: 0, "time": 1, "max_steps": 1, "hook": 2, "interrupted": 3}


def _overrides(hooks: Sequence[Hooks], name: str) -> list[Callable[..., Any]]:
    base = getattr(Hooks, name)
    out = []
    for h in hooks:
        fn = getattr(h, name)
        if getattr(fn, "__func__", fn) is not base:
            out.append(fn)
    return out


def _model_device(model: torch.nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


class Trainer:
    """One training run: ``Trainer(model, optimizer, step_fn, batches, config, **options).fit()``.

    ``options`` are :class:`TrainConfig` fields (or its aliases) and override ``config``. ``evaluate``,
    ``init_carry``, ``hooks`` (a :class:`Hooks` or a list), ``on_step``/``on_epoch_end``/``on_eval``
    (shortcuts for :class:`FunctionHooks`), ``fingerprint`` and ``extra`` (a dict or a function
    returning one, called at every save) are described in the module docstring.
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 step_fn: Callable[[torch.nn.Module, Any, Any], Any], batches: BatchSource,
                 config: TrainConfig | None = None, *, evaluate: Callable[[torch.nn.Module], dict[str, float]] | None = None,
                 init_carry: Callable[[int], Any] | None = None, hooks: Hooks | Iterable[Hooks] | None = None,
                 on_step: Callable[[TrainState], Any] | None = None,
                 on_epoch_end: Callable[[TrainState, dict], Any] | None = None,
                 on_eval: Callable[[TrainState, dict], Any] | None = None,
                 fingerprint: dict[str, Any] | None = None, extra: dict[str, Any] | Callable[[], dict] | None = None,
                 **options: Any) -> None:
        if not isinstance(model, torch.nn.Module):
            raise ConfigError(f"model: expected a torch.nn.Module, found {type(model).__name__}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ConfigError(f"optimizer: expected a torch.optim.Optimizer, found {type(optimizer).__name__}")
        if not callable(step_fn):
            raise ConfigError(f"step_fn: expected a function (model, batch, carry) -> loss, found {type(step_fn).__name__}")
        for name, fn in (("evaluate", evaluate), ("init_carry", init_carry)):
            if fn is not None and not callable(fn):
                raise ConfigError(f"{name}: expected a function, found {type(fn).__name__}")
        cfg = config if config is not None else TrainConfig()
        if not isinstance(cfg, TrainConfig):
            raise ConfigError(f"config: expected an lstmkit.train.TrainConfig, found {type(cfg).__name__}")
        self.config = cfg.replace(**options) if options else cfg.checked()
        self.model, self.optimizer, self.step_fn = model, optimizer, step_fn
        self.batches = check_source(batches)
        self.evaluate_fn, self.init_carry = evaluate, init_carry
        hook_list = [] if hooks is None else [hooks] if isinstance(hooks, Hooks) else list(hooks)
        for h in hook_list:
            if not isinstance(h, Hooks):
                raise ConfigError(f"hooks: expected lstmkit.train.Hooks objects, found {type(h).__name__}")
        if on_step or on_epoch_end or on_eval:
            hook_list.append(FunctionHooks(on_step=on_step, on_epoch_end=on_epoch_end, on_eval=on_eval))
        self.hooks = hook_list
        if fingerprint is not None and not isinstance(fingerprint, dict):
            raise ConfigError(f"fingerprint: expected a dict of settings, found {type(fingerprint).__name__}")
        self.task_fingerprint = dict(fingerprint or {})
        ckpt_io._jsonable_check(self.task_fingerprint, "fingerprint")
        if extra is not None and not (isinstance(extra, dict) or callable(extra)):
            raise ConfigError(f"extra: expected a dict or a function returning one, found {type(extra).__name__}")
        self.extra = extra
        self.schedule = make_schedule(self.config.schedule)
        self.early_stopping = self.config.early_stopping
        if self.early_stopping is not None and evaluate is None and any(
                n.startswith("val_") for n in self.early_stopping.monitor.names):
            raise ConfigError(f"early_stopping: monitors {self.early_stopping.monitor.name!r}, but no evaluate function "
                              "was given (val_ metrics come from evaluate)")
        self.state = TrainState(model=model, trainer=self)
        self.resumed_extra: dict[str, Any] | None = None
        self._params = [p for g in optimizer.param_groups for p in g["params"]]
        self._takes_carry = True
        self._clock_offset = 0.0  # added to this process's clock to read rank 0's (multi-process, time budget)

    # -------------------------------------------------------------------------------------- budget
    def _steps_in_epoch(self, epoch: int) -> int | None:
        n = self.batches.num_batches(epoch)
        if n is None:
            return None
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"batches: num_batches({epoch}) should be a positive integer or None, found {n!r}")
        return -(-n // self.config.grad_accum)

    def _total_steps(self) -> int | None:
        c = self.config
        total = None
        if c.epochs is not None:
            per = [self._steps_in_epoch(e) for e in range(c.epochs)] if c.epochs <= 100_000 else [None]
            if all(p is not None for p in per):
                total = sum(per)
        if c.max_steps is not None:
            total = c.max_steps if total is None else min(total, c.max_steps)
        return total

    def progress(self) -> float:
        """Fraction of the budget used (the largest of steps / total steps and seconds / time budget)."""
        p = 0.0
        if self._total is not None:
            p = max(p, self.state.step / self._total)
        if self._budget is not None:
            p = max(p, self.state.elapsed / self._budget)
        return min(1.0, p)

    # -------------------------------------------------------------------------------------- clock
    def _now(self) -> float:
        """Training seconds so far (rank 0's clock in a multi-process run with a time budget)."""
        return time.perf_counter() - self._t0 - self._paused + self._clock_offset

    @contextlib.contextmanager
    def _pause(self):
        t = time.perf_counter()
        try:
            yield
        finally:
            self._paused += time.perf_counter() - t

    # -------------------------------------------------------------------------------------- fingerprint
    def fingerprint(self) -> dict[str, Any]:
        c = self.config
        own = {
            "learning_rate": self._base_lrs[0], "clip_norm": c.clip_norm, "grad_accum": c.grad_accum,
            "world_size": self.state.world_size, "precision": self.precision,
            "schedule": self.schedule.config(), "optimizer": type(self.optimizer).__name__,
            "early_stopping": None if self.early_stopping is None else self.early_stopping.config(),
        }
        clash = sorted(set(own) & set(self.task_fingerprint))
        if clash:
            raise ConfigError(f"fingerprint: {clash[0]!r} is one of the engine's own settings; use another name")
        return ckpt_io._jsonable({**self.task_fingerprint, **own})

    # -------------------------------------------------------------------------------------- accumulators
    def _new_accumulators(self) -> None:
        dev = self._device
        self._acc = {"loss": torch.zeros((), dtype=torch.float64, device=dev),
                     "weight": torch.zeros((), dtype=torch.float64, device=dev)}
        self._log_snap = {"loss": 0.0, "weight": 0.0}

    def _epoch_logs(self) -> dict[str, float]:
        w = float(self._acc["weight"])
        logs = {"loss": float(self._acc["loss"]) / w if w else float("nan")}
        for k, v in self._acc.items():
            if k.startswith("metric."):
                logs[k[7:]] = float(v) / w if w else float("nan")
        return logs

    # -------------------------------------------------------------------------------------- checkpoints
    def _extra(self) -> dict[str, Any]:
        extra = self.extra() if callable(self.extra) else (self.extra or {})
        if not isinstance(extra, dict):
            raise ConfigError(f"extra: expected a dict, found {type(extra).__name__}")
        ckpt_io._jsonable_check(extra, "extra")
        return extra

    def save_checkpoint(self, path: Any = None) -> Path | None:
        """Write the checkpoint now (every process must call it in a multi-process run; rank 0 writes)."""
        path = Path(os.fspath(path if path is not None else self.config.checkpoint))
        rng_t, rng_meta = ckpt_io.rng_state()
        leaves, spec = ckpt_io.flatten(self._carry)
        mine = ({k: v.detach().cpu() for k, v in rng_t.items()}, rng_meta, [t.detach().cpu() for t in leaves], spec)
        states = dist.gather_objects(mine)
        if not self.state.rank == 0:
            self._saved_at = self.state.step
            return None
        with self._pause():
            tensors: dict[str, torch.Tensor] = {f"model.{k}": v for k, v in self.model.state_dict().items()}
            opt_t, opt_meta = ckpt_io.optimizer_state(self.optimizer)
            tensors.update({f"optim.{k}": v for k, v in opt_t.items()})
            rng_list, carry_list = [], []
            for r, (rt, rm, cl, cs) in enumerate(states):
                tensors.update({f"rng.{r}.{k}": v for k, v in rt.items()})
                tensors.update({f"carry.{r}.{i}": t for i, t in enumerate(cl)})
                rng_list.append(rm)
                carry_list.append(cs)
            tensors.update({f"acc.{k}": v for k, v in self._acc.items()})
            es = None
            if self.early_stopping is not None:
                es = self.early_stopping.state_dict()
                if self.early_stopping.best_weights is not None:
                    tensors.update({f"best.{k}": v for k, v in self.early_stopping.best_weights.items()})
            s = self.state
            training = {
                "position": {"epoch": s.epoch, "batch": s.batch, "step": s.step, "elapsed": s.elapsed},
                "schedule": self.schedule.state_dict(), "early_stopping": es, "history": self.history,
                "evals": self.evals, "optimizer": opt_meta, "rng": rng_list, "carry": carry_list,
                "accumulators": sorted(self._acc), "log_snapshot": self._log_snap, "world_size": s.world_size,
                "last_eval_step": self._last_eval_step,
            }
            ckpt_io.save(path, tensors, training, self.fingerprint(), self._extra(), type(self.model).__name__)
        self._saved_at = self.state.step
        return path

    def _resume(self) -> None:
        path = Path(os.fspath(self.config.checkpoint))
        if not path.exists():
            raise ConfigError(f"resume: no checkpoint {str(path)!r} to resume from (train without resume first)")
        ck = ckpt_io.load(path)
        ckpt_io.check_fingerprint(ck, self.fingerprint())
        model_tensors = ckpt_io.check_model(ck, self.model)
        t = ck.training
        opt_meta = t["optimizer"]
        groups_now = self.optimizer.param_groups
        if len(opt_meta["param_groups"]) != len(groups_now) or any(
                len(a.get("params", [])) != len(b["params"]) for a, b in zip(opt_meta["param_groups"], groups_now)):
            raise ModelFileError(f"checkpoint {str(path)!r}: holds the optimizer state of another model "
                                 "(its parameter groups differ from this optimizer's)")
        if self.early_stopping is None and t["early_stopping"] is not None or (
                self.early_stopping is not None and t["early_stopping"] is None):
            raise ConfigError(f"resume: early_stopping differs from {str(path)!r} (a resumed run must use the checkpoint's settings)")
        r = self.state.rank
        try:
            self.model.load_state_dict(model_tensors)
            ckpt_io.load_optimizer_state(self.optimizer, ck.group("optim"), opt_meta)
            self.schedule.load_state_dict(t["schedule"])
            if self.early_stopping is not None:
                self.early_stopping.load_state_dict(t["early_stopping"])
                best = ck.group("best")
                self.early_stopping.best_weights = {k: v.to(self._device) for k, v in best.items()} or None
            ckpt_io.set_rng_state(ck.group(f"rng.{r}"), t["rng"][r])
            leaves_d = ck.group(f"carry.{r}")
            leaves = [leaves_d[str(i)].to(self._device) for i in range(len(leaves_d))]
            self._carry = ckpt_io.unflatten(t["carry"][r], leaves)
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as e:
            if isinstance(e, ConfigError):
                raise
            raise ModelFileError(f"checkpoint {str(path)!r}: corrupted training state ({type(e).__name__}: "
                                 f"{' '.join(str(e).split())[:200]})") from None
        pos = t["position"]
        s = self.state
        s.epoch, s.batch, s.step, s.elapsed = int(pos["epoch"]), int(pos["batch"]), int(pos["step"]), float(pos["elapsed"])
        self.history = list(t["history"])
        self.evals = list(t["evals"])
        self._acc = {k: ck.tensors[f"acc.{k}"].to(self._device).clone() for k in t["accumulators"]}
        self._log_snap = dict(t.get("log_snapshot") or {"loss": 0.0, "weight": 0.0})
        self._last_eval_step = t.get("last_eval_step")
        self.resumed_extra = ck.extra
        self._saved_at = s.step

    # -------------------------------------------------------------------------------------- evaluation
    def _evaluate(self) -> dict[str, float]:
        metrics: Any = None
        if self.state.rank == 0:
            with self._pause():
                was = self.model.training
                self.model.eval()
                try:
                    with torch.no_grad():
                        metrics = self.evaluate_fn(self.model)
                finally:
                    self.model.train(was)
            if not isinstance(metrics, dict):
                raise ConfigError(f"evaluate: expected a dict of metric names to numbers, found {type(metrics).__name__}")
            try:
                metrics = {str(k): float(v) for k, v in metrics.items()}
            except (TypeError, ValueError):
                raise ConfigError("evaluate: every metric value must be a number") from None
        metrics = dist.broadcast_object(metrics)
        self._last_eval_step = self.state.step
        self.evals.append({"step": self.state.step, "epoch": self.state.epoch + 1, **metrics})
        for fn in self._h_eval:
            fn(self.state, metrics)
        return metrics

    def _mid_epoch_eval(self) -> None:
        metrics = self._evaluate()
        logs = {**self._epoch_logs(), **metrics}
        self.state.logs = logs
        self.schedule.on_eval(logs)
        if self.early_stopping is not None and self.early_stopping.update(logs, self.model, self.state.epoch + 1, self.state.step):
            self._stop = "early_stopping"
        if self._log is not None:
            self._log.write("eval", epoch=self.state.epoch + 1, step=self.state.step, loss=logs["loss"],
                            lr=self.state.lr, metrics=metrics, elapsed=self.state.elapsed)
        if self._progress is not None and self._progress.verbose == 2 and self.state.batches_in_epoch is None:
            self._progress.line(f"step {self.state.step} - {self.state.elapsed:.0f}s - {format_logs(logs)}")

    # -------------------------------------------------------------------------------------- one step
    def _set_lr(self) -> None:
        s = self.state
        lr = self.schedule.lr(s.step, s.elapsed)
        s.lr = lr
        base0 = self._base_lrs[0]
        for g, base in zip(self.optimizer.param_groups, self._base_lrs):
            g["lr"] = lr if base == base0 else lr * (base / base0)

    def _output(self, out: Any) -> StepOutput:
        if isinstance(out, torch.Tensor):
            return StepOutput(out)
        if isinstance(out, StepOutput):
            return out
        if isinstance(out, tuple) and 1 <= len(out) <= 4:
            return StepOutput(*out)
        raise ConfigError(f"step_fn: expected a loss tensor or a StepOutput, found {type(out).__name__}")

    def _step(self, micro: int) -> None:
        s, c = self.state, self.config
        self._set_lr()
        opt = self.optimizer
        opt.zero_grad(set_to_none=True)
        world = s.world_size
        scaled = micro > 1 or world > 1
        step_loss: Any = None
        step_w: Any = 0.0
        metric_sums: dict[str, torch.Tensor] = {}
        for _ in range(micro):
            batch = self.batches.batch(s.epoch, s.batch, s.rank, world)
            s.batch += 1
            if batch is None:
                continue
            with self._autocast():
                out = self._output(self.step_fn(self.model, batch, self._carry))
            loss = out.loss
            if loss.dtype != torch.float32:
                loss = loss.float()
            self._carry = ckpt_io.detach(out.carry)
            w = out.weight
            if scaled:
                (loss * w).backward()
            else:
                loss.backward()
            contrib = loss.detach() * w if not (isinstance(w, (int, float)) and w == 1) else loss.detach()
            step_loss = contrib if step_loss is None else step_loss + contrib
            step_w = step_w + w
            if out.metrics:
                for k, v in out.metrics.items():
                    mv = v.detach().float() * w
                    metric_sums[k] = mv if k not in metric_sums else metric_sums[k] + mv
        agreed = None  # rank 0's clock, in a multi-process run with a time budget
        if world > 1:
            step_loss, step_w, metric_sums, agreed = self._all_reduce(step_loss, step_w, metric_sums)
        elif scaled:
            grads = [p.grad for p in self._params if p.grad is not None]
            if grads:
                if isinstance(step_w, torch.Tensor):
                    for g in grads:
                        g.div_(step_w)
                else:
                    torch._foreach_mul_(grads, 1.0 / step_w)
        if c.clip_norm is not None:
            s.grad_norm = torch.nn.utils.clip_grad_norm_(self._params, c.clip_norm)
        opt.step()
        acc = self._acc
        if step_loss is not None:
            acc["loss"].add_(step_loss)
            acc["weight"].add_(step_w)
            for k, v in metric_sums.items():
                key = "metric." + k
                if key not in acc:
                    acc[key] = torch.zeros((), dtype=torch.float64, device=self._device)
                acc[key].add_(v)
        s._loss_sum, s._weight = step_loss, step_w
        s.step += 1
        s.elapsed = agreed if agreed is not None else self._now()

    def _all_reduce(self, step_loss: Any, step_w: Any, metric_sums: dict[str, torch.Tensor]):
        dev = self._device
        flat = [p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel(), device=dev, dtype=p.dtype)
                for p in self._params]
        names = sorted(metric_sums)
        tail = [torch.as_tensor(0.0 if step_loss is None else step_loss, dtype=torch.float32, device=dev).reshape(1),
                torch.as_tensor(step_w, dtype=torch.float32, device=dev).reshape(1)]
        tail += [metric_sums[k].reshape(1).float() for k in names]
        # Rank 0's clock rides along (the others add 0), so a schedule over a time budget gives every
        # process the same learning rate, and the time budget ends the run at the same step everywhere.
        clock = torch.tensor([self._now() if self.state.rank == 0 else 0.0], dtype=torch.float64, device=dev)
        buf = torch.cat([f.float() for f in flat] + tail)
        dist.all_reduce_sum_(buf)
        if self._budget is not None:
            dist.all_reduce_sum_(clock)
            agreed: float | None = float(clock)
            self._clock_offset += agreed - self._now()
        else:
            agreed = None
        n_tail = 2 + len(names)
        W = buf[-n_tail + 1]
        grads = buf[: buf.numel() - n_tail].div_(W)
        offset = 0
        for p in self._params:
            n = p.numel()
            g = grads[offset: offset + n].view_as(p).to(p.dtype)
            if p.grad is None:
                p.grad = g.clone()
            else:
                p.grad.copy_(g)
            offset += n
        loss_sum = buf[-n_tail]
        metrics = {k: buf[-n_tail + 2 + i] for i, k in enumerate(names)}
        return loss_sum, W, metrics, agreed

    # -------------------------------------------------------------------------------------- the loop
    def fit(self) -> TrainResult:
        """Train; returns a :class:`TrainResult`. Raises before any training for every bad setting."""
        c = self.config
        with torch_threads(c.threads):
            dist.init_from_env()
            self.state.rank, self.state.world_size = dist.rank(), dist.world_size()
            self._device = _model_device(self.model)
            self.precision = resolve_precision(c.precision, self._device)
            self._autocast = (lambda: autocast("bf16", self._device)) if self.precision == "bf16" else contextlib.nullcontext
            if c.learning_rate is not None:
                first = self.optimizer.param_groups[0]["lr"]
                self._base_lrs = [c.learning_rate * (g["lr"] / first if first else 1.0) for g in self.optimizer.param_groups]
            else:
                self._base_lrs = [float(g.get("initial_lr", g["lr"])) for g in self.optimizer.param_groups]
            for g, base in zip(self.optimizer.param_groups, self._base_lrs):
                g.setdefault("initial_lr", base)
            self._total = self._total_steps()
            self._budget = c.minutes * 60.0 if c.minutes is not None else None
            if self._total is None and self._budget is None:
                raise ConfigError("budget: the batch source is endless (num_batches is None); give max_steps or minutes")
            self.schedule.start(self._base_lrs[0], self._total, self._budget)
            self.history: list[dict[str, Any]] = []
            self.evals: list[dict[str, Any]] = []
            self._carry: Any = None
            self._last_eval_step: int | None = None
            self._saved_at: int | None = None
            self._new_accumulators()
            self.state.epoch = c.initial_epoch
            self.state.epochs = c.epochs
            resumed = False
            if c.resume:
                self._resume()
                resumed = True
            elif c.checkpoint is not None:
                if self.state.rank == 0:
                    prepare_output(c.checkpoint, "run.ckpt", "checkpoint")
            if self.state.world_size > 1 and not resumed:
                dist.broadcast_module_(self.model)
            main = self.state.rank == 0
            self._progress = Progress(c.verbose if main else 0, c.epochs)
            self._log = MetricsLog(c.log_path, append=resumed) if (c.log_path is not None and main) else None
            self._h_eval = _overrides(self.hooks, "on_eval")
            try:
                with (StopFlag() if c.handle_sigint else contextlib.nullcontext(StopFlag())) as flag:
                    result = self._loop(flag, resumed)
            finally:
                self._progress.close()
                if self._log is not None:
                    self._log.close()
        return result

    def _loop(self, flag: StopFlag, resumed: bool) -> TrainResult:
        c, s = self.config, self.state
        h_step_begin = _overrides(self.hooks, "on_step_begin")
        h_step = _overrides(self.hooks, "on_step")
        h_epoch_begin = _overrides(self.hooks, "on_epoch_begin")
        h_epoch_end = _overrides(self.hooks, "on_epoch_end")
        self._t0 = time.perf_counter() - s.elapsed
        self._paused = 0.0
        self._stop: str | None = None
        interrupted = False
        self.model.train()
        for fn in _overrides(self.hooks, "on_train_begin"):
            fn(s)
        progress, log = self._progress, self._log
        multi = s.world_size > 1
        while self._stop is None:
            if c.epochs is not None and s.epoch >= c.epochs:
                self._stop = "epochs"
                break
            if c.max_steps is not None and s.step >= c.max_steps:
                self._stop = "max_steps"
                break
            if self._budget is not None and s.elapsed >= self._budget:
                self._stop = "time"
                break
            n_batches = self.batches.num_batches(s.epoch)
            s.batches_in_epoch = n_batches
            steps_total = self._steps_in_epoch(s.epoch)
            if s.batch == 0:
                self._carry = self.init_carry(s.epoch) if self.init_carry is not None else None
                self._new_accumulators()
            for fn in h_epoch_begin:
                fn(s)
            epoch_start = time.perf_counter()
            accum = c.grad_accum
            bar_total = steps_total if steps_total is not None else c.max_steps
            progress.epoch_begin(s.epoch, bar_total, -(-s.batch // accum) if steps_total is not None else s.step)
            while n_batches is None or s.batch < n_batches:
                for fn in h_step_begin:
                    fn(s)
                micro = accum if n_batches is None else min(accum, n_batches - s.batch)
                self._step(micro)
                reason: str | None = None
                for fn in h_step:
                    if fn(s):
                        reason = "hook"
                if flag.stop:
                    reason = "interrupted"
                if c.max_steps is not None and s.step >= c.max_steps and reason is None:
                    reason = "max_steps"
                if self._budget is not None and s.elapsed >= self._budget and reason is None:
                    reason = "time"
                if multi:
                    reason = self._agree(reason)
                if progress.due():
                    done = -(-s.batch // accum) if steps_total is not None else s.step
                    progress.update(done, self._epoch_logs)
                if log is not None and c.log_every and s.step % c.log_every == 0:
                    self._write_step_log()
                if self.evaluate_fn is not None and c.eval_every and s.step % c.eval_every == 0:
                    self._mid_epoch_eval()
                if reason is None and self._stop is not None:
                    reason = self._stop
                if c.checkpoint_every and s.step % c.checkpoint_every == 0 and c.checkpoint is not None \
                        and reason not in ("interrupted", "hook"):
                    self.save_checkpoint()
                if reason is not None:
                    self._stop = reason
                    interrupted = reason in ("interrupted", "hook")
                    break
            if n_batches is not None and s.batch >= n_batches:
                self._end_epoch(epoch_start, steps_total, h_epoch_end)
            else:
                break
        return self._finish(interrupted, resumed)

    def _agree(self, reason: str | None) -> str | None:
        code = torch.tensor([_STOP_CODES[reason]], dtype=torch.float32)
        if self._device.type == "cuda":
            code = code.to(self._device)
        torch.distributed.all_reduce(code, op=torch.distributed.ReduceOp.MAX)
        k = int(code.item())
        if k == 0:
            return None
        if k == 1:
            return reason or ("max_steps" if self.config.max_steps is not None and self.state.step >= self.config.max_steps else "time")
        return {2: "hook", 3: "interrupted"}[k]

    def _write_step_log(self) -> None:
        loss_sum, w = float(self._acc["loss"]), float(self._acc["weight"])
        dl, dw = loss_sum - self._log_snap["loss"], w - self._log_snap["weight"]
        metrics = {}
        for k, v in self._acc.items():
            if k.startswith("metric."):
                key = "m." + k
                cur = float(v)
                metrics[k[7:]] = (cur - self._log_snap.get(key, 0.0)) / dw if dw else float("nan")
                self._log_snap[key] = cur
        self._log_snap.update(loss=loss_sum, weight=w)
        s = self.state
        self._log.write("step", epoch=s.epoch + 1, step=s.step, loss=dl / dw if dw else float("nan"), lr=s.lr,
                        metrics=metrics, elapsed=s.elapsed)

    def _end_epoch(self, epoch_start: float, steps_total: int | None, h_epoch_end: list) -> None:
        c, s = self.config, self.state
        logs = self._epoch_logs()
        train_logs = dict(logs)
        evaluated = False
        if self.evaluate_fn is not None and c.eval_at_epoch_end:
            if self._last_eval_step == s.step and self.evals:
                metrics = {k: v for k, v in self.evals[-1].items() if k not in ("step", "epoch")}
                evaluated = None  # already counted by the mid-epoch evaluation at this step
            else:
                metrics = self._evaluate()
                evaluated = True
            logs.update(metrics)
        s.logs = logs
        stop = False
        for fn in h_epoch_end:
            if fn(s, logs):
                stop = True
        if evaluated or self.evaluate_fn is None:
            self.schedule.on_eval(logs)
        self.schedule.on_epoch_end(s.epoch + 1, logs)
        if self.early_stopping is not None and (evaluated or self.evaluate_fn is None):
            if self.early_stopping.update(logs, self.model, s.epoch + 1, s.step):
                self._stop = "early_stopping"
        seconds = time.perf_counter() - epoch_start
        record = {"epoch": s.epoch + 1, "step": s.step, "lr": s.lr, **logs, "seconds": round(seconds, 4)}
        self.history.append(record)
        self._progress.epoch_end(s.epoch, steps_total or 0, logs)
        if self._log is not None:
            self._log.write("epoch", epoch=s.epoch + 1, step=s.step, loss=train_logs["loss"], lr=s.lr,
                            metrics={k: v for k, v in logs.items() if k != "loss"}, elapsed=s.elapsed)
        s.epoch += 1
        s.batch = 0
        if stop and self._stop is None:
            self._stop = "hook"
        if c.checkpoint is not None and c.checkpoint_at_epoch_end:
            self.save_checkpoint()

    def _finish(self, interrupted: bool, resumed: bool) -> TrainResult:
        c, s = self.config, self.state
        reason = self._stop or "epochs"
        mid_epoch = s.batch > 0
        final = dict(self.history[-1]) if self.history and not mid_epoch else {}
        if mid_epoch:
            final = self._epoch_logs()
            if not interrupted and self.evaluate_fn is not None and self._last_eval_step != s.step:
                metrics = self._evaluate()
                final.update(metrics)
                if self.early_stopping is not None:
                    self.early_stopping.update(final, self.model, s.epoch + 1, s.step)
            elif self.evals and self._last_eval_step == s.step:
                final.update({k: v for k, v in self.evals[-1].items() if k not in ("step", "epoch")})
        final = {k: v for k, v in final.items() if k not in ("epoch", "step", "lr", "seconds")}
        if c.checkpoint is not None and self._saved_at != s.step:
            self.save_checkpoint()
        es = self.early_stopping
        if es is not None and not interrupted:
            es.restore(self.model)
        for fn in _overrides(self.hooks, "on_train_end"):
            fn(s)
        if interrupted and c.checkpoint is not None:
            self._progress.line(f"stopped at epoch {s.epoch + 1}, step {s.step}: checkpoint saved to {c.checkpoint}")
        return TrainResult(
            history=self.history, evals=self.evals, steps=s.step, epochs_completed=s.epoch, elapsed=s.elapsed,
            stop_reason=reason, interrupted=interrupted, final_logs=final, precision=self.precision,
            checkpoint=Path(os.fspath(c.checkpoint)) if c.checkpoint is not None else None, resumed=resumed,
            best=None if es is None else es.best, best_epoch=None if es is None else es.best_epoch,
            best_step=None if es is None else es.best_step, extra=self.resumed_extra,
        )


def train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, step_fn: Callable[..., Any], batches: BatchSource,
          config: TrainConfig | None = None, **options: Any) -> TrainResult:
    """``Trainer(model, optimizer, step_fn, batches, config, **options).fit()``."""
    return Trainer(model, optimizer, step_fn, batches, config, **options).fit()


__all__ = ["StepOutput", "Hooks", "FunctionHooks", "TrainState", "TrainResult", "TrainConfig", "Trainer", "train"]
