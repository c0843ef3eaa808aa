"""Sequence classification (sensor readings, speech, UCR/UEA time series): :class:`SequenceClassifier`, scikit-learn style.

::

    clf = SequenceClassifier()             # LSTM-FCN; every unset setting is sized from the data and
    clf.fit(sequences, labels)             # printed in one line (verbose=False: silent)
    clf.predict(sequences)                 # ['7', '3', ...]
    clf.predict_proba(sequences)           # (N, n_classes), columns in clf.classes_ order
    clf.score(sequences, labels)           # accuracy
    clf.save("digits.lstmkit"); SequenceClassifier.load("digits.lstmkit")

``sequences`` are ``(T_i, F)`` arrays of any lengths (or an ``(N, T[, F])`` array). With
``audio=AudioFeatures(...)`` they may also be paths of wav files: they are featurised with that
config (MFCCs, :mod:`lstmkit.data.audio`), which the saved file keeps.

Models (``model=``; :mod:`lstmkit.tasks.sequences.networks` has the equations):

* ``"lstm_fcn"`` (default): LSTM-FCN (Karim et al. 2018): three convolution blocks (128/256/128
  filters, kernels 8/5/3, batch norm, ReLU) averaged over the real steps, beside an LSTM that reads
  the dimension-shuffled series (the F channels as steps, each carrying the whole time axis);
  concatenated, then softmax. ``"alstm_fcn"``: the same with attention over the LSTM's outputs.
* ``"lstm"``: the plain recurrent network of earlier versions (``cell``, ``pooling`` ...), unchanged,
  so older model files load and build the same network.

Preprocessing, the same in training and prediction: ``downsample`` (PAA, the mean of each run of
``k`` steps), then ``normalize``: ``"series"`` (each series z-normalised per channel over its own
steps), ``"feature"`` (per-channel statistics of the training data) or ``"none"``.

Training runs through the one engine, :class:`lstmkit.train.Trainer`: Adam, cross-entropy,
gradient-norm clipping, length-bucketed shuffled batches (:class:`BucketedBatches`); the
convolutional models decay the learning rate to 0 on a cosine. The epoch kept is chosen by
``selection``: ``"holdout"`` (early stopping on a stratified validation split or ``valid=``),
``"train_loss"`` (all data, the epoch with the lowest training loss) or ``"none"`` (the last
epoch). ``ensemble=N`` trains N seeds and averages their probabilities. Unset settings
(``None``) come from :mod:`lstmkit.tasks.sequences.recipe`; warnings (a validation set too small,
a kept model at chance, too few gradient steps) are :class:`~lstmkit.errors.LstmkitWarning`; both
are kept in ``advice_`` and in the model file.

Reading labelled files for training and evaluation (the work behind ``lstmkit seq``) is here too:
:func:`read_training_data`, :func:`fit_on`, :func:`read_for_model`, :func:`evaluate_on`,
:func:`compare_with_baseline`.

Saved as one safetensors file (``kind="sequence_classifier"``; older files say ``sequence-classifier``):
the networks' weights (``net.*``; further ensemble members ``ensemble.{i}.*``), the standardisation
statistics and JSON metadata (hyper-parameters, the settings used, the advice, classes, feature
count, audio config).
"""

from __future__ import annotations

import json
import math
import sys
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
from lstmkit.tasks.sequences.networks import LSTMFCNNet, SequenceNet
from lstmkit.util.checks import ParamsMixin, check_int, prepare_output, seed_everything

KIND = "sequence_classifier"  # files written before issue 15 say "sequence-classifier" (an alias)
MODELS = ("lstm_fcn", "alstm_fcn", "lstm")
CELLS = ("lstm", "gru", "rnn")
POOLINGS = ("last", "mean", "attention")
NORMALIZATIONS = ("series", "feature", "none")
SELECTIONS = ("auto", "holdout", "train_loss", "none")
#: what each model uses for a setting left at None (not data-dependent)
MODEL_DEFAULTS = {
    "lstm": {"units": 64, "dropout": 0.1, "pooling": "mean", "learning_rate": 0.003},
    "lstm_fcn": {"units": 8, "dropout": 0.8, "pooling": "last", "learning_rate": 0.003},
    "alstm_fcn": {"units": 8, "dropout": 0.8, "pooling": "attention", "learning_rate": 0.003},
}


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


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
    """A sequence classifier with scikit-learn's interface (see the module docstring).

    Hyper-parameters (checked by :meth:`fit`; ``None`` means chosen from the data or the model, and
    the choice is printed and kept in ``advice_``):

    * ``model``: ``"lstm_fcn"`` (default), ``"alstm_fcn"`` or ``"lstm"``.
    * recurrent part: ``cell`` (``"lstm"``, ``"gru"``, ``"rnn"``: Elman SimpleRNN), ``units`` (None: 8 for
      the FCN models, 64 for ``lstm``), ``layers``, ``bidirectional``, ``dropout`` (None: 0.8 after the
      FCN models' recurrent branch, 0.1 for ``lstm``), ``pooling`` (``"last"``, ``"mean"``,
      ``"attention"``; None: ``last`` for LSTM-FCN, ``attention`` for ALSTM-FCN, ``mean`` for
      ``lstm``), ``attention_units``.
    * convolutions (FCN models): ``filters`` (default ``(128, 256, 128)``), ``kernel_sizes`` (``(8, 5, 3)``).
    * preprocessing: ``normalize`` (``"series"``, ``"feature"``, ``"none"``), ``downsample`` (PAA factor),
      ``standardize`` (False: no normalisation when ``normalize`` is None; kept from earlier versions).
    * training: ``epochs``, ``batch_size``, ``learning_rate`` (Adam), ``clip_norm`` (gradient norm),
      ``selection`` (``"auto"``, ``"holdout"``, ``"train_loss"``, ``"none"``), ``validation_split``
      (hold-out share; 0: no hold-out), ``patience`` (epochs without a better validation accuracy before
      stopping), ``ensemble`` (seeds averaged), ``precision`` (``"fp32"``, ``"bf16"``, ``"auto"``),
      ``seed``, ``threads`` (torch threads; None leaves torch's setting).
    * ``audio``: an :class:`AudioFeatures` for wav inputs. ``verbose``: False/0 silent, True/1 prints each
      chosen default in one line (stderr), 2 also a line per epoch (stdout).

    After :meth:`fit`: ``nets_`` (one network per ensemble member; ``net_`` is the first), ``classes_``,
    ``n_features_``, ``settings_`` (every setting as used), ``advice_``, ``scaler_``, ``history_`` (the
    first member's per-epoch ``loss``, ``accuracy`` and, with validation, ``val_loss``,
    ``val_accuracy``), ``best_epoch_``, ``members_`` (per member: seed, best epoch, epochs run, steps),
    ``fit_seconds_``, ``valid_score_`` (the kept model's validation accuracy, or its training accuracy
    without a hold-out) and ``train_result_`` / ``train_results_``, the engine's results (not saved).
    """

    _PARAMS = (
        "model", "cell", "units", "layers", "bidirectional", "dropout", "pooling", "attention_units", "filters",
        "kernel_sizes", "normalize", "downsample", "ensemble", "selection", "epochs", "batch_size", "learning_rate",
        "clip_norm", "patience", "validation_split", "standardize", "audio", "precision", "seed", "threads", "verbose",
    )

    def __init__(
        self, cell: str = "lstm", units: int | None = None, layers: int = 1, bidirectional: bool = False,
        dropout: float | None = None, pooling: str | None = None, *, model: str = "lstm_fcn", attention_units: int = 32,
        filters: Sequence[int] = (128, 256, 128), kernel_sizes: Sequence[int] = (8, 5, 3), normalize: str | None = None,
        downsample: int | None = None, ensemble: int | None = None, selection: str = "auto", epochs: int | None = None,
        batch_size: int | None = None, learning_rate: float | None = None, clip_norm: float = 1.0,
        patience: int | None = None, validation_split: float | None = None, standardize: bool = True,
        audio: AudioFeatures | None = None, precision: str = "fp32", seed: int = 0, threads: int | None = 1,
        verbose: bool | int = True,
    ) -> None:
        self.model, self.cell, self.units, self.layers, self.bidirectional = model, cell, units, layers, bidirectional
        self.dropout, self.pooling, self.attention_units = dropout, pooling, attention_units
        self.filters, self.kernel_sizes = tuple(filters), tuple(kernel_sizes)
        self.normalize, self.downsample, self.ensemble, self.selection = normalize, downsample, ensemble, selection
        self.epochs, self.batch_size, self.learning_rate, self.clip_norm = epochs, batch_size, learning_rate, clip_norm
        self.patience, self.validation_split, self.standardize = patience, validation_split, standardize
        self.audio, self.seed, self.threads, self.verbose = audio, seed, threads, verbose
        self.precision = precision
        self.nets_: list[nn.Module] = []
        self.classes_: list[Any] | None = None
        self.n_features_: int | None = None
        self.scaler_: Standardizer | None = None
        self.settings_: dict[str, Any] = {}
        self.advice_: Any = None
        self.history_: dict[str, list[float]] = {}
        self.best_epoch_: int | None = None
        self.members_: list[dict[str, Any]] = []
        self.fit_seconds_: float | None = None
        self.valid_score_: float | None = None
        self.data_info_: dict[str, Any] = {}
        self.train_result_: Any = None  # the engine's lstmkit.train.TrainResult of the first member (not saved)
        self.train_results_: list[Any] = []

    @property
    def net_(self) -> nn.Module | None:
        """The first (or only) network."""
        return self.nets_[0] if self.nets_ else None

    def __repr__(self) -> str:
        return (f"SequenceClassifier(model={self.model!r}, cell={self.cell!r}, units={self.units}, "
                f"layers={self.layers}, bidirectional={self.bidirectional}, pooling={self.pooling!r})")

    def count_params(self) -> int:
        """Parameters of all ensemble members together."""
        self._require_fitted("count_params")
        return sum(p.numel() for net in self.nets_ for p in net.parameters())

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        if self.model not in MODELS:
            raise ConfigError(f"model must be one of {', '.join(map(repr, MODELS))}; found {self.model!r}")
        for name, low in (("layers", 1), ("attention_units", 1), ("seed", 0)):
            check_int(name, getattr(self, name), low)
        for name in ("units", "epochs", "batch_size", "patience", "downsample", "ensemble"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)
        if self.ensemble is not None and self.ensemble > 100:
            raise ConfigError(f"ensemble must be an integer from 1 to 100; found {self.ensemble!r}")
        if self.threads is not None:
            check_int("threads", self.threads, 1)
        for name, low, high in (("dropout", 0.0, 1.0), ("validation_split", 0.0, 1.0)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value < high):
                raise ConfigError(f"{name} must be a number in [{low:g}, {high:g}); found {value!r}")
        for name in ("learning_rate", "clip_norm"):
            value = getattr(self, name)
            if value is None and name == "learning_rate":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"{name} must be a number > 0; found {value!r}")
        for name in ("bidirectional", "standardize"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False; found {getattr(self, name)!r}")
        if isinstance(self.verbose, bool) is False and (not isinstance(self.verbose, int) or not 0 <= self.verbose <= 2):
            raise ConfigError(f"verbose must be True, False, 0, 1 or 2; found {self.verbose!r}")
        for name, choices in (("cell", CELLS), ("pooling", POOLINGS), ("normalize", NORMALIZATIONS),
                              ("selection", SELECTIONS)):
            value = getattr(self, name)
            if not (value is None and name in ("pooling", "normalize")) and value not in choices:
                raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}; found {value!r}")
        if self.model == "alstm_fcn" and self.pooling not in (None, "attention"):
            raise ConfigError(f"pooling: model 'alstm_fcn' is the attention model; found pooling={self.pooling!r} "
                              "(use model='lstm_fcn' for 'last' or 'mean')")
        for name in ("filters", "kernel_sizes"):
            value = getattr(self, name)
            if (not isinstance(value, (tuple, list)) or not value or len(value) > 10
                    or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in value)):
                raise ConfigError(f"{name} must be 1 to 10 positive integers (one per convolution block); found {value!r}")
        if len(self.filters) != len(self.kernel_sizes):
            raise ConfigError(f"filters and kernel_sizes must have one value per block; found {len(self.filters)} "
                              f"filters and {len(self.kernel_sizes)} kernel sizes")
        if self.audio is not None and not isinstance(self.audio, AudioFeatures):
            raise ConfigError(f"audio must be an AudioFeatures or None; found {type(self.audio).__name__}")
        from lstmkit.train.precision import check_precision

        check_precision(self.precision)
        self._check_memory(self.n_features_ or 1)

    def _resolved_precision(self, name: str = "precision") -> str:
        """``"fp32"`` or ``"bf16"`` for ``precision`` on this CPU; ``"bf16"`` without bf16 units is a ConfigError."""
        from lstmkit.train.precision import resolve_precision

        return resolve_precision(self.precision, "cpu", name=name)

    def _check_memory(self, n_features: int, settings: dict[str, Any] | None = None, length: int = 100) -> None:
        """Sizes that cannot be trained in this machine's memory: one line naming the setting, before allocating."""
        from lstmkit.util.memory import check_training_fits, lstm_params

        s = settings or self._model_settings()
        gates = {"lstm": 4, "gru": 3, "rnn": 1}[s["cell"]]
        width = s["units"] * (2 if s["bidirectional"] else 1)
        batch = s.get("batch_size") or 32
        if s["model"] == "lstm":
            params = lstm_params(n_features, s["units"], s["layers"], s["bidirectional"], gates)
            check_training_fits("units", s["units"], params, activation_floats=6 * batch * length * width * s["layers"])
            return
        params = lstm_params(s.get("shuffle_length") or length, s["units"], s["layers"], s["bidirectional"], gates)
        check_training_fits("units", s["units"], params, activation_floats=6 * batch * n_features * width * s["layers"])
        channels = [n_features, *s["filters"]]
        params += sum(channels[i] * channels[i + 1] * k + 3 * channels[i + 1] for i, k in enumerate(s["kernel_sizes"]))
        check_training_fits("filters", list(s["filters"]), params, activation_floats=4 * batch * length * sum(s["filters"]))

    def _model_settings(self) -> dict[str, Any]:
        """The network settings from the parameters and the model's defaults (no data needed)."""
        defaults = MODEL_DEFAULTS[self.model]
        return {
            "model": self.model, "cell": self.cell, "layers": self.layers, "bidirectional": self.bidirectional,
            "units": self.units if self.units is not None else defaults["units"],
            "dropout": float(self.dropout if self.dropout is not None else defaults["dropout"]),
            "pooling": self.pooling if self.pooling is not None else defaults["pooling"],
            "attention_units": self.attention_units, "filters": [int(f) for f in self.filters],
            "kernel_sizes": [int(k) for k in self.kernel_sizes],
            "learning_rate": float(self.learning_rate if self.learning_rate is not None else defaults["learning_rate"]),
            "batch_size": self.batch_size,
        }

    def _require_fitted(self, what: str) -> None:
        if not self.nets_:
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
        """Downsampling (PAA) then normalisation, as fitted."""
        from lstmkit.tasks.sequences.recipe import paa, series_normalize

        factor = int(self.settings_.get("downsample", 1) or 1)
        if factor > 1:
            sequences = [paa(s, factor) for s in sequences]
        norm = self.settings_.get("normalize")
        if norm == "series":
            return [series_normalize(s) for s in sequences]
        if self.scaler_ is not None:
            return [self.scaler_.transform(s) for s in sequences]
        return sequences

    # --------------------------------------------------------------------- fit
    def fit(self, X: Any, y: Sequence[Any], valid: tuple[Any, Sequence[Any]] | None = None) -> SequenceClassifier:
        """Fit the preprocessing (training data only), the label set and the network(s).

        ``valid=(X, y)``: early stopping on it. Otherwise ``selection`` decides: a stratified hold-out
        of ``validation_split``, or all the data with the lowest-training-loss epoch kept (see
        :mod:`lstmkit.tasks.sequences.recipe`). A class with fewer than 2 sequences is a one-line
        DataError.
        """
        from lstmkit.nn.threads import torch_threads
        from lstmkit.tasks.sequences import recipe
        from lstmkit.util.advice import Advice, check_gradient_steps, check_not_chance, check_validation_size, require_per_class

        self._check_params()
        self._resolved_precision()  # bf16 where the CPU cannot run it fails before any data work
        self.n_features_, self.settings_, self.scaler_ = None, {}, None
        advice = self.advice_ = Advice(echo=_stderr if self.verbose else None)
        train = self._as_sequences(X, "SequenceClassifier.fit")
        labels = _check_labels(y, len(train), "SequenceClassifier.fit")
        classes = sorted(set(labels), key=_label_key)
        if len(classes) < 2:
            raise DataError(
                f"training labels have a single class ({classes[0]!r}, {len(labels)} sequences); a classifier needs at least 2"
            )
        require_per_class(labels, 2, "training data",
                          "give more sequences of that class, or leave the class out")
        if valid is not None:
            if not isinstance(valid, (tuple, list)) or len(valid) != 2:
                raise InputValueError("SequenceClassifier.fit: valid must be a (sequences, labels) pair")
            v_seqs = self._as_sequences(valid[0], "SequenceClassifier.fit valid")
            v_labels = _check_labels(valid[1], len(v_seqs), "SequenceClassifier.fit valid")
            if v_seqs[0].shape[1] != train[0].shape[1]:
                raise ShapeError(f"validation sequences have {v_seqs[0].shape[1]} features, training ones {train[0].shape[1]}")
        s = self._model_settings()
        mode, fraction = recipe.choose_selection(advice, self.selection, self.validation_split, valid is not None, labels)
        if valid is None:
            v_seqs, v_labels = [], []
            if mode == "holdout":
                if fraction <= 0:
                    raise ConfigError("selection='holdout' needs validation_split > 0 or valid=(sequences, labels)")
                tr, va = stratified_holdout(labels, fraction, self.seed)
                if len(va):
                    v_seqs, v_labels = [train[i] for i in va], [labels[i] for i in va]
                    train, labels = [train[i] for i in tr], [labels[i] for i in tr]
                else:
                    advice.warn(f"validation_split={fraction:g} holds out no sequence of these {len(labels)}; "
                                "keeping the epoch with the lowest training loss instead")
                    mode = "train_loss"
        if mode == "holdout":
            check_validation_size(advice, len(v_seqs), len(classes),
                                  option="validation_split (--valid-fraction) or selection='train_loss'")
        self.classes_ = classes
        self.n_features_ = int(train[0].shape[1])
        s["selection"] = mode
        s["downsample"] = recipe.choose_downsample(advice, self.downsample, self.model, [len(x) for x in train])
        probe = [recipe.paa(x, s["downsample"]) for x in train] if s["downsample"] > 1 else train
        s["normalize"] = recipe.choose_normalize(advice, self.normalize, self.model, self.standardize, probe)
        self.settings_ = s
        if s["normalize"] == "feature":
            self.scaler_ = Standardizer().fit(probe)
        train_p = self._transform(train)
        valid_p = self._transform(v_seqs) if v_seqs else []
        n = len(train_p)
        mean_length = float(np.mean([len(x) for x in train_p]))
        if self.model != "lstm":
            s["shuffle_length"] = int(max(len(x) for x in train_p))
        s["batch_size"] = recipe.choose_batch_size(advice, self.batch_size, self.model, n)
        s["epochs"] = recipe.choose_epochs(advice, self.epochs, self.model, n, s["batch_size"], mean_length)
        s["patience"] = recipe.choose_patience(advice, self.patience, s["epochs"]) if mode == "holdout" else None
        member_cost = s["epochs"] * recipe.epoch_cost(n, mean_length, s["batch_size"])
        s["ensemble"] = recipe.choose_ensemble(advice, self.ensemble, self.model, member_cost)
        s["validation_split"] = fraction if mode == "holdout" and valid is None else None
        self._check_memory(self.n_features_, s, length=int(math.ceil(mean_length)))
        y_train = self._encode(labels, "training data")
        y_valid = self._encode(v_labels, "validation data") if v_seqs else None
        self.nets_, self.members_, self.train_results_ = [], [], []
        t0 = time.perf_counter()
        with torch_threads(self.threads):
            for member in range(s["ensemble"]):
                seed = self.seed + member
                seed_everything(seed)
                net = self._build_net(s)
                result = self._train(net, train_p, y_train, valid_p, y_valid, seed, member)
                self.nets_.append(net)
                self.train_results_.append(result)
                self.members_.append({"seed": seed, "best_epoch": result.best_epoch or result.epochs_completed,
                                      "epochs": result.epochs_completed, "steps": result.steps,
                                      "stop_reason": result.stop_reason})
            self.fit_seconds_ = time.perf_counter() - t0
            self.train_result_ = self.train_results_[0]
            first = self.train_result_
            keys = ["loss", "accuracy"] + (["val_loss", "val_accuracy"] if y_valid is not None else [])
            self.history_ = {k: [h[k] for h in first.history] for k in keys}
            self.best_epoch_ = self.members_[0]["best_epoch"]
            check_gradient_steps(advice, min(m["steps"] for m in self.members_),
                                 remedy="raise epochs (--epochs) or lower batch_size (--batch-size)")
            if y_valid is not None:
                probs = self._predict_proba(valid_p)
                self.valid_score_ = float(np.mean(probs.argmax(1) == y_valid))
                check_not_chance(advice, self.valid_score_, v_labels, "validation")
            else:
                probs = self._predict_proba(train_p)
                self.valid_score_ = float(np.mean(probs.argmax(1) == y_train))
                check_not_chance(advice, self.valid_score_, labels, "training")
        return self

    def _build_net(self, s: dict[str, Any] | None = None) -> nn.Module:
        s = s or self.settings_
        if s["model"] == "lstm":
            return SequenceNet(
                self.n_features_, len(self.classes_), cell=s["cell"], units=s["units"], layers=s["layers"],
                bidirectional=s["bidirectional"], dropout=float(s["dropout"]), pooling=s["pooling"],
                attention_units=s["attention_units"],
            )
        return LSTMFCNNet(
            self.n_features_, len(self.classes_), shuffle_length=s["shuffle_length"], cell=s["cell"], units=s["units"],
            layers=s["layers"], bidirectional=s["bidirectional"], dropout=float(s["dropout"]), pooling=s["pooling"],
            attention_units=s["attention_units"], filters=s["filters"], kernel_sizes=s["kernel_sizes"],
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

    def _train(self, net: nn.Module, train: list[np.ndarray], y: np.ndarray, valid: list[np.ndarray],
               y_valid: np.ndarray | None, seed: int, member: int) -> Any:
        """Train ``net`` through :class:`lstmkit.train.Trainer` (see the module docstring); the engine's result."""
        from lstmkit.train import Cosine, EarlyStopping, FunctionHooks, StepOutput, Trainer

        s = self.settings_
        loss_fn = nn.CrossEntropyLoss()

        def step(model: nn.Module, batch: tuple[torch.Tensor, ...], carry: Any) -> StepOutput:
            x, lens, targets = batch
            logits = model(x, lens).float()
            accuracy = (logits.argmax(1) == targets).float().mean()
            return StepOutput(loss_fn(logits, targets), weight=len(targets), metrics={"accuracy": accuracy})

        evaluate = None
        if y_valid is not None:
            def evaluate(model: nn.Module) -> dict[str, float]:
                probs = _predict_with([model], valid, len(self.classes_))
                v_loss = float(-np.mean(np.log(np.maximum(probs[np.arange(len(y_valid)), y_valid], 1e-12))))
                return {"val_loss": v_loss, "val_accuracy": float(np.mean(probs.argmax(1) == y_valid))}

        epochs = int(s["epochs"])
        prefix = f"member {member + 1}/{s['ensemble']}: " if s["ensemble"] > 1 else ""

        def on_epoch_end(state: Any, logs: dict[str, float]) -> None:
            if (self.verbose is True or self.verbose < 2) or state.rank != 0:
                return
            line = f"{prefix}epoch {state.epoch + 1}/{epochs}: loss {logs['loss']:.4f}, accuracy {logs['accuracy']:.4f}"
            if "val_loss" in logs:
                line += f", val_loss {logs['val_loss']:.4f}, val_accuracy {logs['val_accuracy']:.4f}"
            print(line, flush=True)

        if s["selection"] == "holdout" and y_valid is not None:
            stopping = EarlyStopping(("val_accuracy", "val_loss"), mode=("max", "min"), patience=int(s["patience"]))
        elif s["selection"] == "train_loss":
            stopping = EarlyStopping("loss", mode="min", patience=epochs + 1)
        else:
            stopping = None
        return Trainer(
            net, torch.optim.Adam(net.parameters(), lr=float(s["learning_rate"])), step,
            BucketedBatches(train, y, s["batch_size"], seed), epochs=epochs,
            clip_norm=float(self.clip_norm), precision=self._resolved_precision(), evaluate=evaluate,
            schedule=None if s["model"] == "lstm" else Cosine(), early_stopping=stopping,
            hooks=FunctionHooks(on_epoch_end=on_epoch_end), handle_sigint=False,
        ).fit()

    # ----------------------------------------------------------------- predict
    def _predict_proba(self, sequences: list[np.ndarray], batch_size: int = 256) -> np.ndarray:
        """Probabilities of already transformed sequences, averaged over the ensemble members."""
        return _predict_with(self.nets_, sequences, len(self.classes_), batch_size)

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
        """Write one model file: weights, preprocessing statistics, hyper-parameters, settings, advice, classes."""
        from lstmkit.models.serialization import save_tensors

        self._require_fitted("save")
        out = prepare_output(path)
        tensors = {}
        for i, net in enumerate(self.nets_):
            prefix = "net." if i == 0 else f"ensemble.{i}."
            tensors.update({f"{prefix}{k}": v for k, v in net.state_dict().items()})
        if self.scaler_ is not None:
            tensors["standardize.mean"] = torch.from_numpy(self.scaler_.mean)
            tensors["standardize.std"] = torch.from_numpy(self.scaler_.std)
        params = {k: v for k, v in self.get_params().items() if k != "audio"}
        params["filters"], params["kernel_sizes"] = list(self.filters), list(self.kernel_sizes)
        save_tensors(out, tensors, {
            "params": json.dumps(params),
            "settings": json.dumps(self.settings_),
            "advice": json.dumps(self.advice_.to_json() if self.advice_ is not None else None),
            "classes": json.dumps(list(self.classes_)),
            "n_features": json.dumps(self.n_features_),
            "audio": json.dumps(self.audio.to_dict() if self.audio is not None else None),
            "data": json.dumps(self.data_info_),
            "training": json.dumps({"best_epoch": self.best_epoch_, "fit_seconds": self.fit_seconds_,
                                    "history": self.history_, "members": self.members_,
                                    "valid_score": self.valid_score_}),
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


def _predict_with(nets: Sequence[nn.Module], sequences: list[np.ndarray], n_classes: int,
                  batch_size: int = 256) -> np.ndarray:
    """Mean softmax of ``nets`` over batches sorted by length (put back in order); eval mode, restored after."""
    out = np.zeros((len(sequences), n_classes), dtype=np.float64)
    if not sequences:
        return out
    lengths = np.array([s.shape[0] for s in sequences])
    modes = [net.training for net in nets]
    for net in nets:
        net.eval()
    try:
        with torch.no_grad():
            for index in bucketed_batches(lengths, batch_size, None):
                x, lens = pad_batch(sequences, index)
                total = sum(torch.softmax(net(x, lens).float(), dim=1).double() for net in nets)
                out[index] = (total / len(nets)).numpy()
    finally:
        for net, mode in zip(nets, modes):
            net.train(mode)
    return out


def _old_settings(params: dict[str, Any]) -> dict[str, Any]:
    """The settings of a file written before ``settings`` existed: the plain LSTM, every value explicit."""
    return {
        "model": "lstm", "cell": params.get("cell", "lstm"), "units": params.get("units", 64),
        "layers": params.get("layers", 1), "bidirectional": params.get("bidirectional", False),
        "dropout": params.get("dropout", 0.1), "pooling": params.get("pooling", "mean"),
        "attention_units": params.get("attention_units", 32), "filters": [128, 256, 128], "kernel_sizes": [8, 5, 3],
        "learning_rate": params.get("learning_rate", 0.003), "batch_size": params.get("batch_size", 32),
        "epochs": params.get("epochs", 40), "patience": params.get("patience", 8),
        "normalize": "feature" if params.get("standardize", True) else "none", "downsample": 1, "ensemble": 1,
        "selection": "holdout" if params.get("validation_split", 0.1) else "none",
        "validation_split": params.get("validation_split", 0.1),
    }


def _load_checked(cls: type[SequenceClassifier], path: Any, tensors: dict[str, torch.Tensor],
                  meta: dict[str, str]) -> SequenceClassifier:
    """A SequenceClassifier from a file, every metadata field checked against its schema and the weights.

    Files of format version 1 carry no metadata checksum, so an edited header is caught here: the
    classes must match the classifier head's outputs, ``n_features`` the first layer's inputs and the
    standardisation statistics, and the settings must rebuild exactly the stored weights. Files
    written before the LSTM-FCN models (no ``settings`` field) are the plain LSTM.
    """
    from lstmkit.util.schema import FileSchema

    s = FileSchema(path)
    params = {k: v for k, v in s.json(meta, "params", dict).items() if k in cls._PARAMS}
    settings = s.json(meta, "settings", (dict, type(None)), default=None)
    if settings is None:
        params.setdefault("model", "lstm")
        settings = _old_settings(params)
    classes = s.label_list(s.json(meta, "classes", list), "classes", min_len=2)
    n_features = s.int_in({"n_features": s.json(meta, "n_features", int)}, "n_features", low=1)
    audio = s.json(meta, "audio", (dict, type(None)), default=None)
    data_info = s.json(meta, "data", dict, default={})
    training = s.json(meta, "training", dict, default={})
    advice = s.json(meta, "advice", (dict, type(None)), default=None)
    s.choice(params, "cell", CELLS, "params", default="lstm")
    s.choice(params, "pooling", (*POOLINGS, None), "params", default=None)
    s.choice(params, "model", MODELS, "params", default="lstm")
    s.choice(settings, "model", MODELS, "settings")
    s.choice(settings, "cell", CELLS, "settings")
    s.choice(settings, "pooling", POOLINGS, "settings")
    s.choice(settings, "normalize", NORMALIZATIONS, "settings")
    for key in ("units", "layers", "attention_units", "downsample", "ensemble"):
        s.int_in(settings, key, "settings", low=1)
    s.number_in(settings, "dropout", "settings", low=0.0, high=1.0, high_open=True)
    s.boolean(settings, "bidirectional", "settings")
    members = {int(k.split(".")[1]) for k in tensors if k.startswith("ensemble.") and k.split(".")[1].isdigit()}
    s.equals("settings.ensemble", settings["ensemble"], len(members) + 1, "the networks stored in the file")
    if members and members != set(range(1, len(members) + 1)):
        raise ModelFileError(f"model file {str(path)!r}: ensemble members {sorted(members)} are not numbered 1..{len(members)}")
    fcn = settings["model"] != "lstm"
    if fcn:
        s.int_in(settings, "shuffle_length", "settings", low=1)
        for key in ("filters", "kernel_sizes"):
            value = settings.get(key)
            if (not isinstance(value, list) or not 1 <= len(value) <= 10
                    or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value)):
                raise ModelFileError(f"model file {str(path)!r}: settings.{key} must be 1 to 10 positive integers, found {value!r}")
        if len(settings["filters"]) != len(settings["kernel_sizes"]):
            raise ModelFileError(f"model file {str(path)!r}: settings.filters and settings.kernel_sizes differ in length")
    for key in ("units", "layers", "attention_units"):
        if key in params and params[key] is not None:
            s.int_in(params, key, "params", low=1)
    head = tensors.get("net.head.weight")
    if head is None or head.ndim != 2:
        raise ModelFileError(f"model file {str(path)!r}: weight 'net.head.weight' (the classifier head) is missing")
    s.equals("classes", len(classes), int(head.shape[0]), "classes: the classifier head's outputs")
    if fcn:
        channels = [n_features, *settings["filters"]]
        for i, k in enumerate(settings["kernel_sizes"]):
            s.shape(tensors, f"net.convs.{i}.weight", (channels[i + 1], channels[i], k),
                    f"n_features={n_features}, settings.filters and settings.kernel_sizes")
        recurrent = tensors.get("net.rnn.weight_hh_l0")
        if recurrent is not None and recurrent.ndim == 2:
            s.equals("settings.units", settings["units"], int(recurrent.shape[1]), "the recurrent weights' units")
        first = tensors.get("net.rnn.weight_ih_l0")
        if first is not None and first.ndim == 2:
            s.equals("settings.shuffle_length", settings["shuffle_length"], int(first.shape[1]),
                     "the recurrent branch's inputs")
        if params.get("layers") is not None:
            s.recurrent_layers(tensors, "net.rnn.", "params.layers", params["layers"])
        s.recurrent_layers(tensors, "net.rnn.", "settings.layers", settings["layers"])
    else:
        first = tensors.get("net.rnn.weight_ih_l0")
        if first is not None and first.ndim == 2:
            s.equals("n_features", n_features, int(first.shape[1]), "the first recurrent layer's inputs")
        recurrent = tensors.get("net.rnn.weight_hh_l0")
        if recurrent is not None and recurrent.ndim == 2:
            s.equals("params.units", settings["units"], int(recurrent.shape[1]), "the recurrent weights' units")
        if "layers" in params:
            s.recurrent_layers(tensors, "net.rnn.", "params.layers", params["layers"])
    if ("standardize.mean" in tensors) != ("standardize.std" in tensors):
        raise ModelFileError(f"model file {str(path)!r}: weights 'standardize.mean' and 'standardize.std' must come together")
    if "standardize.mean" in tensors:
        for name in ("standardize.mean", "standardize.std"):
            s.shape(tensors, name, (n_features,), f"n_features={n_features}")
    try:
        if "filters" in params:
            params["filters"] = tuple(params["filters"])
        if "kernel_sizes" in params:
            params["kernel_sizes"] = tuple(params["kernel_sizes"])
        obj = cls(**params, audio=AudioFeatures.from_dict(audio) if audio is not None else None)
        obj._check_params()
    except (TypeError, ValueError) as e:  # ConfigError is a ValueError
        raise ModelFileError(f"model file {str(path)!r}: invalid sequence-classifier parameters "
                             f"({' '.join(str(e).split())[:200]})") from None
    obj.classes_, obj.n_features_, obj.settings_ = classes, n_features, settings
    try:
        obj._check_memory(n_features, settings)
    except ConfigError as e:
        raise ModelFileError(f"model file {str(path)!r}: {e}") from None
    obj.data_info_ = data_info
    obj.best_epoch_ = s.int_in(training, "best_epoch", "training", low=0, optional=True)
    obj.fit_seconds_ = s.number_in(training, "fit_seconds", "training", low=0, optional=True)
    obj.valid_score_ = s.number_in(training, "valid_score", "training", low=0, optional=True)
    obj.history_ = s.obj(training.get("history") or {}, "training.history")
    obj.members_ = training.get("members") if isinstance(training.get("members"), list) else []
    if advice is not None:
        from lstmkit.util.advice import Advice, Choice

        obj.advice_ = Advice(echo=None, choices=[Choice(c.get("name"), c.get("value"), c.get("reason"))
                                                 for c in advice.get("choices", []) if isinstance(c, dict)],
                             warnings=[str(w) for w in advice.get("warnings", [])])
    if "standardize.mean" in tensors:
        obj.scaler_ = Standardizer(tensors["standardize.mean"].numpy(), tensors["standardize.std"].numpy())
    obj.nets_ = []
    for i in range(settings["ensemble"]):
        prefix = "net." if i == 0 else f"ensemble.{i}."
        net = obj._build_net(settings)
        net_tensors = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        s.state_matches(net_tensors, net.state_dict(), "the metadata field 'settings'")
        net.load_state_dict(net_tensors)
        net.eval()
        obj.nets_.append(net)
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
    test: str | PathLike[str] | None = None,
) -> TrainingData:
    """Read labelled ``data`` (a wav folder, ``.npz``, ``.csv`` or ``.ts``; :func:`lstmkit.data.sequences.read_sequences`)
    and split it: ``test_pattern`` (a regex on the names) is held out from training and validation,
    or ``test`` is a separate labelled file of the same format (sets that ship as train and test
    files), read with the training data's audio config;
    validation is ``valid_pattern`` of the rest, or the separate data ``valid`` (read with the
    training data's audio config), or neither. ``label_pattern=None``: the default wav pattern.
    Every problem is one-line :class:`~lstmkit.errors.DataError` / :class:`~lstmkit.errors.InputValueError`.
    """
    from lstmkit.data.sequences import DEFAULT_LABEL_PATTERN, read_sequences

    if valid is not None and valid_pattern is not None:
        raise InputValueError("give at most one of --valid and --valid-pattern")
    if test is not None and test_pattern is not None:
        raise InputValueError("give at most one of --test and --test-pattern")
    test_file, data = test, Path(data)
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
    if test_file is not None:
        if not Path(test_file).exists():
            raise DataError(f"--test file not found: {test_file}")
        test = read_sequences(test_file, audio=train.audio, **read)
        if test.n_features != train.n_features:
            raise ShapeError(f"--test {test_file}: sequences have {test.n_features} features, the training data "
                             f"{data} has {train.n_features}")
        info["test_file"] = str(test_file)
        unknown = sorted({str(v) for v in test.labels} - {str(v) for v in train.labels})
        if unknown:  # before any training: the model could never predict them
            raise DataError(f"{test_file}: test label(s) {', '.join(unknown[:5])} are not among the training labels "
                            f"({', '.join(sorted({str(v) for v in train.labels})[:10])})")
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


@dataclass
class BaselineComparison:
    """:func:`compare_with_baseline`'s result: the model's and the 1-NN Euclidean baseline's
    :class:`lstmkit.tasks.text.classifier.Report` (accuracy, macro-F1, confusion matrix) on one test set."""

    model: Any
    baseline: Any
    size: int


def compare_with_baseline(clf: SequenceClassifier, train: Any, test: Any) -> BaselineComparison:
    """Accuracy and macro-F1 of ``clf`` on the labelled ``test`` set, beside the 1-NN Euclidean
    baseline fitted on ``train`` (both :class:`lstmkit.data.sequences.SequenceSet`, as read, before
    any normalisation; :func:`lstmkit.tasks.sequences.baselines.one_nn_euclidean`). A test label the
    model does not know counts as an error for both (``read_training_data`` refuses a ``--test`` file
    with one, before training)."""
    from lstmkit.tasks.sequences.baselines import one_nn_euclidean
    from lstmkit.tasks.text.classifier import classification_report

    if test.labels is None:
        raise DataError(f"{test.source}: the test data has no labels")
    labels = clf.match_labels(test.labels)
    model = classification_report(labels, clf.predict(test.sequences), clf.classes_)
    base = one_nn_euclidean(train.sequences, clf.match_labels(train.labels), test.sequences)
    return BaselineComparison(model, classification_report(labels, base, clf.classes_), len(labels))


def count_labels(labels: Sequence[Any]) -> str:
    """``"a: 3, b: 5"``: how many sequences carry each label."""
    from collections import Counter

    counts = Counter(map(str, labels))
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


__all__ = [
    "SequenceClassifier", "SequenceNet", "BucketedBatches", "pad_batch", "bucketed_batches", "stratified_holdout",
    "KIND", "MODELS", "TrainingData", "read_training_data", "fit_on", "load_classifier", "read_for_model", "evaluate_on",
    "count_labels", "BaselineComparison", "compare_with_baseline", "LSTMFCNNet",
]
