"""The loops behind ``Model.fit``, ``evaluate`` and ``predict``.

Everything that can be checked is checked once on the whole arrays before the first batch (shapes,
dtypes, token ids, labels against the loss, NaN/inf, lengths). The per-batch loop then only indexes,
runs the model, steps the optimizer and accumulates loss and metrics on-device; it reads them back
(a host sync) only when the progress bar redraws (at most ten times a second) and once per epoch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from lstmkit.errors import ConfigError, DataError
from lstmkit.layers.activations import get_activation
from lstmkit.models.callbacks import Callback, History
from lstmkit.models.data import as_tensor, check_same_length
from lstmkit.models.progress import ProgressReporter, format_logs

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

    def loss_value(self, yb: torch.Tensor, out: torch.Tensor, is_logits: bool) -> torch.Tensor:
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


def fit(model: "Model", x: Any, y: Any, *, batch_size: Any = 32, epochs: int = 1, verbose: Any = 1,
        callbacks: list | None = None, validation_split: float = 0.0, validation_data: Any = None,
        shuffle: bool = True, initial_epoch: int = 0) -> History:
    _require_compiled(model, "fit")
    batch_size = _check_batch_size(batch_size)
    verbose = _check_verbose(verbose)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"epochs: expected a positive integer, found {epochs!r}")
    if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, int) or not 0 <= initial_epoch < epochs:
        raise ConfigError(f"initial_epoch: expected an integer in [0, epochs), found {initial_epoch!r}")
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) or not 0.0 <= validation_split < 1.0:
        raise ConfigError(f"validation_split: expected a float in [0, 1), found {validation_split!r}")
    callbacks = list(callbacks or [])
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise ConfigError(f"callbacks: expected lstmkit.models.callbacks.Callback objects, found {type(cb).__name__}")

    xt, yt, output_shape = prepare_xy(model, x, y)
    x_val = y_val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ConfigError("validation_data: expected a tuple (x_val, y_val), found "
                              f"{type(validation_data).__name__} of length {len(validation_data) if hasattr(validation_data, '__len__') else '?'}")
        x_val, y_val, _ = prepare_xy(model, validation_data[0], validation_data[1], "validation_data x", "validation_data y")
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

    device = _model_device(model)
    on_cpu = device.type == "cpu"
    if on_cpu:
        xt, yt = xt.contiguous(), yt.contiguous()
    n = xt.shape[0]
    steps = math.ceil(n / batch_size)

    if model.optimizer.torch_optimizer is None or not _owns(model.optimizer.torch_optimizer, model):
        model.optimizer.build([p for p in model.parameters() if p.requires_grad])
    opt = model.optimizer
    torch_opt = opt.torch_optimizer
    params = [p for group in torch_opt.param_groups for p in group["params"]]

    history = History()
    all_callbacks = [*callbacks, history]  # History last: it records what other callbacks add to the logs
    run_params = {"epochs": epochs, "steps": steps, "verbose": verbose}
    for cb in all_callbacks:
        cb.set_model(model)
        cb.set_params(run_params)
    step = _Step(model, output_shape)
    reporter = ProgressReporter(verbose, epochs, steps)
    model.stop_training = False
    model.history = history
    batch_hooks = [cb for cb in callbacks if type(cb).on_train_batch_end is not Callback.on_train_batch_end
                   or type(cb).on_train_batch_begin is not Callback.on_train_batch_begin]

    for cb in all_callbacks:
        cb.on_train_begin({})
    try:
        for epoch in range(initial_epoch, epochs):
            for cb in all_callbacks:
                cb.on_epoch_begin(epoch, {})
            model.train()
            step.reset()
            acc = _Accumulator(device)
            reporter.epoch_begin(epoch)
            order = torch.randperm(n) if shuffle else None
            for i, sl in enumerate(_slices(n, batch_size)):
                if order is None:
                    xb, yb = xt[sl], yt[sl]
                else:
                    idx = order[sl]
                    xb, yb = xt.index_select(0, idx), yt.index_select(0, idx)
                if not on_cpu:
                    xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
                for cb in batch_hooks:
                    cb.on_train_batch_begin(i, {})
                out, is_logits = step.outputs(xb)
                loss = step.loss_value(yb, out, is_logits)
                torch_opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.clip_gradients(params)
                torch_opt.step()
                acc.add(loss, xb.shape[0])
                step.update_metrics(yb, out, is_logits)
                for cb in batch_hooks:
                    cb.on_train_batch_end(i, {"loss": float(loss.detach())})
                reporter.batch_end(i, lambda: _logs(acc, step))
            logs = _logs(acc, step)  # a diverged loss shows as nan/inf, as in Keras
            if x_val is not None:
                logs.update(_evaluate_tensors(model, x_val, y_val, batch_size, output_shape, prefix="val_"))
            reporter.epoch_end(epoch, logs)
            for cb in all_callbacks:
                cb.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
    finally:
        reporter.close()
    for cb in all_callbacks:
        cb.on_train_end({})
    return history


def _owns(torch_opt: torch.optim.Optimizer, model: "Model") -> bool:
    ids = {id(p) for group in torch_opt.param_groups for p in group["params"]}
    return all(id(p) in ids for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def _evaluate_tensors(model: "Model", xt: torch.Tensor, yt: torch.Tensor, batch_size: int, output_shape: tuple,
                      prefix: str = "") -> dict[str, float]:
    was_training = model.training
    model.eval()
    device = _model_device(model)
    step = _Step(model, output_shape)
    acc = _Accumulator(device)
    try:
        for sl in _slices(xt.shape[0], batch_size):
            xb, yb = xt[sl].to(device), yt[sl].to(device)
            out, is_logits = step.outputs(xb)
            acc.add(step.loss_value(yb, out, is_logits), xb.shape[0])
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
