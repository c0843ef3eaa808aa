"""``Model``: the Keras-style base class (``compile``/``fit``/``evaluate``/``predict``/``summary``/``save``).

A model is a ``torch.nn.Module``: ``model(x)`` returns the output (probabilities for a softmax
model) and ``model.parameters()`` works with any PyTorch code. :class:`~lstmkit.models.Sequential` is
the usual concrete model; subclasses only need ``forward`` (and ``get_config`` to be saved).
"""

from __future__ import annotations

import json
from typing import Any

import torch

from lstmkit.errors import ConfigError
from lstmkit.layers.base import snake_case
from lstmkit.models.classes import MODEL_CLASSES
from lstmkit.models.losses import Loss, get_loss, loss_from_config, loss_to_config
from lstmkit.models.metrics import Metric, get_metric
from lstmkit.models.optimizers import Optimizer, get_optimizer, optimizer_from_config, optimizer_to_config


#: the module behind ``predict(backend="onnxruntime" | "auto")`` (imported on first use; it checks the name)
_PREDICT_BACKEND_MODULE = "lstmkit.export.runtime"


class Model(torch.nn.Module):
    """Base class of lstmkit models (see the module docstring).

    Attributes:
        optimizer: the :class:`~lstmkit.models.optimizers.Optimizer` after ``compile``
            (``model.optimizer.learning_rate`` is live).
        loss: the :class:`~lstmkit.models.losses.Loss` after ``compile``.
        history: the :class:`~lstmkit.models.callbacks.History` of the last ``fit``.
        preprocessing: a JSON-able dict saved with the model (e.g. a tokenizer's vocabulary).
        stop_training: set by a callback to end ``fit`` after the current epoch.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        MODEL_CLASSES[cls.__name__] = cls  # so a saved file's class_name finds its class

    def __new__(cls, *args: Any, **kwargs: Any) -> "Model":
        # Keras: Model(inputs, outputs) is a Functional model; Model() and subclasses are plain models.
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            functional = MODEL_CLASSES.get("Functional")
            if functional is not None:
                return super().__new__(functional)
        return super().__new__(cls)

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        if name is not None and not isinstance(name, str):
            raise ConfigError(f"name: expected a string, found {name!r}")
        self.name = name or snake_case(type(self).__name__)
        self.optimizer: Optimizer | None = None
        self.loss: Loss | None = None
        self.metrics_names: list[str] = []
        self._metric_specs: list[Any] = []
        self._compile_config: dict[str, Any] | None = None
        self.stop_training = False
        self.history = None
        self.preprocessing: dict[str, Any] = {}

    # ------------------------------------------------------------------ hooks for subclasses
    @property
    def output_shape(self) -> tuple | None:
        """The output shape with ``None`` for the batch, e.g. ``(None, 2)``, once known."""
        return None

    def ensure_built(self, x: torch.Tensor) -> tuple:
        """Build the model for inputs like ``x`` (a batch); return the output shape without the batch axis."""
        with torch.no_grad():
            was_training = self.training
            self.eval()
            out = self(x[:1])
            self.train(was_training)
        return tuple(out.shape[1:])

    def check_inputs(self, x: torch.Tensor, argument: str) -> None:
        """Validate a whole input array once (shape, dtype, ranges) before batching it."""

    def logits_activation(self) -> str | None:
        """``"softmax"``/``"sigmoid"`` when the last layer ends in it and :meth:`call_with_logits` can skip it."""
        return None

    def call_with_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The output before the final softmax/sigmoid (see :meth:`logits_activation`)."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config(), so it cannot be saved")

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: list | tuple | None = None,
        *,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        loss_weights: Any = None,
    ) -> None:
        """Configure training.

        Args:
            optimizer: ``"adam"``, ``"adamw"``, ``"sgd"``, ``"rmsprop"`` (default, as Keras) or ``"adagrad"``
                with Keras's default learning rates; an :class:`~lstmkit.models.optimizers.Optimizer`
                (``Adam(learning_rate=1e-4)``); a ``torch.optim`` class; or a factory
                ``params -> torch.optim.Optimizer`` (e.g. ``functools.partial(torch.optim.SGD, lr=0.1)``).
            loss: ``"categorical_crossentropy"``, ``"sparse_categorical_crossentropy"``,
                ``"binary_crossentropy"``, ``"mse"``, ``"mae"``, ``"huber"``, a Loss, or a callable
                ``(y_true, y_pred) -> tensor``.
            metrics: names from ``"accuracy"``, ``"mae"``, ``"mse"``, ``"auc"``, ... (see
                :data:`lstmkit.models.metrics.METRIC_NAMES`).
            clipnorm / clipvalue / global_clipnorm: gradient clipping (overrides the optimizer's).
            loss_weights: for a model with several outputs, a list (or dict by output name) of weights;
                the loss is ``sum_k w_k * loss_k``.

        With several outputs (a Functional model), ``loss`` may be one loss for all, a list, or a dict
        by output name; ``metrics`` a list of lists or a dict by output name (a flat list applies to every
        output). The logs then hold ``loss``, ``<output>_loss`` and ``<output>_<metric>``, as in Keras.

        >>> from lstmkit.models import Sequential
        >>> from lstmkit.layers import Dense
        >>> m = Sequential([Dense(1, input_shape=(3,))])
        >>> m.compile(optimizer="adam", loss="mse", metrics=["mae"])
        """
        if loss is None:
            raise ConfigError("loss: expected a loss name, a Loss or a callable, found None")
        names = self.output_names
        many = len(names) > 1
        losses = [get_loss(spec) for spec in _per_output(loss, names, "loss")]
        weights = [1.0] * len(names) if loss_weights is None else _per_output(loss_weights, names, "loss_weights")
        for w in weights:
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0:
                raise ConfigError(f"loss_weights: expected numbers >= 0, found {w!r}")
        self.output_losses = losses
        self.loss_weights = [float(w) for w in weights]
        self.loss = losses if many else losses[0]
        self.optimizer = get_optimizer(optimizer, clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm)
        if metrics is None:
            metrics = []
        if isinstance(metrics, (str, Metric)):
            metrics = [metrics]
        if many and isinstance(metrics, dict):
            per_output = _per_output(metrics, names, "metrics", default=[])
        elif many and isinstance(metrics, (list, tuple)) and metrics and all(
                isinstance(m, (list, tuple)) or m is None for m in metrics):
            per_output = _per_output(list(metrics), names, "metrics")
        elif isinstance(metrics, (list, tuple)):
            per_output = [list(metrics)] * len(names)  # a flat list: every output (as Keras 2 did)
        else:
            raise ConfigError(f"metrics: expected a list of metric names, found {metrics!r}")
        per_output = [[] if m is None else [m] if isinstance(m, (str, Metric)) else list(m) for m in per_output]
        # Check the names now (the accuracy variant is chosen once the output shape is known).
        for specs, lo in zip(per_output, losses):
            for m in specs:
                get_metric(m, loss_name=lo.name, output_shape=None)
        self._output_metric_specs = per_output
        self._metric_specs = per_output[0]
        if many:
            self.metrics_names = ["loss", *(f"{n}_loss" for n in names),
                                  *(f"{n}_{m if isinstance(m, str) else m.name}" for n, specs in zip(names, per_output)
                                    for m in specs)]
        else:
            self.metrics_names = ["loss", *(m if isinstance(m, str) else m.name for m in per_output[0])]
        opt_config = optimizer_to_config(self.optimizer)
        loss_configs = [loss_to_config(lo) for lo in losses]
        self._compile_config = None
        if opt_config is not None and all(c is not None for c in loss_configs) and all(
                isinstance(m, str) for specs in per_output for m in specs):
            self._compile_config = {"optimizer": opt_config, "loss": loss_configs if many else loss_configs[0],
                                    "metrics": per_output if many else per_output[0]}
            if loss_weights is not None:
                self._compile_config["loss_weights"] = self.loss_weights

    @property
    def compiled(self) -> bool:
        return self.loss is not None

    def compile_from_config(self, config: dict[str, Any]) -> None:
        loss = config["loss"]
        self.compile(
            optimizer=optimizer_from_config(config["optimizer"]),
            loss=[loss_from_config(c) for c in loss] if isinstance(loss, list) else loss_from_config(loss),
            metrics=list(config.get("metrics") or []),
            loss_weights=config.get("loss_weights"),
        )

    def make_metrics(self, output_shape: tuple | None, index: int = 0) -> list[Metric]:
        """Fresh metric objects for output ``index`` (named ``<output>_<metric>`` when there are several outputs)."""
        specs = self._output_metric_specs[index] if hasattr(self, "_output_metric_specs") else self._metric_specs
        loss = self.output_losses[index] if hasattr(self, "output_losses") else self.loss
        metrics = [get_metric(m, loss_name=loss.name, output_shape=output_shape) for m in specs]
        if len(self.output_names) > 1:
            import copy

            metrics = [copy.copy(m) for m in metrics]  # a Metric object given by the user keeps its own name
            for m in metrics:
                m.reset()
                m.name = f"{self.output_names[index]}_{m.name}"
        return metrics

    # ------------------------------------------------------------------ inputs and outputs (one of each here)
    @property
    def output_names(self) -> list[str]:
        """The names of the model's outputs (one, here; a Functional model may have several)."""
        return ["output"]

    def as_inputs(self, x: Any, argument: str = "x") -> tuple[torch.Tensor, ...]:
        """The inputs ``x`` as checked tensors, one per model input (here: one)."""
        from lstmkit.models.data import as_tensor

        return (as_tensor(x, argument),)

    def model_input(self, xs: tuple) -> Any:
        """What ``model(...)`` takes, from the tuple :meth:`as_inputs` made."""
        return xs[0]

    def output_shapes(self) -> list[tuple]:
        """Each output's shape without the batch axis (once built)."""
        shape = self.output_shape
        return [] if shape is None else [tuple(shape[1:])]

    def logits_activations(self) -> list[str | None]:
        return [self.logits_activation()]

    def call_outputs(self, x: Any, logits: list[bool]) -> tuple[list[torch.Tensor], list[Any]]:
        """``([outputs], [masks])`` for training: each output before its final softmax/sigmoid where
        ``logits[i]`` asks for it, and the Keras mask of each output (``None`` here)."""
        return [self.call_with_logits(x) if logits[0] else self(x)], [None]

    # ------------------------------------------------------------------ training API (see training.py)
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = 32, epochs: int = 1, verbose: int = 1,
            callbacks: list | None = None, validation_split: float = 0.0, validation_data: Any = None,
            shuffle: bool = True, initial_epoch: int = 0, precision: str = "fp32", class_weight: Any = None,
            sample_weight: Any = None, steps_per_epoch: int | None = None, validation_steps: int | None = None):
        """Train for ``epochs`` passes over ``(x, y)``; returns a :class:`~lstmkit.models.callbacks.History`.

        The loop is the training engine's (:class:`lstmkit.train.Trainer`); its
        :class:`~lstmkit.train.TrainResult` is kept as ``history.train_result``.

        Args:
            x, y: arrays (numpy, torch or lists) with the same number of samples; for a model with several
                inputs or outputs, a list (or a dict by name) of arrays. Or ``x`` alone as a source of
                batches, as in Keras: a Python generator yielding ``(x, y)`` or ``(x, y, sample_weight)``
                (with ``steps_per_epoch``), a ``torch.utils.data.DataLoader`` or a dataset with ``__len__``
                and ``__getitem__`` returning batches (restarted each epoch).
            steps_per_epoch: batches per epoch from a generator (default: the source's length).
            validation_steps: batches of a generator given as ``validation_data``.
            batch_size: samples per gradient step (default 32).
            epochs: passes over the data.
            verbose: 0 silent, 1 progress bar, 2 one line per epoch.
            callbacks: e.g. ``[EarlyStopping(patience=2)]``.
            validation_split: fraction of the samples, taken from the end before shuffling, to validate on.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)`` (a weighted
                validation loss), used instead of ``validation_split``.
            shuffle: shuffle the training samples each epoch (the order is drawn from torch's global
                generator once per ``fit``, so ``torch.manual_seed`` makes it reproducible).
            initial_epoch: the epoch to start counting from (to continue an earlier ``fit``).
            precision: ``"fp32"`` (default), ``"bf16"`` (bfloat16 autocast; a one-line ConfigError on a
                machine without bf16 units) or ``"auto"`` (bf16 only where it is faster and as accurate).
            class_weight: ``{class index: weight}``, as Keras: each training sample weighs its class's weight
                (its class id; the argmax of a one-hot row; a binary label rounded to 0/1); classes not in
                the dict weigh 1.0. Not applied to validation.
            sample_weight: an array ``(N,)`` of weights >= 0 (not with ``class_weight``, as Keras). The loss
                of a batch is Keras's ``sum(w_i * loss_i) / batch_size``; as in Keras, the compiled
                ``metrics`` stay unweighted. With ``validation_split`` the weights are split with the samples.
        """
        from lstmkit.models.training import fit

        return fit(self, x, y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
                   validation_split=validation_split, validation_data=validation_data, shuffle=shuffle,
                   initial_epoch=initial_epoch, precision=precision, class_weight=class_weight,
                   sample_weight=sample_weight, steps_per_epoch=steps_per_epoch, validation_steps=validation_steps)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = 32, verbose: int = 1,
                 return_dict: bool = False, steps: int | None = None):
        """Loss and metrics on ``(x, y)``: a float (no metrics), a list ``[loss, *metrics]`` or, with
        ``return_dict=True``, ``{"loss": ..., "accuracy": ...}``."""
        from lstmkit.models.training import evaluate

        return evaluate(self, x, y, batch_size=batch_size, verbose=verbose, return_dict=return_dict, steps=steps)

    def predict(self, x: Any, batch_size: int | None = 32, verbose: int = 0, backend: str = "torch",
                steps: int | None = None) -> Any:
        """The model's outputs (probabilities for softmax/sigmoid models) as a float32 numpy array.

        ``backend``: ``"torch"`` (default); ``"onnxruntime"`` runs the model's ONNX export (exported and
        checked against torch once, cached until a weight changes; needs ``lstmkit[export]``); ``"auto"``
        picks one per call by batch x length (:func:`lstmkit.export.runtime.choose_backend`).
        """
        if backend != "torch":
            import importlib

            # By name, like lstmkit.util.registry's loaders: the backend sits in a higher layer (lstmkit.export).
            runtime = importlib.import_module(_PREDICT_BACKEND_MODULE)
            return runtime.predict(self, x, batch_size=batch_size, verbose=verbose, backend=backend)
        from lstmkit.models.training import predict

        return predict(self, x, batch_size=batch_size, verbose=verbose, steps=steps)

    def reset_states(self) -> None:
        """Reset every ``stateful=True`` recurrent layer to a zero state (Keras 2's ``model.reset_states()``)."""
        for module in self.modules():
            if module is not self and getattr(module, "stateful", False) is True and callable(getattr(module, "reset_states", None)):
                module.reset_states()

    # ------------------------------------------------------------------ inspection and files
    def count_params(self) -> int:
        """Weights, as Keras counts them: every parameter plus non-trainable weight buffers
        (BatchNormalization's moving statistics)."""
        return sum(p.numel() for p in self.parameters()) + self._buffer_weights()

    def _buffer_weights(self) -> int:
        from lstmkit.layers.base import Layer

        return sum(b.numel() for m in self.modules() if isinstance(m, Layer) for b in m.weight_buffers())

    def summary(self, print_fn: Any = None):
        """Print a table of layers (name, output shape, params) and the totals; return a
        :class:`~lstmkit.models.summary.ModelSummary` (``str()`` gives the plain-text table)."""
        from lstmkit.models.summary import summarize

        return summarize(self, print_fn=print_fn)

    def save(self, filepath: Any) -> None:
        """Write the model to one safetensors file (weights + JSON config, compile config,
        preprocessing); see :func:`lstmkit.models.load`."""
        from lstmkit.models.serialization import save_model

        save_model(self, filepath)

    def check_preprocessing(self) -> str:
        """``self.preprocessing`` as JSON, or a ``ConfigError`` naming what cannot be serialised."""
        if not isinstance(self.preprocessing, dict):
            raise ConfigError(f"model.preprocessing: expected a JSON-serialisable dict, found {type(self.preprocessing).__name__}")
        try:
            return json.dumps(self.preprocessing, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"model.preprocessing: expected a JSON-serialisable dict, found {exc}") from None


def _per_output(value: Any, names: list[str], argument: str, default: Any = None) -> list:
    """One entry per output from a single value, a list in output order, or a dict by output name."""
    n = len(names)
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ConfigError(f"{argument}: unknown output {unknown[0]!r}; the outputs are {names}")
        if default is None:
            missing = [k for k in names if k not in value]
            if missing:
                raise ConfigError(f"{argument}: no entry for output {missing[0]!r}; the outputs are {names}")
        return [value.get(k, default) for k in names]
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ConfigError(f"{argument}: expected {n} entries (one per output: {names}), found {len(value)}")
        return list(value)
    return [value] * n
