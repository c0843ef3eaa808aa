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
from lstmkit.models.metrics import AUC, Metric
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


def prepare_xy(model: "Model", x: Any, y: Any, x_name: str = "x", y_name: str = "y") -> tuple[torch.Tensor, torch.Tensor, tuple]:
    """Checked tensors for a dataset: inputs validated against the model, targets against the loss."""
    xt = as_tensor(x, x_name)
    if y is None:
        raise DataError(f"{y_name}: expected targets for {x_name}, found None")
    yt = as_tensor(y, y_name)
    check_same_length(xt, yt, x_name, y_name)
    output_shape = model.ensure_built(xt)
    model.check_inputs(xt, x_name)
    yt = model.loss.prepare_targets(yt, tuple(output_shape), y_name)
    return xt, yt, tuple(output_shape)


class _Step:
    """One model's loss/metric evaluation, with the logits shortcut decided once."""

    def __init__(self, model: "Model", output_shape: tuple) -> None:
        self.model = model
        self.loss = model.loss
        act = model.logits_activation()
        self.use_logits = (
            self.loss.logit_activation is not None and not self.loss.from_logits and act == self.loss.logit_activation
        )
        self.activation = get_activation(act) if self.use_logits else None
        self.metrics = model.make_metrics(output_shape)

    def outputs(self, xb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, predictions-as-probabilities-or-logits) for a batch."""
        if self.use_logits:
            return self.model.call_with_logits(xb), True
        return self.model(xb), False

    def loss_value(self, yb: torch.Tensor, out: torch.Tensor, is_logits: bool,
                   wb: torch.Tensor | None = None) -> torch.Tensor:
        if wb is not None:
            return self.loss.weighted(yb, out, is_logits or self.loss.from_logits, wb)
        if is_logits:
            return self.loss.compute(yb, out, True)
        return self.loss(yb, out)

    def update_metrics(self, yb: torch.Tensor, out: torch.Tensor, is_logits: bool) -> None:
        if not self.metrics:
            return
        with torch.no_grad():
            probs = self.activation(out.detach()) if is_logits else out.detach()
            for m in self.metrics:
                m.update(yb, probs)

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
    classes = None
    if model.loss is not None and model.loss.name in ("sparse_categorical_crossentropy", "categorical_crossentropy",
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
    sparse = model.loss is not None and model.loss.name == "sparse_categorical_crossentropy"
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


def _logs(acc: _Accumulator, step: _Step, prefix: str = "") -> dict[str, float]:
    logs = {f"{prefix}loss": acc.mean()}
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

    def __init__(self, step: _Step) -> None:
        self.step = step
        self.means = [m for m in step.metrics if getattr(type(m).update, "__func__", type(m).update) is Metric.update]
        self.stateful = [m for m in step.metrics if m not in self.means]
        self.any_metric = bool(step.metrics)

    def __call__(self, model: Any, batch: tuple[torch.Tensor, ...], carry: Any) -> StepOutput:
        if len(batch) == 3:
            xb, yb, wb = batch
        else:
            (xb, yb), wb = batch, None
        step = self.step
        out, is_logits = step.outputs(xb)
        if out.dtype in (torch.bfloat16, torch.float16):  # bf16 autocast: the loss is computed in float32
            out = out.float()
        loss = step.loss_value(yb, out, is_logits, wb)
        metrics = None
        if self.any_metric:
            with torch.no_grad():
                probs = step.activation(out.detach()) if is_logits else out.detach()
                # Keras weighs only the loss: compile(metrics=...) are unweighted (weighted_metrics are not supported)
                metrics = {m.name: m.values(yb, probs).float().mean() for m in self.means}
                for m in self.stateful:
                    m.update(yb, probs)
        return StepOutput(loss, xb.shape[0], None, metrics)


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
        for m in self.fit_step.stateful:
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
        sample_weight: Any = None) -> History:
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

    xt, yt, output_shape = prepare_xy(model, x, y)
    wt = sample_weights(model, yt, class_weight, sample_weight)
    x_val = y_val = w_val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ConfigError("validation_data: expected a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val), found "
                              f"{type(validation_data).__name__} of length {len(validation_data) if hasattr(validation_data, '__len__') else '?'}")
        x_val, y_val, _ = prepare_xy(model, validation_data[0], validation_data[1], "validation_data x", "validation_data y")
        if len(validation_data) == 3 and validation_data[2] is not None:
            w_val = sample_weights(model, y_val, None, validation_data[2], "validation_data sample_weight")
    elif validation_split > 0:
        n_val = int(xt.shape[0] * validation_split)
        if n_val == 0 or n_val == xt.shape[0]:
            raise DataError(
                f"validation_split: {validation_split} of {xt.shape[0]} samples leaves "
                f"{n_val} for validation and {xt.shape[0] - n_val} for training; both need at least one"
            )
        split = xt.shape[0] - n_val  # Keras: the last samples, before shuffling
        x_val, y_val = xt[split:], yt[split:]
        xt, yt = xt[:split], yt[:split]
        if wt is not None:
            if sample_weight is not None:  # Keras splits sample_weight with x and y; class_weight is training-only
                w_val = wt[split:]
            wt = wt[:split]

    device = _model_device(model)
    resolve_precision(precision, device)  # bf16 where it cannot run: one line, before any work
    n = xt.shape[0]
    steps = math.ceil(n / batch_size)

    if model.optimizer.torch_optimizer is None or not _owns(model.optimizer.torch_optimizer, model):
        model.optimizer.build([p for p in model.parameters() if p.requires_grad])
    opt = model.optimizer
    torch_opt = opt.torch_optimizer
    params = [p for group in torch_opt.param_groups for p in group["params"]]

    dist.init_from_env()  # under torchrun: join the group now, so every process shuffles with rank 0's order
    batches = _EpochPermutations(*((xt, yt) if wt is None else (xt, yt, wt)), batch_size=batch_size, shuffle=shuffle,
                                 device=None if device.type == "cpu" else device)

    history = History()
    all_callbacks = [*callbacks, history]  # History last: it records what other callbacks add to the logs
    for cb in all_callbacks:
        cb.set_model(model)
        cb.set_params({"epochs": epochs, "steps": steps, "verbose": verbose})
    fit_step = _FitStep(_Step(model, output_shape))
    reporter = ProgressReporter(verbose if dist.is_main() else 0, epochs, steps)
    bar = reporter.verbose == 1  # a terminal: the engine draws the bar; otherwise our hook prints the lines
    hooks: list[Hooks] = [_KerasHooks(model, all_callbacks, fit_step, None if bar else reporter,
                                      [m.name for m in fit_step.step.metrics])]
    batch_callbacks = [cb for cb in callbacks if type(cb).on_train_batch_end is not Callback.on_train_batch_end
                       or type(cb).on_train_batch_begin is not Callback.on_train_batch_begin]
    if batch_callbacks:
        hooks.append(_BatchHooks(batch_callbacks))
    evaluate_fn = None
    if x_val is not None:
        def evaluate_fn(m: Any) -> dict[str, float]:
            return _evaluate_tensors(model, x_val, y_val, batch_size, output_shape, prefix="val_", wt=w_val)

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


@torch.no_grad()
def _evaluate_tensors(model: "Model", xt: torch.Tensor, yt: torch.Tensor, batch_size: int, output_shape: tuple,
                      prefix: str = "", wt: torch.Tensor | None = None) -> dict[str, float]:
    was_training = model.training
    model.eval()
    device = _model_device(model)
    step = _Step(model, output_shape)
    acc = _Accumulator(device)
    try:
        for sl in _slices(xt.shape[0], batch_size):
            xb, yb = xt[sl].to(device), yt[sl].to(device)
            wb = None if wt is None else wt[sl].to(device)
            out, is_logits = step.outputs(xb)
            acc.add(step.loss_value(yb, out, is_logits, wb), xb.shape[0])
            step.update_metrics(yb, out, is_logits)
    finally:
        model.train(was_training)
    return _logs(acc, step, prefix)


def evaluate(model: "Model", x: Any, y: Any, *, batch_size: Any = 32, verbose: Any = 1, return_dict: bool = False):
    _require_compiled(model, "evaluate")
    batch_size = _check_batch_size(batch_size)
    verbose = _check_verbose(verbose)
    xt, yt, output_shape = prepare_xy(model, x, y)
    logs = _evaluate_tensors(model, xt, yt, batch_size, output_shape)
    if verbose:
        print(format_logs(logs))
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


@torch.no_grad()
def predict(model: "Model", x: Any, *, batch_size: Any = 32, verbose: Any = 0) -> np.ndarray:
    batch_size = _check_batch_size(batch_size)
    _check_verbose(verbose)
    xt = as_tensor(x, "x")
    model.ensure_built(xt)
    model.check_inputs(xt, "x")
    device = _model_device(model)
    was_training = model.training
    model.eval()
    try:
        outs = [model(xt[sl].to(device)).float().cpu() for sl in _slices(xt.shape[0], batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(outs).numpy()
