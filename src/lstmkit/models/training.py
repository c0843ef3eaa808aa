"""``Model.fit`` on the training engine, and the loops behind ``evaluate`` and ``predict``.

``fit`` has no loop of its own: it checks everything once on the whole arrays before the first batch
(shapes, dtypes, token ids, labels against the loss, NaN/inf, lengths), then hands a step function,
a :class:`~lstmkit.train.TensorBatches`, the validation set and the Keras callbacks (as engine
hooks) to :class:`lstmkit.train.Trainer`, which runs the epochs, keeps loss and metrics on-device,
and reads them back (a host sync) only when the progress bar redraws (at most ten times a second)
and once per epoch. The engine's :class:`~lstmkit.train.TrainResult` is kept as
``history.train_result``. ``evaluate`` and ``predict`` are plain batched forward passes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from lstmkit.errors import ConfigError, DataError, InputValueError
from lstmkit.layers.activations import get_activation
from lstmkit.models.callbacks import Callback, History
from lstmkit.models.data import as_tensor, check_same_length
from lstmkit.models.metrics import AUC, Metric, masked_sum
from lstmkit.models.progress import ProgressReporter, format_logs
from lstmkit.train import distributed as dist
from lstmkit.train.batches import TensorBatches
from lstmkit.train.engine import Hooks, StepOutput, Trainer, TrainState
from lstmkit.train.precision import check_precision, resolve_precision
from lstmkit.train.schedules import Schedule

if TYPE_CHECKING:  # pragma: no cover
    from lstmkit.models.model import Model


def _check_batch_size(batch_size: Any) -> int:
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size: expected a positive integer, found {batch_size!r}")
    return batch_size


def _check_verbose(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ConfigError(f"verbose: expected 0, 1 or 2, found {verbose!r}")
    return int(verbose)


def _require_compiled(model: "Model", what: str) -> None:
    if not model.compiled:
        raise ConfigError(f"model: call model.compile(optimizer=..., loss=...) before {what}(), found an uncompiled model")


def _model_device(model: "Model") -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _unwrap_one(v: Any) -> Any:
    """``[array]`` -> ``array`` (Keras accepts a one-element list for a one-input or one-output model)."""
    if isinstance(v, (list, tuple)) and len(v) == 1 and isinstance(v[0], (np.ndarray, torch.Tensor)):
        return v[0]
    return v


def target_list(model: "Model", y: Any, y_name: str = "y") -> list[tuple[Any, str]]:
    """``[(targets, label)]``, one per model output, from one array, a list, or a dict by output name."""
    names = model.output_names
    if len(names) == 1:
        return [(_unwrap_one(y), y_name)]
    if isinstance(y, dict):
        missing = [k for k in names if k not in y]
        extra = [k for k in y if k not in names]
        if missing or extra:
            raise DataError(f"{y_name}: expected a dict with keys {names}, found {sorted(y)!r}"
                            + (f" (missing {missing[0]!r})" if missing else f" (unknown {extra[0]!r})"))
        return [(y[k], f"{y_name}[{k!r}]") for k in names]
    if not isinstance(y, (list, tuple)) or len(y) != len(names):
        found = f"a {type(y).__name__} of length {len(y)}" if isinstance(y, (list, tuple)) else type(y).__name__
        raise DataError(f"{y_name}: expected {len(names)} target arrays (one per output: {names}), found {found}")
    return [(v, f"{y_name}[{k!r}]") for v, k in zip(y, names)]


def prepare_xy(model: "Model", x: Any, y: Any, x_name: str = "x", y_name: str = "y") -> tuple[tuple, tuple, list]:
    """Checked tensors for a dataset: ``(inputs, targets, output shapes)``, a tuple of tensors per model input
    and per output; inputs validated against the model, targets against each output's loss."""
    xs = model.as_inputs(_unwrap_one(x) if len(getattr(model, "input_names", [0])) == 1 else x, x_name)
    if y is None:
        raise DataError(f"{y_name}: expected targets for {x_name}, found None")
    targets = [(as_tensor(v, label), label) for v, label in target_list(model, y, y_name)]
    for t, label in targets:
        check_same_length(xs[0], t, x_name, label)
    shape = model.ensure_built(model.model_input(xs))
    shapes = [tuple(s) for s in shape] if isinstance(shape, list) else [tuple(shape)]
    model.check_inputs(model.model_input(xs), x_name)
    losses = model.output_losses
    ys = tuple(lo.prepare_targets(t, s, label) for lo, (t, label), s in zip(losses, targets, shapes))
    return xs, ys, shapes


class _Step:
    """A model's losses and metrics for a batch, one head per output, with the logits shortcut decided once.

    Each output ``k`` has its loss, weight ``w_k`` (``loss_weights``) and metrics; the batch loss is
    ``sum_k w_k * loss_k``. Where an output carries a Keras mask (per-step outputs after
    ``Embedding(mask_zero=True)`` or ``Masking``), its loss and mean metrics count the real steps only.
    """

    def __init__(self, model: "Model", output_shapes: list) -> None:
        self.model = model
        self.losses = list(model.output_losses)
        self.weights = list(model.loss_weights)
        acts = model.logits_activations()
        self.use_logits = [lo.logit_activation is not None and not lo.from_logits and act == lo.logit_activation
                           for lo, act in zip(self.losses, acts)]
        self.activations = [get_activation(act) if use else None for use, act in zip(self.use_logits, acts)]
        self.head_metrics = [model.make_metrics(shape, i) for i, shape in enumerate(output_shapes)]
        self.metrics = [m for ms in self.head_metrics for m in ms]
        self.names = model.output_names
        self.multi = len(self.losses) > 1

    def outputs(self, xs: tuple) -> tuple[list[torch.Tensor], list[Any]]:
        """``([outputs], [masks])`` for a batch (outputs as logits where the shortcut applies)."""
        return self.model.call_outputs(self.model.model_input(xs), self.use_logits)

    def loss_values(self, ys: tuple, outs: list[torch.Tensor], masks: list[Any],
                    wb: torch.Tensor | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(weighted total, [loss per output])``."""
        per = []
        for lo, use, y, out, mask in zip(self.losses, self.use_logits, ys, outs, masks):
            if out.dtype in (torch.bfloat16, torch.float16):  # bf16 autocast: the loss is computed in float32
                out = out.float()
            logits = use or lo.from_logits
            if mask is not None and out.dim() > mask.dim() and tuple(out.shape[:mask.dim()]) == tuple(mask.shape):
                per.append(lo.masked(y, out, logits, mask, wb))
            elif wb is not None:
                per.append(lo.weighted(y, out, logits, wb))
            elif use:
                per.append(lo.compute(y, out, True))
            else:
                per.append(lo(y, out))
        total = per[0] * self.weights[0] if self.weights[0] != 1.0 else per[0]
        for v, w in zip(per[1:], self.weights[1:]):
            total = total + v * w
        return total, per

    def probabilities(self, i: int, out: torch.Tensor) -> torch.Tensor:
        out = out.detach()
        if out.dtype in (torch.bfloat16, torch.float16):
            out = out.float()
        return self.activations[i](out) if self.use_logits[i] else out

    def update_metrics(self, ys: tuple, outs: list[torch.Tensor], masks: list[Any] | None = None) -> None:
        if not self.metrics:
            return
        with torch.no_grad():
            for i, metrics in enumerate(self.head_metrics):
                if not metrics:
                    continue
                probs = self.probabilities(i, outs[i])
                mask = masks[i] if masks else None
                for m in metrics:
                    if mask is not None and type(m).update is Metric.update:
                        m.update_masked(ys[i], probs, mask)
                    else:
                        m.update(ys[i], probs)

    def reset(self) -> None:
        for m in self.metrics:
            m.reset()


def sample_weights(model: "Model", yt: torch.Tensor, class_weight: Any, sample_weight: Any,
                   argument: str = "sample_weight") -> torch.Tensor | None:
    """Keras's per-sample weights ``(N,)`` from ``sample_weight`` or ``class_weight`` (``None`` for neither).

    ``class_weight`` maps a class index to a weight; a sample's class is its label (class id; the
    argmax of a one-hot/probability row; a binary label rounded to 0/1), and classes missing from the
    dict weigh 1.0 (as Keras). Keras refuses both at once, and so does this.
    """
    if class_weight is None and sample_weight is None:
        return None
    n = yt.shape[0]
    if class_weight is not None and sample_weight is not None:
        raise ConfigError("class_weight and sample_weight: give one of them, not both (as in Keras)")
    if sample_weight is not None:
        try:
            w = torch.as_tensor(np.asarray(sample_weight.detach().cpu() if isinstance(sample_weight, torch.Tensor)
                                           else sample_weight, dtype=np.float64))
        except (TypeError, ValueError):
            raise ConfigError(f"{argument}: expected an array of N numbers, found {type(sample_weight).__name__}") from None
        if w.dim() == 2 and w.shape[1] == 1:
            w = w[:, 0]
        if w.dim() != 1 or w.shape[0] != n:
            raise ConfigError(f"{argument}: expected one weight per sample, shape ({n},), found shape {tuple(w.shape)}")
        if not bool(torch.isfinite(w).all()):
            raise InputValueError(f"{argument}: contains NaN or inf")
        if w.numel() and float(w.min()) < 0:
            raise InputValueError(f"{argument}: expected weights >= 0, found {float(w.min()):g}")
        return w.to(torch.float32)
    if not isinstance(class_weight, dict):
        raise ConfigError(f"class_weight: expected a dict {{class index: weight}}, found {type(class_weight).__name__}")
    if len(model.output_names) > 1:
        raise ConfigError("class_weight: supported for models with one output (as in Keras); pass sample_weight")
    loss = model.output_losses[0]
    classes = None
    if loss.name in ("sparse_categorical_crossentropy", "categorical_crossentropy",
                                                      "binary_crossentropy"):
        out = getattr(model, "output_shape", None)
        units = out[-1] if out else None
        if isinstance(units, int):
            classes = 2 if units == 1 else units
    table: dict[int, float] = {}
    for k, v in class_weight.items():
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ConfigError(f"class_weight: keys must be class indices (integers >= 0), found {k!r}")
        if classes is not None and k >= classes:
            raise ConfigError(f"class_weight: class {int(k)} does not exist; the model has {classes} classes (0..{classes - 1})")
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ConfigError(f"class_weight: weight of class {int(k)} must be a number, found {v!r}")
        if not math.isfinite(float(v)) or float(v) < 0:
            raise InputValueError(f"class_weight: weight of class {int(k)} must be finite and >= 0, found {v!r}")
        table[int(k)] = float(v)
    y = yt
    sparse = loss.name == "sparse_categorical_crossentropy"
    if y.dim() >= 3 or (sparse and y.dim() >= 2):
        raise ConfigError(
            f"class_weight: supported for one label per sample, found targets of shape {tuple(y.shape)} "
            "(one per timestep); pass sample_weight instead"
        )
    if y.dim() == 2:
        y = y.argmax(-1) if y.shape[1] != 1 else y[:, 0]
    labels = torch.round(y.double()).to(torch.int64) if y.is_floating_point() else y.to(torch.int64)
    w = torch.ones(n, dtype=torch.float32)
    for k, v in table.items():
        w[labels == k] = v
    return w


class _Accumulator:
    def __init__(self, device: torch.device) -> None:
        self.total = torch.zeros((), dtype=torch.float64, device=device)
        self.count = 0

    def add(self, value: torch.Tensor, n: int) -> None:
        self.total += value.detach() * n
        self.count += n

    def mean(self) -> float:
        return float(self.total) / self.count if self.count else float("nan")


def _logs(acc: _Accumulator, step: _Step, prefix: str = "", heads: list | None = None) -> dict[str, float]:
    logs = {f"{prefix}loss": acc.mean()}
    if step.multi and heads is not None:
        for name, head in zip(step.names, heads):
            logs[f"{prefix}{name}_loss"] = head.mean()
    for m in step.metrics:
        logs[f"{prefix}{m.name}"] = m.result()
    return logs


def _slices(n: int, batch_size: int) -> list[slice]:
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


class _LiveRate(Schedule):
    """The engine's schedule for ``fit``: the optimizer's live learning rate, read before every step.

    Keras's learning-rate callbacks (``LearningRateScheduler``, ``ReduceLROnPlateau``) and any code
    that sets ``model.optimizer.learning_rate`` change the rate between steps; the engine re-applies
    whatever the optimizer holds, so those changes stand (and persist into the next ``fit``, as in Keras).
    """

    name = "keras_live_rate"

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        super().__init__()
        self.optimizer = optimizer

    def lr(self, step: int, elapsed: float = 0.0) -> float:
        return float(self.optimizer.param_groups[0]["lr"])


class _FitStep:
    """The step function ``fit`` hands the engine: loss (from logits when the model allows) and metrics.

    Metrics that are means of per-sample values (accuracy, mae, mse: any :class:`Metric` that keeps
    the base ``update``) go to the engine as batch means weighted by the batch size, so the engine
    averages them exactly over the epoch (and over processes, in a multi-process run) with the loss.
    Others (``auc``, or a custom ``update``) keep their own state, updated here and read at epoch end
    (in a multi-process run ``auc`` gathers every process's scores; a custom one is rank 0's shard's).
    """

    def __init__(self, step: _Step, n_inputs: int = 1) -> None:
        self.step = step
        self.n_inputs = n_inputs
        self.n_outputs = len(step.losses)
        self.means = [(i, m) for i, ms in enumerate(step.head_metrics) for m in ms
                      if getattr(type(m).update, "__func__", type(m).update) is Metric.update]
        self.stateful = [(i, m) for i, ms in enumerate(step.head_metrics) for m in ms
                         if getattr(type(m).update, "__func__", type(m).update) is not Metric.update]
        self.any_metric = bool(step.metrics)

    def split(self, batch: Any) -> tuple[tuple, tuple, torch.Tensor | None]:
        """``(inputs, targets, sample weights or None)`` from a flat batch tuple."""
        if isinstance(batch, torch.Tensor):
            batch = (batch,)
        nx, ny = self.n_inputs, self.n_outputs
        xs, ys = tuple(batch[:nx]), tuple(batch[nx:nx + ny])
        wb = batch[nx + ny] if len(batch) > nx + ny else None
        return xs, ys, wb

    def __call__(self, model: Any, batch: tuple[torch.Tensor, ...], carry: Any) -> StepOutput:
        xs, ys, wb = self.split(batch)
        step = self.step
        outs, masks = step.outputs(xs)
        loss, per = step.loss_values(ys, outs, masks, wb)
        metrics = None
        if self.any_metric or step.multi:
            metrics = {}
            with torch.no_grad():
                if step.multi:
                    for name, v in zip(step.names, per):
                        metrics[f"{name}_loss"] = v.detach().float()
                probs = {}
                for i, m in self.means:
                    if i not in probs:
                        probs[i] = step.probabilities(i, outs[i])
                    # Keras weighs only the loss: compile(metrics=...) are unweighted (weighted_metrics are not supported)
                    total, count = masked_sum(m.values(ys[i], probs[i]), masks[i])
                    metrics[m.name] = (total / max(float(count), 1e-12)).float()
                for i, m in self.stateful:
                    if i not in probs:
                        probs[i] = step.probabilities(i, outs[i])
                    m.update(ys[i], probs[i])
        return StepOutput(loss, xs[0].shape[0], None, metrics)


class _KerasHooks(Hooks):
    """Keras callbacks (and ``History``, and the per-epoch lines of ``verbose=2``) on the engine's hooks.

    Order at an epoch's end, as in Keras: the epoch's logs (``loss``, metrics, ``val_*``) go to the
    user's callbacks, then to ``History``, then the progress line is printed; ``model.stop_training``
    (set by any callback) ends the run after this epoch. In a multi-process run every process gets
    rank 0's logs and the processes agree on stopping, so callbacks take the same decisions everywhere.
    """

    def __init__(self, model: "Model", callbacks: list[Callback], fit_step: _FitStep,
                 reporter: ProgressReporter | None, metric_names: list[str]) -> None:
        self.model = model
        self.callbacks = callbacks
        self.fit_step = fit_step
        self.reporter = reporter
        self.metric_names = metric_names

    def on_train_begin(self, state: TrainState) -> None:
        for cb in self.callbacks:
            cb.on_train_begin({})

    def on_epoch_begin(self, state: TrainState) -> None:
        self.fit_step.step.reset()
        if self.reporter is not None:
            self.reporter.epoch_begin(state.epoch)
        for cb in self.callbacks:
            cb.on_epoch_begin(state.epoch, {})

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> bool:
        for _, m in self.fit_step.stateful:
            if state.world_size > 1 and isinstance(m, AUC):  # exact over all processes' scores
                parts = dist.gather_objects((m._scores, m._labels))
                if parts is not None:
                    m._scores = [t for scores, _ in parts for t in scores]
                    m._labels = [t for _, labels in parts for t in labels]
            logs[m.name] = m.result()  # another stateful metric: rank 0's shard (its logs are broadcast)
        ordered = {k: logs[k] for k in ("loss", *self.metric_names) if k in logs}
        ordered.update((k, v) for k, v in logs.items() if k not in ordered)
        if state.world_size > 1:
            ordered = dist.broadcast_object(ordered)
        logs.clear()
        logs.update(ordered)  # the engine's own dict: its history and bar see what the callbacks add
        for cb in self.callbacks:
            cb.on_epoch_end(state.epoch, logs)
        if self.reporter is not None:
            self.reporter.epoch_end(state.epoch, logs)
        stop = bool(self.model.stop_training)
        if state.world_size > 1:
            stop = dist.any_flag(stop, _model_device(self.model))
            self.model.stop_training = stop
        return stop

    def on_train_end(self, state: TrainState) -> None:
        for cb in self.callbacks:
            cb.on_train_end({})


class _BatchHooks(Hooks):
    """``on_train_batch_begin/end`` of the callbacks that define them (only then: each reads the loss, a host sync)."""

    def __init__(self, callbacks: list[Callback]) -> None:
        self.callbacks = callbacks

    def on_step_begin(self, state: TrainState) -> None:
        for cb in self.callbacks:
            cb.on_train_batch_begin(state.batch, {})

    def on_step(self, state: TrainState) -> None:
        loss = state.loss
        logs = {"loss": float(loss) if loss is not None else float("nan")}
        for cb in self.callbacks:
            cb.on_train_batch_end(state.batch - 1, logs)


def _clip_hook(opt: Any, params: list[torch.nn.Parameter]) -> Callable[..., None]:
    def hook(optimizer: Any, args: Any, kwargs: Any) -> None:
        opt.clip_gradients(params, global_norm=False)
    return hook


class _EpochPermutations(TensorBatches):
    """Keras's shuffle: at each epoch's first batch, ``torch.randperm(N)`` from torch's global generator.

    This is the order ``fit`` has always used, so ``torch.manual_seed(s)`` gives the same model as
    before the engine (bit for bit on CPU with the same threads): the permutation is drawn at the
    same point of the global random stream, between the epoch's callbacks and its first forward
    pass. In a multi-process run rank 0's permutation is sent to every process. ``fit`` never
    resumes mid-epoch, so an epoch's order is drawn once and kept while the epoch runs.
    """

    def order(self, epoch: int) -> torch.Tensor | None:
        if not self.shuffle:
            return None
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, dist.broadcast_object(torch.randperm(self.n)))
        return self._order[1]


def fit(model: "Model", x: Any, y: Any, *, batch_size: Any = 32, epochs: int = 1, verbose: Any = 1,
        callbacks: list | None = None, validation_split: float = 0.0, validation_data: Any = None,
        shuffle: bool = True, initial_epoch: int = 0, precision: Any = "fp32", class_weight: Any = None,
        sample_weight: Any = None, steps_per_epoch: Any = None, validation_steps: Any = None) -> History:
    """``Model.fit``: checks everything once, then hands the loop to :class:`lstmkit.train.Trainer`.

    The engine gets a step function (:class:`_FitStep`), a :class:`~lstmkit.train.TensorBatches`
    over the checked arrays, the validation set as its ``evaluate`` function, and the callbacks as
    :class:`~lstmkit.train.Hooks`. Shuffling draws one ``torch.randperm`` per epoch from torch's
    global generator, as before the engine (:class:`_EpochPermutations`), so ``torch.manual_seed(s)``
    makes ``fit`` reproducible and gives the same model as earlier versions (in a multi-process run
    rank 0's order is used everywhere).

    Gradient clipping keeps the optimizer's Keras semantics: ``global_clipnorm`` is the engine's
    ``clip_norm`` (the norm of all gradients together, clipped after the multi-process all-reduce);
    ``clipnorm`` (each weight's gradient norm on its own) and ``clipvalue`` (each element) cannot be
    said as one global norm, so the optimizer's own :meth:`~lstmkit.models.optimizers.Optimizer.clip_gradients`
    runs as a step pre-hook of the torch optimizer: after the engine's backward and all-reduce, just
    before the update. (Keras allows only one of the three; given several, the global norm comes first.)

    ``precision``: ``"fp32"`` (default), ``"bf16"`` (autocast; a one-line ConfigError where the
    machine has no bf16 units) or ``"auto"`` (:mod:`lstmkit.train.precision`). Run under ``torchrun``
    (``WORLD_SIZE > 1``), the engine trains data-parallel: each process takes its shard of every batch,
    gradients are all-reduced, rank 0's weights are broadcast at the start and only rank 0 validates
    and prints; every process must build the same model (seed it) and call ``fit`` with the same data.
    """
    _require_compiled(model, "fit")
    batch_size = _check_batch_size(batch_size)
    verbose = _check_verbose(verbose)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"epochs: expected a positive integer, found {epochs!r}")
    if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, int) or not 0 <= initial_epoch < epochs:
        raise ConfigError(f"initial_epoch: expected an integer in [0, epochs), found {initial_epoch!r}")
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) or not 0.0 <= validation_split < 1.0:
        raise ConfigError(f"validation_split: expected a float in [0, 1), found {validation_split!r}")
    precision = check_precision(precision)
    callbacks = list(callbacks or [])
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise ConfigError(f"callbacks: expected lstmkit.models.callbacks.Callback objects, found {type(cb).__name__}")

    device = _model_device(model)
    resolve_precision(precision, device)  # bf16 where it cannot run: one line, before any work
    source = batch_source(x)
    if source is not None:  # a generator, a torch DataLoader or a Keras-style dataset of batches
        if y is not None or sample_weight is not None or class_weight is not None or validation_split:
            raise ConfigError("y / sample_weight / class_weight / validation_split: not with a generator or DataLoader "
                              "as x; it yields (x, y) or (x, y, sample_weight) batches itself (as in Keras)")
        batches = _GeneratorBatches(model, source, steps_per_epoch, "x")
        output_shapes = batches.output_shapes
        n_inputs = batches.n_inputs
        steps = batches.num_batches(0)
        x_val = y_val = w_val = None
        val_source = batch_source(validation_data) if validation_data is not None else None
    else:
        if steps_per_epoch is not None:
            raise ConfigError("steps_per_epoch: only with a generator or DataLoader as x (arrays give "
                              "ceil(N / batch_size) steps)")
        xs, ys, output_shapes = prepare_xy(model, x, y)
        n_inputs = len(xs)
        wt = sample_weights(model, ys[0], class_weight, sample_weight)
        x_val = y_val = w_val = None
        val_source = batch_source(validation_data) if validation_data is not None else None
        if validation_data is not None and val_source is None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ConfigError("validation_data: expected a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val), "
                                  f"or a generator, found {type(validation_data).__name__} of length "
                                  f"{len(validation_data) if hasattr(validation_data, '__len__') else '?'}")
            x_val, y_val, _ = prepare_xy(model, validation_data[0], validation_data[1], "validation_data x",
                                         "validation_data y")
            if len(validation_data) == 3 and validation_data[2] is not None:
                w_val = sample_weights(model, y_val[0], None, validation_data[2], "validation_data sample_weight")
        elif validation_split > 0:
            total = xs[0].shape[0]
            n_val = int(total * validation_split)
            if n_val == 0 or n_val == total:
                raise DataError(
                    f"validation_split: {validation_split} of {total} samples leaves "
                    f"{n_val} for validation and {total - n_val} for training; both need at least one"
                )
            split = total - n_val  # Keras: the last samples, before shuffling
            x_val, y_val = tuple(t[split:] for t in xs), tuple(t[split:] for t in ys)
            xs, ys = tuple(t[:split] for t in xs), tuple(t[:split] for t in ys)
            if wt is not None:
                if sample_weight is not None:  # Keras splits sample_weight with x and y; class_weight is training-only
                    w_val = wt[split:]
                wt = wt[:split]
        n = xs[0].shape[0]
        steps = math.ceil(n / batch_size)
        dist.init_from_env()  # under torchrun: join the group now, so every process shuffles with rank 0's order
        flat = (*xs, *ys) if wt is None else (*xs, *ys, wt)
        batches = _EpochPermutations(*flat, batch_size=batch_size, shuffle=shuffle,
                                     device=None if device.type == "cpu" else device)
    if val_source is not None:
        val_batches = _GeneratorBatches(model, val_source, validation_steps, "validation_data")

    if model.optimizer.torch_optimizer is None or not _owns(model.optimizer.torch_optimizer, model):
        model.optimizer.build([p for p in model.parameters() if p.requires_grad])
    opt = model.optimizer
    torch_opt = opt.torch_optimizer
    params = [p for group in torch_opt.param_groups for p in group["params"]]

    history = History()
    all_callbacks = [*callbacks, history]  # History last: it records what other callbacks add to the logs
    for cb in all_callbacks:
        cb.set_model(model)
        cb.set_params({"epochs": epochs, "steps": steps, "verbose": verbose})
    fit_step = _FitStep(_Step(model, output_shapes), n_inputs)
    reporter = ProgressReporter(verbose if dist.is_main() else 0, epochs, steps)
    bar = reporter.verbose == 1  # a terminal: the engine draws the bar; otherwise our hook prints the lines
    hooks: list[Hooks] = [_KerasHooks(model, all_callbacks, fit_step, None if bar else reporter,
                                      [*(f"{n}_loss" for n in fit_step.step.names if fit_step.step.multi),
                                       *(m.name for m in fit_step.step.metrics)])]
    batch_callbacks = [cb for cb in callbacks if type(cb).on_train_batch_end is not Callback.on_train_batch_end
                       or type(cb).on_train_batch_begin is not Callback.on_train_batch_begin]
    if batch_callbacks:
        hooks.append(_BatchHooks(batch_callbacks))
    evaluate_fn = None
    if x_val is not None:
        def evaluate_fn(m: Any) -> dict[str, float]:
            return _evaluate_batches(model, _slice_batches(x_val, y_val, w_val, batch_size), output_shapes,
                                     len(x_val), prefix="val_")
    elif val_source is not None:
        def evaluate_fn(m: Any) -> dict[str, float]:
            return _evaluate_batches(model, val_batches.epoch_batches(), output_shapes, val_batches.n_inputs,
                                     prefix="val_")

    model.stop_training = False
    model.history = history
    handle = None
    if opt.clipnorm is not None or opt.clipvalue is not None:
        handle = torch_opt.register_step_pre_hook(_clip_hook(opt, params))
    try:
        result = Trainer(
            model, torch_opt, fit_step, batches, evaluate=evaluate_fn, hooks=hooks,
            epochs=epochs, initial_epoch=initial_epoch, precision=precision, clip_norm=opt.global_clipnorm,
            schedule=_LiveRate(torch_opt), verbose=1 if bar else 0, handle_sigint=False,
        ).fit()
    finally:
        if handle is not None:
            handle.remove()
        reporter.close()
    history.train_result = result
    return history


def _owns(torch_opt: torch.optim.Optimizer, model: "Model") -> bool:
    ids = {id(p) for group in torch_opt.param_groups for p in group["params"]}
    return all(id(p) in ids for p in model.parameters() if p.requires_grad)


def _slice_batches(xs: tuple, ys: tuple, wt: torch.Tensor | None, batch_size: int):
    for sl in _slices(xs[0].shape[0], batch_size):
        yield (*(t[sl] for t in xs), *(t[sl] for t in ys), *(() if wt is None else (wt[sl],)))


@torch.no_grad()
def _evaluate_batches(model: "Model", batches: Any, output_shapes: list, n_inputs: int,
                      prefix: str = "") -> dict[str, float]:
    was_training = model.training
    model.eval()
    device = _model_device(model)
    step = _Step(model, output_shapes)
    splitter = _FitStep(step, n_inputs)
    acc = _Accumulator(device)
    heads = [_Accumulator(device) for _ in step.losses]
    try:
        for batch in batches:
            xs, ys, wb = splitter.split(tuple(t.to(device) for t in batch))
            outs, masks = step.outputs(xs)
            total, per = step.loss_values(ys, outs, masks, wb)
            n = xs[0].shape[0]
            acc.add(total, n)
            for h, v in zip(heads, per):
                h.add(v, n)
            step.update_metrics(ys, outs, masks)
    finally:
        model.train(was_training)
    return _logs(acc, step, prefix, heads)


def evaluate(model: "Model", x: Any, y: Any = None, *, batch_size: Any = 32, verbose: Any = 1, return_dict: bool = False,
             steps: Any = None):
    _require_compiled(model, "evaluate")
    batch_size = _check_batch_size(batch_size)
    verbose = _check_verbose(verbose)
    source = batch_source(x)
    if source is not None:
        if y is not None:
            raise ConfigError("y: not with a generator or DataLoader as x; it yields (x, y) batches itself")
        gen = _GeneratorBatches(model, source, steps, "x")
        logs = _evaluate_batches(model, gen.epoch_batches(), gen.output_shapes, gen.n_inputs)
    else:
        xs, ys, output_shapes = prepare_xy(model, x, y)
        logs = _evaluate_batches(model, _slice_batches(xs, ys, None, batch_size), output_shapes, len(xs))
    if verbose:
        print(format_logs(logs))
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


@torch.no_grad()
def predict(model: "Model", x: Any, *, batch_size: Any = 32, verbose: Any = 0, steps: Any = None) -> Any:
    batch_size = _check_batch_size(batch_size)
    _check_verbose(verbose)
    source = batch_source(x)
    if source is not None:
        chunks = _GeneratorBatches(model, source, steps, "x", targets=False).epoch_batches()
        n_inputs = None
    else:
        xs = model.as_inputs(_unwrap_one(x) if len(getattr(model, "input_names", [0])) == 1 else x, "x")
        model.ensure_built(model.model_input(xs))
        model.check_inputs(model.model_input(xs), "x")
        chunks = (tuple(t[sl] for t in xs) for sl in _slices(xs[0].shape[0], batch_size))
        n_inputs = len(xs)
    device = _model_device(model)
    was_training = model.training
    model.eval()
    n_out = len(model.output_names)
    parts: list[list[torch.Tensor]] = [[] for _ in range(n_out)]
    try:
        for chunk in chunks:
            xs_b = tuple(t.to(device) for t in chunk)
            outs, _ = model.call_outputs(model.model_input(xs_b), [False] * n_out)
            for i, o in enumerate(outs):
                parts[i].append(o.float().cpu())
    finally:
        model.train(was_training)
    arrays = [torch.cat(p).numpy() for p in parts]
    pack = getattr(model, "pack_outputs", None)
    if pack is not None:  # a Functional model: the structure its outputs were given in
        return pack(arrays)
    return arrays[0] if n_out == 1 else arrays


def batch_source(data: Any) -> Any:
    """``data`` when it is a source of batches (a generator/iterator, a ``torch.utils.data.DataLoader``, or a
    Keras-style dataset with ``__len__`` and ``__getitem__`` returning batches), else ``None`` (arrays)."""
    if data is None or isinstance(data, (np.ndarray, torch.Tensor, list, tuple, dict, str, bytes)):
        return None
    if hasattr(data, "__next__") or type(data).__name__ == "DataLoader" or hasattr(data, "__iter__"):
        return data
    if hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        return data
    return None


class _GeneratorBatches:
    """Batches pulled from a Python generator, a ``DataLoader`` or a Keras-style dataset, checked one by one.

    Each item is ``(x, y)`` or ``(x, y, sample_weight)`` (just ``x`` for ``predict``), where ``x`` and ``y``
    take the forms ``fit`` takes for arrays. An epoch is ``steps`` batches: ``steps_per_epoch`` when given,
    else the source's length (a ``DataLoader`` or dataset; restarted every epoch). A plain generator needs
    ``steps_per_epoch`` (it is read on across epochs, as in Keras). A source that ends early is one line.
    """

    def __init__(self, model: "Model", source: Any, steps: Any, argument: str, *, targets: bool = True) -> None:
        self.model = model
        self.source = source
        self.argument = argument
        self.targets = targets
        self.restartable = not hasattr(source, "__next__")
        length = None
        if self.restartable:
            try:
                length = len(source)
            except TypeError:
                length = None
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
            raise ConfigError(f"steps_per_epoch: expected a positive integer, found {steps!r}")
        self.steps = steps if steps is not None else length
        if self.steps is None and not self.restartable:
            raise ConfigError(f"steps_per_epoch: a generator as {argument} has no length; give steps_per_epoch= "
                              "(validation_steps= for validation data, steps= for evaluate/predict)")
        self._iter = None
        self._epoch = -1
        self._pending: list = []
        first = self._next(0)
        self._pending.append(first)
        # a checked batch is (*inputs, *targets, [sample weights]); for predict, the inputs alone
        self.n_inputs = len(first) - (len(model.output_names) + self._has_weights if targets else 0)
        shapes = model.ensure_built(model.model_input(first[:self.n_inputs]))
        self.output_shapes = [tuple(s) for s in shapes] if isinstance(shapes, list) else [tuple(shapes)]

    def _raw(self) -> Any:
        if self._iter is None:
            self._iter = iter(self.source)
        try:
            return next(self._iter)
        except StopIteration:
            return _END

    def _next(self, index: int) -> tuple:
        raw = self._raw()
        if raw is _END:
            raise DataError(f"{self.argument}: the data ran out after {index} batches of an epoch; give "
                            f"steps_per_epoch <= {index} or a source that does not end")
        return self._check(raw, index)

    def _check(self, raw: Any, index: int) -> tuple:
        label = f"{self.argument} batch {index}"
        if not self.targets:  # predict: a tuple is (x,), (x, y) or (x, y, w), as in Keras; anything else is x
            x = raw[0] if isinstance(raw, tuple) else raw
            one = len(getattr(self.model, "input_names", [0])) == 1
            return tuple(self.model.as_inputs(_unwrap_one(x) if one else x, label))
        if not isinstance(raw, (tuple, list)) or len(raw) not in (2, 3):
            raise DataError(f"{label}: expected a tuple (x, y) or (x, y, sample_weight), found "
                            f"{type(raw).__name__}{' of length ' + str(len(raw)) if hasattr(raw, '__len__') else ''}")
        xs, ys, _ = prepare_xy(self.model, raw[0], raw[1], f"{label} x", f"{label} y")
        self._has_weights = int(len(raw) == 3 and raw[2] is not None)
        if self._has_weights:
            w = sample_weights(self.model, ys[0], None, raw[2], f"{label} sample_weight")
            return (*xs, *ys, w)
        return (*xs, *ys)

    _has_weights = 0

    def num_batches(self, epoch: int = 0) -> int:
        return int(self.steps) if self.steps is not None else 0

    def batch(self, epoch: int, index: int, rank: int = 0, world: int = 1) -> Any:
        if epoch != self._epoch:
            self._epoch = epoch
            if self.restartable and not self._pending:
                self._iter = None  # a DataLoader or dataset starts over (and reshuffles) each epoch
        if self._pending:
            return self._pending.pop(0)
        return self._next(index)

    def epoch_batches(self):
        """One pass for evaluation or prediction: ``steps`` batches, or the whole restartable source."""
        i = 0
        if self._pending:
            yield self._pending.pop(0)
            i = 1
        elif self.restartable:
            self._iter = None
        while self.steps is None or i < self.steps:
            raw = self._raw()
            if raw is _END:
                if self.steps is None:
                    break
                raise DataError(f"{self.argument}: the data ran out after {i} batches; give steps <= {i}")
            yield self._check(raw, i)
            i += 1
        if self.restartable:
            self._iter = None


_END = object()

