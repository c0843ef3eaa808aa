"""Sequence classification (sensor readings, speech): :class:`SequenceClassifier`, scikit-learn style.

::

    clf = SequenceClassifier(cell="lstm", units=64, bidirectional=True, pooling="mean", epochs=40)
    clf.fit(sequences, labels)             # sequences: (T_i, F) arrays of any lengths; 10% held out
                                           # (stratified) for early stopping unless valid=(X, y) is given
    clf.predict(sequences)                 # ['7', '3', ...]
    clf.predict_proba(sequences)           # (N, n_classes), columns in clf.classes_ order
    clf.score(sequences, labels)           # accuracy
    clf.save("digits.lstmkit"); SequenceClassifier.load("digits.lstmkit")

With ``audio=AudioFeatures(...)`` the inputs may also be paths of wav files: they are featurised with
that config (MFCCs, :mod:`lstmkit.data.audio`), which the saved file keeps, so a loaded model reads a
wav exactly as the trained one did.

The network (:class:`SequenceNet`), for a batch ``x`` ``(N, L, F)`` padded to the longest sequence,
with ``lengths`` ``(N,)``::

    z      = (x - mean) / std                               per-feature, statistics of the training data
    out, h = RNN(z, lengths=lengths)                        lstmkit.nn.LSTM | GRU | SimpleRNN, ``layers``
                                                            deep, optionally bidirectional; out (N, L, D*units)
    pooled = h_n of the last layer (both directions)        pooling="last"
           | sum_{t < len} out_t / len                      pooling="mean"
           | sum_t softmax_t(v . tanh(W out_t + b)) out_t   pooling="attention" (padding weight 0)
    logits = Linear(Dropout(pooled))                        (N, n_classes); softmax gives predict_proba

Padded steps never reach the result: the recurrent layers take ``lengths`` (padded steps keep the state
and output zeros), the mean divides by each row's own length and attention gives padding weight 0. So a
sequence's prediction does not depend on the batch it is in (tested).

Training runs through the one engine, :class:`lstmkit.train.Trainer`: Adam, cross-entropy,
gradient-norm clipping, length-bucketed shuffled batches (sequences of similar length together, so
little padding is computed; :class:`BucketedBatches`). Early stopping
(:class:`lstmkit.train.EarlyStopping`) keeps the weights of the epoch with the best validation
accuracy (ties: lower validation loss) and stops after ``patience`` epochs without improvement.
``precision="bf16"`` trains under bfloat16 autocast where the CPU has bfloat16 matrix units
(:mod:`lstmkit.train.precision`); ``torchrun`` data parallelism works as for every engine run.

Reading labelled files for training and evaluation (the work behind ``lstmkit seq``) is here too:
:func:`read_training_data`, :func:`fit_on`, :func:`read_for_model`, :func:`evaluate_on`.

Saved as one safetensors file (``kind="sequence_classifier"``; older files say ``sequence-classifier``): the network's weights, the
standardisation statistics and JSON metadata (hyper-parameters, classes, feature count, audio config).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lstmkit.data.audio import AudioFeatures, Standardizer, featurize_files
from lstmkit.errors import ConfigError, DataError, InputValueError, ModelFileError, ShapeError
from lstmkit.util.checks import ParamsMixin, check_int, prepare_output, seed_everything

KIND = "sequence_classifier"  # files written before issue 15 say "sequence-classifier" (an alias)
CELLS = ("lstm", "gru", "rnn")
POOLINGS = ("last", "mean", "attention")



# ------------------------------------------------------------------------------------------ network
class SequenceNet(nn.Module):
    """Recurrent encoder + pooling + linear classifier (see the module docstring for the equations)."""

    def __init__(self, n_features: int, n_classes: int, *, cell: str = "lstm", units: int = 64, layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, pooling: str = "last",
                 attention_units: int = 32) -> None:
        super().__init__()
        from lstmkit.nn import GRU, LSTM, SimpleRNN

        rnn_cls = {"lstm": LSTM, "gru": GRU, "rnn": SimpleRNN}[cell]
        self.cell, self.pooling = cell, pooling
        self.rnn = rnn_cls(n_features, units, num_layers=layers, batch_first=True,
                           dropout=dropout if layers > 1 else 0.0, bidirectional=bidirectional)
        width = units * (2 if bidirectional else 1)
        self.attention = None
        if pooling == "attention":
            from lstmkit.layers import AttentionPooling

            self.attention = AttentionPooling(attention_units)
            self.attention.build((None, width))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x`` ``(N, L, F)``, ``lengths`` ``(N,)`` -> logits ``(N, n_classes)``."""
        out, state = self.rnn(x, lengths=lengths)
        if self.pooling == "last":
            h_n = state[0] if self.cell == "lstm" else state  # (D * layers, N, units)
            directions = 2 if self.rnn.bidirectional else 1
            pooled = torch.cat(list(h_n[-directions:]), dim=-1)
        elif self.pooling == "mean":
            pooled = out.sum(dim=1) / lengths.to(out.dtype).unsqueeze(1)  # padded outputs are exactly zero
        else:
            mask = torch.arange(out.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
            pooled = self.attention(out, mask)
        return self.head(self.dropout(pooled))


# -------------------------------------------------------------------------------------------- batches
def pad_batch(sequences: Sequence[np.ndarray], index: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, lengths)``: the sequences at ``index`` zero-padded to the longest, ``(B, L, F)`` and ``(B,)``."""
    lengths = np.array([sequences[i].shape[0] for i in index], dtype=np.int64)
    x = np.zeros((len(index), int(lengths.max()), sequences[index[0]].shape[1]), dtype=np.float32)
    for row, i in enumerate(index):
        x[row, : lengths[row]] = sequences[i]
    return torch.from_numpy(x), torch.from_numpy(lengths)


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Index batches of similar lengths: shuffle (``rng``), sort within chunks of 16 batches, shuffle batches.

    ``rng=None``: no shuffling, all indices sorted by length (for prediction).
    """
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    idx = rng.permutation(n)
    chunk = batch_size * 16
    batches = []
    for s in range(0, n, chunk):
        part = idx[s : s + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class BucketedBatches:
    """A batch source for :mod:`lstmkit.train`: padded, length-bucketed batches of a list of sequences.

    Epoch ``e``'s batches are :func:`bucketed_batches` ``(lengths, batch_size, rng)`` at the ``(e + 1)``-th
    call on one ``numpy`` generator seeded with ``seed`` (how the classifier has always shuffled, so a
    seed gives the model it gave before the engine); an earlier epoch asked for again is replayed from
    the start, so batch ``(e, i)`` is always the same. Batch ``i`` is ``(x, lengths, targets)``
    (:func:`pad_batch`); process ``rank`` of ``world`` gets its contiguous share of the global batch
    (``None`` when that share is empty).
    """

    def __init__(self, sequences: Sequence[np.ndarray], targets: np.ndarray, batch_size: int, seed: int) -> None:
        self.sequences, self.targets = sequences, torch.as_tensor(np.asarray(targets, dtype=np.int64))
        self.lengths = np.array([s.shape[0] for s in sequences])
        self.batch_size, self.seed = int(batch_size), int(seed)
        self._rng: np.random.Generator | None = None
        self._epoch, self._batches = -1, None
        self._n = len(bucketed_batches(self.lengths, self.batch_size, np.random.default_rng(self.seed)))

    def num_batches(self, epoch: int = 0) -> int:
        return self._n

    def epoch(self, epoch: int) -> list[np.ndarray]:
        """The index batches of epoch ``epoch``."""
        if self._batches is not None and self._epoch == epoch:
            return self._batches
        if self._rng is None or epoch < self._epoch:
            self._rng, self._epoch = np.random.default_rng(self.seed), -1
        while self._epoch < epoch:
            self._batches = bucketed_batches(self.lengths, self.batch_size, self._rng)
            self._epoch += 1
        return self._batches

    def batch(self, epoch: int, index: int, rank: int = 0, world: int = 1) -> tuple[torch.Tensor, ...] | None:
        idx = self.epoch(epoch)[index]
        if world > 1:
            idx = np.array_split(idx, world)[rank]
            if not len(idx):
                return None
        x, lens = pad_batch(self.sequences, idx)
        return x, lens, self.targets[torch.from_numpy(np.asarray(idx, dtype=np.int64))]


def stratified_holdout(labels: Sequence[Any], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train_index, valid_index)``: about ``fraction`` of each class held out (none of a 1-example class)."""
    rng = np.random.default_rng(seed)
    labels = list(labels)
    train, valid = [], []
    for c in sorted(set(map(str, labels))):
        idx = np.array([i for i, y in enumerate(labels) if str(y) == c])
        idx = idx[rng.permutation(len(idx))]
        k = min(len(idx) - 1, int(round(fraction * len(idx))))
        valid += idx[:k].tolist()
        train += idx[k:].tolist()
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(valid, dtype=np.int64))


def _label_key(label: Any) -> tuple[int, Any]:
    return (0, label) if isinstance(label, int) else (1, str(label))


def _check_labels(labels: Any, n: int, what: str) -> list[Any]:
    if isinstance(labels, np.ndarray):
        labels = labels.tolist()
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence):
        raise InputValueError(f"{what}: labels must be a list, found {type(labels).__name__}")
    if len(labels) != n:
        raise DataError(f"{what}: {n} sequences but {len(labels)} labels")
    out = []
    for i, y in enumerate(labels):
        if isinstance(y, bool) or not isinstance(y, (str, int, np.integer)):
            raise InputValueError(f"{what}: label at index {i} must be a string or an integer, found {y!r}")
        out.append(int(y) if isinstance(y, np.integer) else y)
    return out


# ------------------------------------------------------------------------------------------ classifier
class SequenceClassifier(ParamsMixin):
    """A recurrent sequence classifier with scikit-learn's interface (see the module docstring).

    Hyper-parameters (checked by :meth:`fit`): ``cell`` (``"lstm"``, ``"gru"`` or ``"rnn"``: Elman
    SimpleRNN), ``units``, ``layers``, ``bidirectional``, ``dropout`` (between layers and before the
    classifier), ``pooling`` (``"last"``, ``"mean"``, ``"attention"``), ``attention_units``, ``epochs``,
    ``batch_size``, ``learning_rate`` (Adam), ``clip_norm`` (gradient norm), ``patience`` (epochs without
    a better validation accuracy before stopping), ``validation_split`` (fraction of the training data
    held out, stratified, when ``fit`` gets no ``valid``; 0 trains all epochs without early stopping),
    ``standardize`` (per-feature, training statistics), ``audio`` (an :class:`AudioFeatures` for wav
    inputs), ``precision`` (``"fp32"``, ``"bf16"``: bfloat16 autocast where the CPU has bfloat16 matrix
    units, else a ConfigError; ``"auto"``: bf16 only where it is faster), ``seed``, ``threads`` (torch
    threads while fitting / predicting; ``None`` leaves torch's setting), ``verbose`` (1: a line per epoch).

    After :meth:`fit`: ``net_``, ``classes_``, ``n_features_``, ``scaler_``, ``history_`` (per epoch:
    ``loss``, ``accuracy`` and, with validation, ``val_loss``, ``val_accuracy``), ``best_epoch_``,
    ``fit_seconds_`` and ``train_result_``, the engine's :class:`lstmkit.train.TrainResult` (not saved).
    """

    _PARAMS = (
        "cell", "units", "layers", "bidirectional", "dropout", "pooling", "attention_units", "epochs", "batch_size",
        "learning_rate", "clip_norm", "patience", "validation_split", "standardize", "audio", "precision", "seed",
        "threads", "verbose",
    )

    def __init__(
        self, cell: str = "lstm", units: int = 64, layers: int = 1, bidirectional: bool = False, dropout: float = 0.1,
        pooling: str = "mean", *, attention_units: int = 32, epochs: int = 40, batch_size: int = 32,
        learning_rate: float = 0.003, clip_norm: float = 1.0, patience: int = 8, validation_split: float = 0.1,
        standardize: bool = True, audio: AudioFeatures | None = None, precision: str = "fp32", seed: int = 0,
        threads: int | None = 1, verbose: int = 0,
    ) -> None:
        self.cell, self.units, self.layers, self.bidirectional = cell, units, layers, bidirectional
        self.dropout, self.pooling, self.attention_units = dropout, pooling, attention_units
        self.epochs, self.batch_size, self.learning_rate, self.clip_norm = epochs, batch_size, learning_rate, clip_norm
        self.patience, self.validation_split, self.standardize = patience, validation_split, standardize
        self.audio, self.seed, self.threads, self.verbose = audio, seed, threads, verbose
        self.precision = precision
        self.net_: SequenceNet | None = None
        self.classes_: list[Any] | None = None
        self.n_features_: int | None = None
        self.scaler_: Standardizer | None = None
        self.history_: dict[str, list[float]] = {}
        self.best_epoch_: int | None = None
        self.fit_seconds_: float | None = None
        self.data_info_: dict[str, Any] = {}
        self.train_result_: Any = None  # the engine's lstmkit.train.TrainResult of the last fit (not saved)

    def __repr__(self) -> str:
        return (f"SequenceClassifier(cell={self.cell!r}, units={self.units}, layers={self.layers}, "
                f"bidirectional={self.bidirectional}, pooling={self.pooling!r})")

    def count_params(self) -> int:
        self._require_fitted("count_params")
        return sum(p.numel() for p in self.net_.parameters())

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        for name, low in (("units", 1), ("layers", 1), ("attention_units", 1), ("epochs", 1), ("batch_size", 1),
                          ("patience", 1), ("seed", 0)):
            check_int(name, getattr(self, name), low)
        if self.threads is not None:
            check_int("threads", self.threads, 1)
        for name, low, high in (("dropout", 0.0, 1.0), ("validation_split", 0.0, 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value < high:
                raise ConfigError(f"{name} must be a number in [{low:g}, {high:g}); found {value!r}")
        for name in ("learning_rate", "clip_norm"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"{name} must be a number > 0; found {value!r}")
        for name in ("bidirectional", "standardize"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False; found {getattr(self, name)!r}")
        for name, choices in (("cell", CELLS), ("pooling", POOLINGS)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}; found {getattr(self, name)!r}")
        if self.audio is not None and not isinstance(self.audio, AudioFeatures):
            raise ConfigError(f"audio must be an AudioFeatures or None; found {type(self.audio).__name__}")
        from lstmkit.train.precision import check_precision

        check_precision(self.precision)
        self._check_memory(self.n_features_ or 1)

    def _resolved_precision(self, name: str = "precision") -> str:
        """``"fp32"`` or ``"bf16"`` for ``precision`` on this CPU; ``"bf16"`` without bf16 units is a ConfigError."""
        from lstmkit.train.precision import resolve_precision

        return resolve_precision(self.precision, "cpu", name=name)

    def _check_memory(self, n_features: int) -> None:
        """Sizes that cannot be trained in this machine's memory: one line naming ``units``, before allocating."""
        from lstmkit.util.memory import check_training_fits, lstm_params

        gates = {"lstm": 4, "gru": 3, "rnn": 1}[self.cell]
        params = lstm_params(n_features, self.units, self.layers, self.bidirectional, gates)
        width = self.units * (2 if self.bidirectional else 1)
        check_training_fits("units", self.units, params, activation_floats=6 * self.batch_size * 100 * width * self.layers)

    def _require_fitted(self, what: str) -> None:
        if self.net_ is None:
            raise ConfigError(f"SequenceClassifier.{what}: not fitted yet; call fit(sequences, labels) or SequenceClassifier.load(path)")

    # ------------------------------------------------------------------ inputs
    def _as_sequences(self, X: Any, what: str) -> list[np.ndarray]:
        """``(T_i, F)`` float32 arrays from a list of arrays / wav paths, or an ``(N, T[, F])`` array."""
        if isinstance(X, np.ndarray) and X.dtype.kind in "fiu":
            if X.ndim not in (2, 3):
                raise ShapeError(f"{what}: expected sequences (N, T, F) or (N, T), found an array of shape {X.shape}")
            X = list(X[:, :, None] if X.ndim == 2 else X)
        if isinstance(X, (str, bytes, PathLike)) or not isinstance(X, Sequence | np.ndarray):
            raise InputValueError(f"{what}: expected a list of sequences, found {type(X).__name__}")
        items = list(X)
        paths = [i for i, s in enumerate(items) if isinstance(s, (str, PathLike))]
        if paths:
            if self.audio is None:
                raise InputValueError(
                    f"{what}: item {paths[0]} is a path ({str(items[paths[0]])!r}) but this classifier has no audio "
                    "config; pass arrays, or create it with audio=AudioFeatures(...)"
                )
            if self.audio.sample_rate is None:
                self.audio = self.audio.resolved(items[paths[0]])
            feats = featurize_files([items[i] for i in paths], self.audio)
            for i, f in zip(paths, feats):
                items[i] = f
        out = []
        for i, s in enumerate(items):
            try:
                a = np.asarray(s, dtype=np.float32)
            except (TypeError, ValueError):
                raise InputValueError(f"{what}: sequence {i} is not numeric ({type(s).__name__})") from None
            if a.ndim == 1:
                a = a[:, None]
            if a.ndim != 2:
                raise ShapeError(f"{what}: sequence {i} must be (T, F) or (T,), found shape {a.shape}")
            out.append(a)
        from lstmkit.data.sequences import check_sequences

        check_sequences(out, [str(i) for i in range(len(out))], what)
        if self.n_features_ is not None and out[0].shape[1] != self.n_features_:
            raise ShapeError(f"{what}: sequences have {out[0].shape[1]} features, the model expects {self.n_features_}")
        return out

    def _transform(self, sequences: list[np.ndarray]) -> list[np.ndarray]:
        return [self.scaler_.transform(s) for s in sequences] if self.scaler_ is not None else sequences

    # --------------------------------------------------------------------- fit
    def fit(self, X: Any, y: Sequence[Any], valid: tuple[Any, Sequence[Any]] | None = None) -> SequenceClassifier:
        """Fit the standardiser (training data only), the label set and the network.

        ``valid=(X, y)``: early stopping on it; otherwise ``validation_split`` of ``X`` is held out.
        """
        from lstmkit.nn.threads import torch_threads

        self._check_params()
        self._resolved_precision()  # bf16 where the CPU cannot run it fails before any data work
        self.n_features_ = None
        train = self._as_sequences(X, "SequenceClassifier.fit")
        labels = _check_labels(y, len(train), "SequenceClassifier.fit")
        classes = sorted(set(labels), key=_label_key)
        if len(classes) < 2:
            raise DataError(
                f"training labels have a single class ({classes[0]!r}, {len(labels)} sequences); a classifier needs at least 2"
            )
        if valid is not None:
            if not isinstance(valid, (tuple, list)) or len(valid) != 2:
                raise InputValueError("SequenceClassifier.fit: valid must be a (sequences, labels) pair")
            v_seqs = self._as_sequences(valid[0], "SequenceClassifier.fit valid")
            v_labels = _check_labels(valid[1], len(v_seqs), "SequenceClassifier.fit valid")
        elif self.validation_split > 0 and len(train) >= 2 * len(classes):
            tr, va = stratified_holdout(labels, self.validation_split, self.seed)
            v_seqs, v_labels = [train[i] for i in va], [labels[i] for i in va]
            train, labels = [train[i] for i in tr], [labels[i] for i in tr]
        else:
            v_seqs, v_labels = [], []
        if v_seqs and v_seqs[0].shape[1] != train[0].shape[1]:
            raise ShapeError(f"validation sequences have {v_seqs[0].shape[1]} features, training ones {train[0].shape[1]}")
        self.classes_ = classes
        self.n_features_ = int(train[0].shape[1])
        self._check_memory(self.n_features_)
        self.scaler_ = Standardizer().fit(train) if self.standardize else None
        y_train = self._encode(labels, "training data")
        y_valid = self._encode(v_labels, "validation data") if v_seqs else None
        with torch_threads(self.threads):
            seed_everything(self.seed)
            self.net_ = self._build_net()
            t0 = time.perf_counter()
            self._train(self._transform(train), y_train, self._transform(v_seqs), y_valid)
            self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _build_net(self) -> SequenceNet:
        return SequenceNet(
            self.n_features_, len(self.classes_), cell=self.cell, units=self.units, layers=self.layers,
            bidirectional=self.bidirectional, dropout=float(self.dropout), pooling=self.pooling,
            attention_units=self.attention_units,
        )

    def _encode(self, labels: list[Any], what: str) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.classes_)}
        labels = self.match_labels(labels)
        unknown = sorted({str(y) for y in labels if y not in index})
        if unknown:
            raise DataError(f"{what}: label(s) {', '.join(unknown[:5])} not among the training labels "
                            f"({', '.join(map(str, self.classes_))})")
        return np.array([index[y] for y in labels], dtype=np.int64)

    def match_labels(self, labels: Sequence[Any]) -> list[Any]:
        """``labels`` with each one that spells a class (``"1"`` for ``1``) replaced by that class."""
        known = set(self.classes_)
        by_str = {str(c): c for c in self.classes_}
        return [y if y in known else by_str.get(str(y), y) for y in labels]

    def _train(self, train: list[np.ndarray], y: np.ndarray, valid: list[np.ndarray], y_valid: np.ndarray | None) -> None:
        """Train ``net_`` through :class:`lstmkit.train.Trainer` (see the module docstring)."""
        from lstmkit.train import EarlyStopping, FunctionHooks, StepOutput, Trainer

        net = self.net_
        loss_fn = nn.CrossEntropyLoss()

        def step(model: nn.Module, batch: tuple[torch.Tensor, ...], carry: Any) -> StepOutput:
            x, lens, targets = batch
            logits = model(x, lens).float()
            accuracy = (logits.argmax(1) == targets).float().mean()
            return StepOutput(loss_fn(logits, targets), weight=len(targets), metrics={"accuracy": accuracy})

        evaluate = None
        if y_valid is not None:
            def evaluate(model: nn.Module) -> dict[str, float]:
                probs = self._predict_proba(valid)
                v_loss = float(-np.mean(np.log(np.maximum(probs[np.arange(len(y_valid)), y_valid], 1e-12))))
                return {"val_loss": v_loss, "val_accuracy": float(np.mean(probs.argmax(1) == y_valid))}

        def on_epoch_end(state: Any, logs: dict[str, float]) -> None:
            if not self.verbose or state.rank != 0:
                return
            line = f"epoch {state.epoch + 1}/{self.epochs}: loss {logs['loss']:.4f}, accuracy {logs['accuracy']:.4f}"
            if "val_loss" in logs:
                line += f", val_loss {logs['val_loss']:.4f}, val_accuracy {logs['val_accuracy']:.4f}"
            print(line, flush=True)

        result = self.train_result_ = Trainer(
            net, torch.optim.Adam(net.parameters(), lr=float(self.learning_rate)), step,
            BucketedBatches(train, y, self.batch_size, self.seed), epochs=int(self.epochs),
            clip_norm=float(self.clip_norm), precision=self._resolved_precision(), evaluate=evaluate,
            early_stopping=None if evaluate is None else EarlyStopping(
                ("val_accuracy", "val_loss"), mode=("max", "min"), patience=int(self.patience)),
            hooks=FunctionHooks(on_epoch_end=on_epoch_end), handle_sigint=False,
        ).fit()
        keys = ["loss", "accuracy"] + (["val_loss", "val_accuracy"] if evaluate is not None else [])
        self.history_ = {k: [h[k] for h in result.history] for k in keys}
        self.best_epoch_ = result.best_epoch or len(result.history)
        net.eval()

    # ----------------------------------------------------------------- predict
    def _predict_proba(self, sequences: list[np.ndarray], batch_size: int = 256) -> np.ndarray:
        """Probabilities of already standardised sequences (batches sorted by length, put back in order)."""
        net = self.net_
        was_training = net.training
        net.eval()
        out = np.zeros((len(sequences), len(self.classes_)), dtype=np.float64)
        lengths = np.array([s.shape[0] for s in sequences])
        with torch.no_grad():
            for index in bucketed_batches(lengths, batch_size, None):
                x, lens = pad_batch(sequences, index)
                out[index] = torch.softmax(net(x, lens), dim=1).double().numpy()
        net.train(was_training)
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(N, n_classes)`` probabilities, columns in ``classes_`` order (X: sequences or wav paths)."""
        from lstmkit.nn.threads import torch_threads

        self._require_fitted("predict_proba")
        sequences = self._as_sequences(X, "SequenceClassifier.predict")
        with torch_threads(self.threads):
            return self._predict_proba(self._transform(sequences))

    def predict(self, X: Any) -> list[Any]:
        """The most probable label of each sequence."""
        probs = self.predict_proba(X)
        return [self.classes_[int(i)] for i in probs.argmax(axis=1)]

    def score(self, X: Any, y: Sequence[Any]) -> float:
        """Accuracy on ``(X, y)``."""
        self._require_fitted("score")
        pred = self.predict(X)
        labels = self.match_labels(_check_labels(y, len(pred), "SequenceClassifier.score"))
        return float(np.mean([p == t for p, t in zip(pred, labels)]))

    # --------------------------------------------------------------- save/load
    def save(self, path: str | PathLike[str]) -> Path:
        """Write one model file: weights, standardisation statistics, hyper-parameters, classes, audio config."""
        from lstmkit.models.serialization import save_tensors

        self._require_fitted("save")
        out = prepare_output(path)
        tensors = {f"net.{k}": v for k, v in self.net_.state_dict().items()}
        if self.scaler_ is not None:
            tensors["standardize.mean"] = torch.from_numpy(self.scaler_.mean)
            tensors["standardize.std"] = torch.from_numpy(self.scaler_.std)
        params = {k: v for k, v in self.get_params().items() if k != "audio"}
        save_tensors(out, tensors, {
            "params": json.dumps(params),
            "classes": json.dumps(list(self.classes_)),
            "n_features": json.dumps(self.n_features_),
            "audio": json.dumps(self.audio.to_dict() if self.audio is not None else None),
            "data": json.dumps(self.data_info_),
            "training": json.dumps({"best_epoch": self.best_epoch_, "fit_seconds": self.fit_seconds_,
                                    "history": self.history_}),
        }, kind=KIND)
        return out

    @classmethod
    def load(cls, path: str | PathLike[str]) -> SequenceClassifier:
        """Load a file written by :meth:`save`; another kind of lstmkit file is a ModelFileError saying what it holds."""
        from lstmkit.models.serialization import file_kind, load_tensors

        tensors, meta = load_tensors(path)
        kind = file_kind(meta)
        if kind != KIND:
            from lstmkit.util.registry import describe

            what = describe(kind)
            raise ModelFileError(
                f"model file {str(path)!r} holds {what}, not a sequence classifier; "
                "train one with lstmkit seq train-classifier"
            )
        return _load_checked(cls, path, tensors, meta)


def _load_checked(cls: type[SequenceClassifier], path: Any, tensors: dict[str, torch.Tensor],
                  meta: dict[str, str]) -> SequenceClassifier:
    """A SequenceClassifier from a file, every metadata field checked against its schema and the weights.

    Files of format version 1 carry no metadata checksum, so an edited header is caught here: the
    classes must match the classifier head's outputs, ``n_features`` the first layer's inputs and the
    standardisation statistics, and the hyper-parameters must rebuild exactly the stored weights.
    """
    from lstmkit.util.schema import FileSchema

    s = FileSchema(path)
    params = {k: v for k, v in s.json(meta, "params", dict).items() if k in cls._PARAMS}
    classes = s.label_list(s.json(meta, "classes", list), "classes", min_len=2)
    n_features = s.int_in({"n_features": s.json(meta, "n_features", int)}, "n_features", low=1)
    audio = s.json(meta, "audio", (dict, type(None)), default=None)
    data_info = s.json(meta, "data", dict, default={})
    training = s.json(meta, "training", dict, default={})
    s.choice(params, "cell", CELLS, "params", default="lstm")
    s.choice(params, "pooling", POOLINGS, "params", default="mean")
    for key in ("units", "layers", "attention_units"):
        if key in params:
            s.int_in(params, key, "params", low=1)
    head = tensors.get("net.head.weight")
    if head is None or head.ndim != 2:
        raise ModelFileError(f"model file {str(path)!r}: weight 'net.head.weight' (the classifier head) is missing")
    s.equals("classes", len(classes), int(head.shape[0]), "classes: the classifier head's outputs")
    first = tensors.get("net.rnn.weight_ih_l0")
    if first is not None and first.ndim == 2:
        s.equals("n_features", n_features, int(first.shape[1]), "the first recurrent layer's inputs")
    recurrent = tensors.get("net.rnn.weight_hh_l0")
    if recurrent is not None and recurrent.ndim == 2:
        s.equals("params.units", params.get("units", 64), int(recurrent.shape[1]), "the recurrent weights' units")
    if "layers" in params:
        s.recurrent_layers(tensors, "net.rnn.", "params.layers", params["layers"])
    if ("standardize.mean" in tensors) != ("standardize.std" in tensors):
        raise ModelFileError(f"model file {str(path)!r}: weights 'standardize.mean' and 'standardize.std' must come together")
    if "standardize.mean" in tensors:
        for name in ("standardize.mean", "standardize.std"):
            s.shape(tensors, name, (n_features,), f"n_features={n_features}")
    try:
        obj = cls(**params, audio=AudioFeatures.from_dict(audio) if audio is not None else None)
        obj._check_params()
    except (TypeError, ValueError) as e:  # ConfigError is a ValueError
        raise ModelFileError(f"model file {str(path)!r}: invalid sequence-classifier parameters "
                             f"({' '.join(str(e).split())[:200]})") from None
    obj.classes_, obj.n_features_ = classes, n_features
    obj.data_info_ = data_info
    obj.best_epoch_ = s.int_in(training, "best_epoch", "training", low=0, optional=True)
    obj.fit_seconds_ = s.number_in(training, "fit_seconds", "training", low=0, optional=True)
    obj.history_ = s.obj(training.get("history") or {}, "training.history")
    if "standardize.mean" in tensors:
        obj.scaler_ = Standardizer(tensors["standardize.mean"].numpy(), tensors["standardize.std"].numpy())
    obj.net_ = obj._build_net()
    net_tensors = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
    s.state_matches(net_tensors, obj.net_.state_dict(), "the metadata field 'params'")
    obj.net_.load_state_dict(net_tensors)
    obj.net_.eval()
    return obj


# ------------------------------------------------------------------------------- files (lstmkit seq)
def _is_audio(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() == ".wav"


@dataclass
class TrainingData:
    """What :func:`read_training_data` returns.

    ``train`` / ``valid`` / ``test``: the sets (``valid`` and ``test`` may be None; ``valid`` None means
    ``validation_split`` of ``train`` is held out by :meth:`SequenceClassifier.fit`). ``data_info``:
    what the saved model records about the data (the wav label pattern, the test pattern).
    """

    train: Any
    valid: Any
    test: Any
    data_info: dict[str, Any]


def read_training_data(
    data: str | PathLike[str], *, audio: AudioFeatures | None = None, label_pattern: str | None = None,
    manifest: str | PathLike[str] | None = None, test_pattern: str | None = None,
    valid: str | PathLike[str] | None = None, valid_pattern: str | None = None, id_column: str = "id",
    label_column: str = "label", time_column: str | None = None, encoding: str = "utf-8",
) -> TrainingData:
    """Read labelled ``data`` (a wav folder, ``.npz``, ``.csv`` or ``.ts``; :func:`lstmkit.data.sequences.read_sequences`)
    and split it: ``test_pattern`` (a regex on the names) is held out from training and validation;
    validation is ``valid_pattern`` of the rest, or the separate data ``valid`` (read with the
    training data's audio config), or neither. ``label_pattern=None``: the default wav pattern.
    Every problem is one-line :class:`~lstmkit.errors.DataError` / :class:`~lstmkit.errors.InputValueError`.
    """
    from lstmkit.data.sequences import DEFAULT_LABEL_PATTERN, read_sequences

    if valid is not None and valid_pattern is not None:
        raise InputValueError("give at most one of --valid and --valid-pattern")
    data = Path(data)
    pattern = label_pattern or DEFAULT_LABEL_PATTERN
    read = dict(label_pattern=pattern, manifest=manifest, id_column=id_column, label_column=label_column,
                time_column=time_column, encoding=encoding)
    train = read_sequences(data, audio=audio, **read)
    test = None
    if test_pattern is not None:
        test, train = train.split(test_pattern)
        if not len(test):
            raise DataError(f"--test-pattern {test_pattern!r} matches no sequence of {data}")
        if not len(train):
            raise DataError(f"--test-pattern {test_pattern!r} matches every sequence of {data}; nothing is left to train on")
    val = None
    if valid_pattern is not None:
        val, train = train.split(valid_pattern, "--valid-pattern")
        if not len(val) or not len(train):
            raise DataError(f"--valid-pattern {valid_pattern!r} matches {'no' if not len(val) else 'every'} training sequence of {data}")
    elif valid is not None:
        val = read_sequences(valid, audio=train.audio, **read)  # the training files' sample rate
    info = {"label_pattern": pattern if _is_audio(data) and manifest is None else None, "test_pattern": test_pattern}
    return TrainingData(train, val, test, info)


def fit_on(clf: SequenceClassifier, data: TrainingData) -> SequenceClassifier:
    """Fit ``clf`` on ``data.train`` (early stopping on ``data.valid`` when there is one), keeping the
    audio config and ``data.data_info`` in the model."""
    clf.audio = data.train.audio
    clf.data_info_ = dict(data.data_info)
    valid = (data.valid.sequences, data.valid.labels) if data.valid is not None else None
    return clf.fit(data.train.sequences, data.train.labels, valid=valid)


def load_classifier(path: str | PathLike[str], *, resample: bool = False) -> SequenceClassifier:
    """:meth:`SequenceClassifier.load`; ``resample=True`` lets it read wavs at another sample rate."""
    clf = SequenceClassifier.load(path)
    if resample and clf.audio is not None:
        clf.audio = replace(clf.audio, resample=True)
    return clf


def read_for_model(clf: SequenceClassifier, data: str | PathLike[str], what: str, **read: Any) -> Any:
    """``data`` read the way ``clf`` was trained (its audio config); audio for an array model is an error.

    ``read``: the other arguments of :func:`lstmkit.data.sequences.read_sequences`.
    """
    from lstmkit.data.sequences import read_sequences

    data = Path(data)
    if not data.exists():
        raise DataError(f"{what} not found: {data}")
    if _is_audio(data) and clf.audio is None:
        raise InputValueError(f"{what} {data} is audio but the model was trained on arrays with {clf.n_features_} features")
    return read_sequences(data, audio=clf.audio, **read)


def evaluate_on(
    clf: SequenceClassifier, data: str | PathLike[str], *, test_pattern: str | None = None,
    label_pattern: str | None = None, manifest: str | PathLike[str] | None = None, id_column: str = "id",
    label_column: str = "label", time_column: str | None = None, encoding: str = "utf-8",
) -> Any:
    """Accuracy, macro-F1 and the confusion matrix (a :class:`lstmkit.tasks.text.classifier.Report`) of
    ``clf`` on the labelled ``data`` (only the sequences matching ``test_pattern``, when given).

    ``label_pattern=None``: the one the model was trained with, else the default. A label the model
    does not know is a one-line DataError.
    """
    from lstmkit.data.sequences import DEFAULT_LABEL_PATTERN
    from lstmkit.tasks.text.classifier import classification_report

    pattern = label_pattern or clf.data_info_.get("label_pattern") or DEFAULT_LABEL_PATTERN
    test = read_for_model(clf, data, "data", include=test_pattern, label_pattern=pattern, manifest=manifest,
                          id_column=id_column, label_column=label_column, time_column=time_column, encoding=encoding)
    labels = clf.match_labels(test.labels)
    unknown = sorted({str(y) for y in labels} - {str(c) for c in clf.classes_})
    if unknown:
        raise DataError(f"{data}: label(s) {', '.join(unknown[:5])} are not among the model's labels "
                        f"({', '.join(map(str, clf.classes_))})")
    return classification_report(labels, clf.predict(test.sequences), clf.classes_)


def count_labels(labels: Sequence[Any]) -> str:
    """``"a: 3, b: 5"``: how many sequences carry each label."""
    from collections import Counter

    counts = Counter(map(str, labels))
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


__all__ = [
    "SequenceClassifier", "SequenceNet", "BucketedBatches", "pad_batch", "bucketed_batches", "stratified_holdout",
    "KIND", "TrainingData", "read_training_data", "fit_on", "load_classifier", "read_for_model", "evaluate_on",
    "count_labels",
]
