"""Keras-style training callbacks and the ``History`` that ``fit`` returns.

>>> from lstmkit.models.callbacks import EarlyStopping
>>> stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from lstmkit.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from lstmkit.models.model import Model


class Callback:
    """Base class: override any of the ``on_*`` hooks; ``self.model`` is set by ``fit``."""

    def __init__(self) -> None:
        self.model: "Model | None" = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: "Model") -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None: ...


class History(Callback):
    """Records each epoch's logs: ``history.history["loss"]``, ``["val_accuracy"]`` ... (lists, one value per epoch).

    After ``fit``, ``train_result`` is the training engine's :class:`lstmkit.train.TrainResult` of the
    run (steps, stop reason, precision used, per-epoch records).
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.train_result: Any = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


def _mode_op(mode: str, monitor: str, argument: str = "mode") -> Callable[[float, float], bool]:
    if mode not in ("auto", "min", "max"):
        raise ConfigError(f"{argument}: expected 'auto', 'min' or 'max', found {mode!r}")
    if mode == "auto":
        mode = "max" if ("acc" in monitor or "auc" in monitor) else "min"
    return np.greater if mode == "max" else np.less


def _monitored(logs: dict | None, monitor: str, owner: str) -> float:
    logs = logs or {}
    if monitor not in logs:
        raise ConfigError(
            f"monitor: {owner} watches {monitor!r}, which this fit does not log; available: {sorted(logs)}"
            + (" (val_ metrics need validation_data or validation_split)" if monitor.startswith("val_") else "")
        )
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    Args:
        monitor: a key of the epoch logs (``"val_loss"`` default, ``"loss"``, ``"val_accuracy"``...).
        min_delta: the smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        mode: ``"auto"`` (max for accuracy/auc, else min), ``"min"`` or ``"max"``.
        restore_best_weights: at the end, put back the weights of the best epoch.
        baseline: stop unless the monitored value beats this.
        start_from_epoch: epochs to wait before monitoring.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        super().__init__()
        if not isinstance(patience, int) or patience < 0:
            raise ConfigError(f"patience: expected an integer >= 0, found {patience!r}")
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.min_delta = abs(float(min_delta))
        self.baseline, self.restore_best_weights = baseline, bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.better = _mode_op(mode, monitor)
        if self.better is np.less:
            self.min_delta = -self.min_delta
        self.stopped_epoch = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.better is np.less else -math.inf
        self.best_weights: dict | None = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        current = _monitored(logs, self.monitor, "EarlyStopping")
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = copy.deepcopy(self.model.state_dict())
        self.wait += 1
        if self.better(current - self.min_delta, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = copy.deepcopy(self.model.state_dict())
            if self.baseline is None or self.better(current - self.min_delta, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping (best {self.monitor}={self.best:.4f} at epoch {self.best_epoch + 1})")


class ModelCheckpoint(Callback):
    """Save the model (with :meth:`Model.save`) after each epoch, or only when ``monitor`` improves.

    In a multi-process ``fit`` (torchrun) only rank 0 writes the file.

    Args:
        filepath: a path, may use ``{epoch}`` and log keys, e.g. ``"model-{epoch:02d}-{val_loss:.2f}.lstmkit"``.
        monitor / mode: as in :class:`EarlyStopping`.
        save_best_only: save only when the monitored value is the best so far (the file is overwritten).
    """

    def __init__(self, filepath: str, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                 mode: str = "auto", save_freq: str = "epoch") -> None:
        super().__init__()
        if save_freq != "epoch":
            raise ConfigError(f"save_freq: only 'epoch' is supported, found {save_freq!r}")
        self.filepath, self.monitor, self.verbose = str(filepath), monitor, verbose
        self.save_best_only = bool(save_best_only)
        self.better = _mode_op(mode, monitor)
        self.best = math.inf if self.better is np.less else -math.inf

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"filepath: cannot format {self.filepath!r} with epoch and {sorted(logs)}: {exc}") from None
        if self.save_best_only:
            current = _monitored(logs, self.monitor, "ModelCheckpoint")
            if not self.better(current, self.best):
                return
            self.best = current
        from lstmkit.train.distributed import is_main

        if not is_main():
            return
        self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved model to {path}")


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to ``schedule(epoch, lr)`` (or ``schedule(epoch)``)."""

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise ConfigError(f"schedule: expected a function (epoch, lr) -> lr, found {schedule!r}")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        opt = self.model.optimizer
        try:
            lr = self.schedule(epoch, opt.learning_rate)
        except TypeError:
            lr = self.schedule(epoch)
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not math.isfinite(lr) or lr <= 0:
            raise ConfigError(f"schedule: must return a positive float learning rate, returned {lr!r} at epoch {epoch}")
        opt.learning_rate = float(lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.learning_rate


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for ``patience`` epochs."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__()
        if not 0.0 < float(factor) < 1.0:
            raise ConfigError(f"factor: expected a float in (0, 1), found {factor!r}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, float(factor), int(patience), verbose
        self.min_delta, self.cooldown, self.min_lr = abs(float(min_delta)), int(cooldown), float(min_lr)
        self.better = _mode_op(mode, monitor)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.best = math.inf if self.better is np.less else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def _improved(self, current: float) -> bool:
        if self.better is np.less:
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        current = _monitored(logs, self.monitor, "ReduceLROnPlateau")
        opt = self.model.optimizer
        if logs is not None:
            logs["learning_rate"] = opt.learning_rate
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best, self.wait = current, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            old = opt.learning_rate
            if old > self.min_lr:
                new = max(old * self.factor, self.min_lr)
                opt.learning_rate = new
                if self.verbose:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new:g}.")
                self.cooldown_counter, self.wait = self.cooldown, 0


class LambdaCallback(Callback):
    """Callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None) -> None:
        super().__init__()
        if on_epoch_begin is not None:
            self.on_epoch_begin = on_epoch_begin
        if on_epoch_end is not None:
            self.on_epoch_end = on_epoch_end
        if on_train_begin is not None:
            self.on_train_begin = on_train_begin
        if on_train_end is not None:
            self.on_train_end = on_train_end


class CSVLogger(Callback):
    """Write each epoch's logs to a CSV file, as Keras's ``CSVLogger``.

    The header is ``epoch`` then the sorted log keys of the first epoch; when that epoch has no
    ``val_*`` keys, ``val_<key>`` columns are added (filled with ``NA``), as Keras does. Values are
    written with :mod:`csv` (floats as ``repr``). ``append=True`` appends to an existing file and
    writes the header only when the file is missing or empty. In a multi-process ``fit`` only rank 0 writes.

    Args:
        filename: the CSV file's path.
        separator: the field delimiter (default ``","``).
        append: append to the file instead of overwriting it.
    """

    def __init__(self, filename: Any, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        import os

        if not isinstance(filename, (str, os.PathLike)):
            raise ConfigError(f"filename: expected a file path, found {filename!r}")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ConfigError(f"separator: expected a one-character string, found {separator!r}")
        if not isinstance(append, bool):
            raise ConfigError(f"append: expected True or False, found {append!r}")
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.append_header = True
        self.keys: list[str] | None = None
        self.writer: Any = None
        self.csv_file: Any = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        import os

        from lstmkit.train.distributed import is_main

        self.writer = None
        self.keys = None
        if not is_main():
            self.csv_file = None
            return
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, encoding="utf-8") as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            self.append_header = True
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        try:
            self.csv_file = open(self.filename, mode, newline="", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"filename: cannot open {self.filename!r} for writing: {exc.strerror or exc}") from None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        import collections
        import csv

        if self.csv_file is None:
            return
        logs = logs or {}

        def handle_value(k: Any) -> Any:
            if isinstance(k, str):
                return k
            if isinstance(k, collections.abc.Iterable) and not (isinstance(k, np.ndarray) and k.ndim == 0):
                return f'"[{", ".join(map(str, k))}]"'
            return k

        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend([f"val_{k}" for k in self.keys])
        if self.writer is None:
            class _Dialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch", *self.keys], dialect=_Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, handle_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None
