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

Training: Adam, cross-entropy, gradient-norm clipping, length-bucketed shuffled batches (sequences of
similar length together, so little padding is computed). Early stopping keeps the weights of the epoch
with the best validation accuracy (ties: lower validation loss) and stops after ``patience`` epochs
without improvement.

Saved as one safetensors file (``kind="sequence_classifier"``; older files say ``sequence-classifier``): the network's weights, the
standardisation statistics and JSON metadata (hyper-parameters, classes, feature count, audio config).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
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

#: What other lstmkit files hold, and how to use them (for a clear wrong-kind error).
_OTHER_KINDS = {
    "sequential": "a Keras-style Sequential model (e.g. a text classifier: use lstmkit text classify)",
    "language_model": "a language model (use lstmkit text generate)",
    "language_model_checkpoint": "a language-model training checkpoint (use lstmkit text train-lm --resume)",
    "forecaster": "a forecaster (use lstmkit forecast predict)",
}


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
    inputs), ``seed``, ``threads`` (torch threads while fitting / predicting; ``None`` leaves torch's
    setting), ``verbose`` (1: a line per epoch).
    """

    _PARAMS = (
        "cell", "units", "layers", "bidirectional", "dropout", "pooling", "attention_units", "epochs", "batch_size",
        "learning_rate", "clip_norm", "patience", "validation_split", "standardize", "audio", "seed", "threads", "verbose",
    )

    def __init__(
        self, cell: str = "lstm", units: int = 64, layers: int = 1, bidirectional: bool = False, dropout: float = 0.1,
        pooling: str = "mean", *, attention_units: int = 32, epochs: int = 40, batch_size: int = 32,
        learning_rate: float = 0.003, clip_norm: float = 1.0, patience: int = 8, validation_split: float = 0.1,
        standardize: bool = True, audio: AudioFeatures | None = None, seed: int = 0, threads: int | None = 1,
        verbose: int = 0,
    ) -> None:
        self.cell, self.units, self.layers, self.bidirectional = cell, units, layers, bidirectional
        self.dropout, self.pooling, self.attention_units = dropout, pooling, attention_units
        self.epochs, self.batch_size, self.learning_rate, self.clip_norm = epochs, batch_size, learning_rate, clip_norm
        self.patience, self.validation_split, self.standardize = patience, validation_split, standardize
        self.audio, self.seed, self.threads, self.verbose = audio, seed, threads, verbose
        self.net_: SequenceNet | None = None
        self.classes_: list[Any] | None = None
        self.n_features_: int | None = None
        self.scaler_: Standardizer | None = None
        self.history_: dict[str, list[float]] = {}
        self.best_epoch_: int | None = None
        self.fit_seconds_: float | None = None
        self.data_info_: dict[str, Any] = {}

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
        self._check_memory(self.n_features_ or 1)

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
        net = self.net_
        opt = torch.optim.Adam(net.parameters(), lr=float(self.learning_rate))
        loss_fn = nn.CrossEntropyLoss()
        rng = np.random.default_rng(self.seed)
        lengths = np.array([s.shape[0] for s in train])
        targets = torch.from_numpy(y)
        history: dict[str, list[float]] = {"loss": [], "accuracy": []}
        if y_valid is not None:
            history.update(val_loss=[], val_accuracy=[])
        best = (-1.0, math.inf)
        best_state, best_epoch, waited = None, None, 0
        for epoch in range(self.epochs):
            net.train()
            total, correct, count = 0.0, 0, 0
            for index in bucketed_batches(lengths, self.batch_size, rng):
                x, lens = pad_batch(train, index)
                logits = net(x, lens)
                loss = loss_fn(logits, targets[index])
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), float(self.clip_norm))
                opt.step()
                total += float(loss.detach()) * len(index)
                correct += int((logits.argmax(1) == targets[index]).sum())
                count += len(index)
            history["loss"].append(total / count)
            history["accuracy"].append(correct / count)
            line = f"epoch {epoch + 1}/{self.epochs}: loss {total / count:.4f}, accuracy {correct / count:.4f}"
            if y_valid is not None:
                probs = self._predict_proba(valid)
                v_loss = float(-np.mean(np.log(np.maximum(probs[np.arange(len(y_valid)), y_valid], 1e-12))))
                v_acc = float(np.mean(probs.argmax(1) == y_valid))
                history["val_loss"].append(v_loss)
                history["val_accuracy"].append(v_acc)
                line += f", val_loss {v_loss:.4f}, val_accuracy {v_acc:.4f}"
                if (v_acc, -v_loss) > (best[0], -best[1]):
                    best, best_epoch, waited = (v_acc, v_loss), epoch + 1, 0
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                else:
                    waited += 1
            if self.verbose:
                print(line, flush=True)
            if y_valid is not None and waited >= self.patience:
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        self.best_epoch_ = best_epoch or len(history["loss"])
        self.history_ = history
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
            what = _OTHER_KINDS.get(kind, f"a {kind!r} file")
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


__all__ = ["SequenceClassifier", "SequenceNet", "pad_batch", "bucketed_batches", "stratified_holdout", "KIND"]
