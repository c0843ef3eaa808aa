"""Early stopping with best-weights restore, written once.

>>> stop = EarlyStopping(monitor="val_loss", patience=3)          # stop after 3 evaluations without a new best
>>> stop = EarlyStopping(monitor=("val_accuracy", "val_loss"))    # accuracy, ties broken by lower loss
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from lstmkit.errors import ConfigError
from lstmkit.train.monitor import Monitor


class EarlyStopping:
    """Stop after ``patience`` evaluations without improvement; keep (and restore) the best weights.

    ``monitor``/``mode``/``min_delta``: see :class:`lstmkit.train.monitor.Monitor`. ``restore_best``:
    at the end of training the model gets the weights of its best evaluation (the checkpoint still
    holds the last weights, so a resumed run continues from where it stopped, and the best weights
    beside them). ``best_epoch`` (1-based, the epoch whose evaluation was best) and ``best_step``
    are kept; ``stopped`` says whether patience ran out.
    """

    def __init__(self, monitor: str | Sequence[str] = "val_loss", mode: str | Sequence[str] = "auto",
                 patience: int = 3, min_delta: float = 0.0, restore_best: bool = True) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ConfigError(f"patience: expected an integer >= 1, found {patience!r}")
        if not isinstance(restore_best, bool):
            raise ConfigError(f"restore_best: expected true or false, found {restore_best!r}")
        self.monitor = Monitor(monitor, mode, min_delta, owner="early stopping")
        self.patience = patience
        self.restore_best = restore_best
        self.wait = 0
        self.best_epoch: int | None = None
        self.best_step: int | None = None
        self.stopped = False
        self.best_weights: dict[str, torch.Tensor] | None = None

    @property
    def best(self) -> dict[str, float] | None:
        """The best monitored values, by name."""
        return None if self.monitor.best is None else dict(zip(self.monitor.names, self.monitor.best))

    def update(self, logs: dict[str, float], model: torch.nn.Module, epoch: int, step: int) -> bool:
        """Record one evaluation; True when training should stop."""
        if self.monitor.update(logs):
            self.wait = 0
            self.best_epoch, self.best_step = epoch, step
            if self.restore_best:
                self.best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.wait += 1
        self.stopped = self.wait >= self.patience
        return self.stopped

    def restore(self, model: torch.nn.Module) -> bool:
        """Load the best weights into ``model`` (if kept); whether it did."""
        if self.restore_best and self.best_weights is not None:
            model.load_state_dict(self.best_weights)
            return True
        return False

    def config(self) -> dict[str, Any]:
        return {**self.monitor.config(), "patience": self.patience, "restore_best": self.restore_best}

    def state_dict(self) -> dict[str, Any]:
        """JSON state (the best weights are saved separately, as tensors)."""
        return {"best": self.monitor.state_dict(), "wait": self.wait, "best_epoch": self.best_epoch,
                "best_step": self.best_step, "stopped": self.stopped}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.monitor.load_state_dict(state["best"])
        self.wait = int(state["wait"])
        self.best_epoch = state["best_epoch"]
        self.best_step = state["best_step"]
        self.stopped = bool(state["stopped"])

    def __repr__(self) -> str:
        return f"EarlyStopping({', '.join(f'{k}={v!r}' for k, v in self.config().items())})"


__all__ = ["EarlyStopping"]
