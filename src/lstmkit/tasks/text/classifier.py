"""Text classification with any labels: :class:`TextClassifier` (scikit-learn style).

::

    clf = TextClassifier(units=64, bidirectional=True, attention=True, epochs=8)
    clf.fit(train_texts, train_labels, valid=(valid_texts, valid_labels))   # early stopping on valid
    clf.predict(["a wonderful film"])          # ['positive']
    clf.predict_proba(texts)                   # (N, n_classes), columns in clf.classes_ order
    clf.score(test_texts, test_labels)         # accuracy
    clf.save("reviews.lstmkit"); TextClassifier.load("reviews.lstmkit")

The network is an lstmkit :class:`~lstmkit.models.Sequential`::

    Embedding(vocab, embedding_dim, mask_zero=True) -> LSTM(units) | Bidirectional(LSTM(units))
        [-> return_sequences + AttentionPooling]  -> Dense(n_classes, softmax)

Padding is masked, so a text's prediction does not depend on how much padding it gets. The saved file
is one lstmkit model whose ``model.preprocessing`` holds ``{"task": "text_classifier", "vectorizer":
..., "labels": [...], "params": {...}}``, so a loaded classifier tokenizes exactly as the trained one.

Also here: :func:`read_dataset` (CSV / JSONL / folder of class subfolders), :func:`classification_report`
(accuracy, macro-F1, confusion matrix with scikit-learn) and :func:`tfidf_baseline` (TF-IDF + logistic
regression, the classical baseline to compare against).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from lstmkit.data.readers import read_labeled_texts
from lstmkit.data.text import _as_text_list, vectorizer_from_config, TextVectorizer
from lstmkit.errors import ConfigError, DataError, InputValueError, ModelFileError
from lstmkit.util.checks import ParamsMixin, check_int, one_hot, prepare_output, seed_everything

PREPROCESSING_TASK = "text_classifier"
CELLS = ("lstm", "gru", "simple_rnn")
POOLINGS = ("last", "mean", "max", "attention")
LEVELS = ("word", "char")
_SIDES = ("pre", "post")

#: What other lstmkit model files are, and which command reads them (for a clear "wrong kind" error).
_OTHER_TASKS = {
    "sentiment": ("the sentiment demo's model", "read it with lstmkit.tasks.text.sentiment.load_classifier or retrain it with lstmkit demo"),
    "language_model": ("a language model", "use it with lstmkit text generate"),
    "lm": ("a language model", "use it with lstmkit text generate"),
}


def _wrong_kind(path: Any, what: str, hint: str | None) -> ModelFileError:
    hint = f"{hint}; " if hint else ""
    return ModelFileError(
        f"model file {str(path)!r} is {what}, not a text classifier; {hint}"
        "train a classifier with lstmkit text train-classifier"
    )


# --------------------------------------------------------------------------------------------- data
@dataclass
class LabeledTexts:
    texts: list[str]
    labels: list[Any]
    source: str

    def __len__(self) -> int:
        return len(self.texts)


def read_dataset(
    path: str | PathLike[str], text_field: str = "text", label_field: str = "label", *, encoding: str = "utf-8"
) -> LabeledTexts:
    """Texts and labels of a CSV / TSV / JSONL file or a folder of class-named subfolders of ``.txt`` files."""
    texts, labels = read_labeled_texts(path, text_field, label_field, encoding=encoding)
    return LabeledTexts(texts, labels, str(path))


def _label_key(label: Any) -> tuple[int, Any]:
    return (0, label) if isinstance(label, int) else (1, str(label))


def _check_labels(labels: Any, n: int, what: str) -> list[Any]:
    if isinstance(labels, np.ndarray):
        labels = labels.tolist()
    if isinstance(labels, (str, bytes)):
        raise InputValueError(f"{what}: labels must be a list, found a single {type(labels).__name__}")
    try:
        labels = list(labels)
    except TypeError:
        raise InputValueError(f"{what}: labels must be a list, found {type(labels).__name__}") from None
    if len(labels) != n:
        raise DataError(f"{what}: {n} texts but {len(labels)} labels")
    for i, y in enumerate(labels):
        if isinstance(y, bool) or not isinstance(y, (str, int, np.integer)):
            raise InputValueError(f"{what}: label at index {i} must be a string or an integer, found {y!r}")
    return [int(y) if isinstance(y, np.integer) else y for y in labels]


# ------------------------------------------------------------------------------------- classifier
class TextClassifier(ParamsMixin):
    """An LSTM text classifier with scikit-learn's interface (see the module docstring).

    Hyper-parameters (stored as given; checked by :meth:`fit`): ``units``, ``embedding_dim``,
    ``max_tokens`` (vocabulary size, reserved ids included), ``max_length`` (tokens kept per text),
    ``bidirectional``, ``pooling`` (``"last"``, ``"mean"``, ``"max"`` or ``"attention"``: what the classifier
    reads from the recurrent layer's outputs), ``attention`` (True: the same as ``pooling="attention"``),
    ``attention_units``, ``dropout`` (a Dropout layer before the classifier), ``learning_rate`` (Adam), ``clip_norm``
    (None, or the norm all gradients together are clipped to; ``global_clipnorm`` is its old name, still accepted),
    ``cell`` (``"lstm"``, ``"gru"`` or ``"simple_rnn"``, for baselines), ``epochs``,
    ``batch_size``, ``patience`` (early stopping on validation accuracy, when ``valid`` is given),
    ``pretrain_epochs`` (0: none; N: first train the embedding and recurrent layer as a language model
    on the training texts for N epochs, see :mod:`lstmkit.tasks.text.lm_pretraining`, then fine-tune),
    ``level`` (``"word"`` or ``"char"``), ``truncation`` (``"pre"`` keeps a long text's *last* tokens),
    ``standardize``, ``seed``, ``threads`` (torch threads while fitting / predicting; ``None`` leaves
    torch's setting), ``precision`` (``"fp32"``, ``"bf16"`` or ``"auto"``: the training engine's
    precision; ``bf16`` where the CPU has no bf16 units is a ConfigError before any work), ``verbose``.

    Training runs through the engine (:class:`lstmkit.train.Trainer`, via ``Model.fit`` and, with
    ``pretrain_epochs``, :func:`~lstmkit.tasks.text.lm_pretraining.pretrain_encoder`); under
    ``torchrun`` it is data-parallel (every process fits the same seeded model on the same texts).
    """

    #: Old spellings of hyper-parameters, accepted by ``__init__``, ``set_params`` and files that hold them.
    _ALIASES = {"global_clipnorm": "clip_norm"}

    def __init__(
        self,
        units: int = 64,
        embedding_dim: int = 128,
        max_tokens: int = 20000,
        max_length: int = 400,
        bidirectional: bool = False,
        attention: bool = False,
        epochs: int = 10,
        batch_size: int = 32,
        level: str = "word",
        truncation: str = "pre",
        seed: int = 0,
        *,
        cell: str = "lstm",
        attention_units: int = 64,
        pooling: str = "last",
        dropout: float = 0.0,
        learning_rate: float = 0.001,
        clip_norm: float | None = None,
        patience: int = 3,
        pretrain_epochs: int = 0,
        standardize: str | None = "lower_and_strip_punctuation",
        threads: int | None = 1,
        precision: str = "fp32",
        verbose: int = 0,
        global_clipnorm: float | None = None,
    ) -> None:
        self._clip_name = "clip_norm"
        if global_clipnorm is not None:
            if clip_norm is not None and clip_norm != global_clipnorm:
                raise ConfigError(f"clip_norm: given twice, as clip_norm={clip_norm!r} and as its old name "
                                  f"global_clipnorm={global_clipnorm!r}; give clip_norm only")
            clip_norm, self._clip_name = global_clipnorm, "global_clipnorm"
        self.units = units
        self.embedding_dim = embedding_dim
        self.max_tokens = max_tokens
        self.max_length = max_length
        self.bidirectional = bidirectional
        self.attention = attention
        self.epochs = epochs
        self.batch_size = batch_size
        self.level = level
        self.truncation = truncation
        self.seed = seed
        self.cell = cell
        self.attention_units = attention_units
        self.pooling = pooling
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.clip_norm = clip_norm
        self.patience = patience
        self.pretrain_epochs = pretrain_epochs
        self.standardize = standardize
        self.threads = threads
        self.precision = precision
        self.verbose = verbose
        self.model_: Any = None
        self.vectorizer_: TextVectorizer | None = None
        self.classes_: list[Any] | None = None
        self.history_: dict[str, list[float]] = {}
        self.best_epoch_: int | None = None
        self.fit_seconds_: float | None = None

    _PARAMS = (
        "units", "embedding_dim", "max_tokens", "max_length", "bidirectional", "attention", "epochs", "batch_size",
        "level", "truncation", "seed", "cell", "attention_units", "pooling", "dropout", "learning_rate", "clip_norm", "patience", "pretrain_epochs", "standardize", "threads", "precision",
        "verbose",
    )

    @property
    def global_clipnorm(self) -> float | None:
        """The old name of :attr:`clip_norm`."""
        return self.clip_norm

    @global_clipnorm.setter
    def global_clipnorm(self, value: float | None) -> None:
        self.clip_norm = value

    def set_params(self, **params: Any) -> TextClassifier:
        """scikit-learn's ``set_params``; old spellings (``global_clipnorm``) are accepted."""
        for old, new in self._ALIASES.items():
            if old in params:
                if new in params and params[new] != params[old]:
                    raise ConfigError(f"{new}: given twice, as {new} and as its old name {old}; give {new} only")
                params[new] = params.pop(old)
                self._clip_name = old
        return super().set_params(**params)

    def __repr__(self) -> str:
        return (f"TextClassifier(units={self.units}, bidirectional={self.bidirectional}, pooling={self.pooling_!r}, "
                f"cell={self.cell!r})")

    @property
    def pooling_(self) -> str:
        """The pooling in effect: ``"attention"`` when ``attention=True``, else ``pooling``."""
        return "attention" if self.attention is True else self.pooling

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        check_int("units", self.units, 1)
        check_int("embedding_dim", self.embedding_dim, 1)
        check_int("max_tokens", self.max_tokens, 3)
        check_int("max_length", self.max_length, 1)
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_int("seed", self.seed, 0)
        check_int("attention_units", self.attention_units, 1)
        check_int("patience", self.patience, 1)
        check_int("pretrain_epochs", self.pretrain_epochs, 0)
        if self.threads is not None:
            check_int("threads", self.threads, 1)
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be a number in [0, 1); found {self.dropout!r}")
        if isinstance(self.learning_rate, bool) or not isinstance(self.learning_rate, (int, float)) or not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be a number > 0; found {self.learning_rate!r}")
        clip = self.clip_norm
        if clip is not None and (isinstance(clip, bool) or not isinstance(clip, (int, float)) or not clip > 0):
            raise ConfigError(f"{getattr(self, '_clip_name', 'clip_norm')} must be None or a number > 0; found {clip!r}")
        from lstmkit.train.precision import resolve_precision

        resolve_precision(self.precision, "cpu")  # a bad name, or bf16 without bf16 units: one line, before any work
        for name in ("bidirectional", "attention"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False; found {getattr(self, name)!r}")
        for name, value, choices in (("level", self.level, LEVELS), ("truncation", self.truncation, _SIDES),
                                     ("cell", self.cell, CELLS), ("pooling", self.pooling, POOLINGS)):
            if value not in choices:
                raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}; found {value!r}")
        if self.attention and self.pooling not in ("last", "attention"):
            raise ConfigError(f"attention=True is attention pooling; it cannot be combined with pooling={self.pooling!r}")
        self._check_memory()

    def check_params(self) -> None:
        """Check every hyper-parameter now (``fit`` does it first); a ConfigError names the first bad one."""
        self._check_params()

    def _check_memory(self) -> None:
        """Sizes that cannot be trained in this machine's memory: one line naming the option, before allocating."""
        from lstmkit.util.memory import check_training_fits, lstm_params

        gates = {"lstm": 4, "gru": 3, "simple_rnn": 1}[self.cell]
        rnn = lstm_params(self.embedding_dim, self.units, 1, self.bidirectional, gates)
        table = self.max_tokens * self.embedding_dim
        name, value = ("units", self.units) if rnn >= table else (
            ("max_tokens", self.max_tokens) if self.max_tokens >= self.embedding_dim else ("embedding_dim", self.embedding_dim))
        width = self.units * (2 if self.bidirectional else 1)
        check_training_fits(name, value, rnn + table, activation_floats=6 * self.batch_size * self.max_length * width)

    def _require_fitted(self, what: str) -> None:
        if self.model_ is None:
            raise ConfigError(f"TextClassifier.{what}: not fitted yet; call fit(texts, labels) or TextClassifier.load(path)")

    # ------------------------------------------------------------------- model
    def _build_model(self, vocab_size: int, n_classes: int) -> Any:
        from lstmkit.layers import (
            GRU, LSTM, AttentionPooling, Bidirectional, Dense, Dropout, Embedding, GlobalAveragePooling1D,
            GlobalMaxPooling1D, SimpleRNN,
        )
        from lstmkit.models import Sequential
        from lstmkit.models.optimizers import Adam

        rnn_cls = {"lstm": LSTM, "gru": GRU, "simple_rnn": SimpleRNN}[self.cell]
        pooling = self.pooling_
        rnn = rnn_cls(self.units, return_sequences=pooling != "last")
        layers = [Embedding(vocab_size, self.embedding_dim, mask_zero=True)]
        layers.append(Bidirectional(rnn) if self.bidirectional else rnn)
        if pooling == "attention":
            layers.append(AttentionPooling(self.attention_units))
        elif pooling == "mean":
            layers.append(GlobalAveragePooling1D())
        elif pooling == "max":
            layers.append(GlobalMaxPooling1D())
        if self.dropout:
            layers.append(Dropout(float(self.dropout)))
        layers.append(Dense(n_classes, activation="softmax"))
        model = Sequential(layers)
        optimizer = Adam(learning_rate=float(self.learning_rate), global_clipnorm=self.clip_norm)
        model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
        model.build((None, None))
        return model

    def _pretrain(self, texts: list[str]) -> None:
        """Language-model pre-training of the embedding and recurrent layer on ``texts`` (whole texts, untruncated)."""
        from lstmkit.layers import Bidirectional
        from lstmkit.tasks.text.lm_pretraining import pretrain_encoder

        embedding, recurrent = self.model_.layers[0], self.model_.layers[1]
        if isinstance(recurrent, Bidirectional):
            rnns = [(recurrent.forward_layer.cell, False), (recurrent.backward_layer.cell, True)]
        else:
            rnns = [(recurrent.cell, False)]
        echo = print if self.verbose else None
        self.pretrain_losses_ = pretrain_encoder(
            embedding.embeddings, rnns, [self.vectorizer_.encode(t) for t in texts], epochs=self.pretrain_epochs,
            batch_size=self.batch_size, seed=self.seed, echo=echo, precision=self.precision,
        )

    def _encode_labels(self, labels: list[Any], what: str) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.classes_)}
        labels = self.match_labels(labels)
        unknown = sorted({y for y in labels if y not in index}, key=_label_key)
        if unknown:
            raise DataError(
                f"{what}: label(s) {', '.join(map(repr, unknown[:5]))} not among the training labels "
                f"({', '.join(map(repr, self.classes_))})"
            )
        return np.asarray([index[y] for y in labels], dtype=np.int64)

    def match_labels(self, labels: Sequence[Any]) -> list[Any]:
        """``labels`` with each one that is not a class but spells one (``"1"`` for ``1``, e.g. CSV cells
        against a model trained on JSONL ints) replaced by that class; others are left as they are."""
        known = set(self.classes_)
        by_str = {str(c): c for c in self.classes_}
        return [y if y in known else by_str.get(str(y), y) for y in labels]

    # --------------------------------------------------------------------- fit
    def fit(self, texts: Sequence[str], labels: Sequence[Any], valid: tuple[Sequence[str], Sequence[Any]] | None = None) -> TextClassifier:
        """Build the vectorizer (on ``texts`` only), the label set and the model; train.

        ``valid=(texts, labels)``: early stopping on its accuracy (best epoch's weights restored).
        """
        self._check_params()
        texts = _as_text_list(texts, "TextClassifier.fit")
        if not texts:
            raise DataError("TextClassifier.fit: no training texts")
        labels = _check_labels(labels, len(texts), "TextClassifier.fit")
        classes = sorted(set(labels), key=_label_key)
        if len(classes) < 2:
            raise DataError(
                f"training labels have a single class ({classes[0]!r}, {len(labels)} texts); "
                "a classifier needs at least 2 classes"
            )
        if valid is not None:
            if not isinstance(valid, (tuple, list)) or len(valid) != 2:
                raise InputValueError("TextClassifier.fit: valid must be a (texts, labels) pair")
            v_texts = _as_text_list(valid[0], "TextClassifier.fit valid")
            v_labels = _check_labels(valid[1], len(v_texts), "TextClassifier.fit valid")
        from lstmkit.nn.threads import torch_threads

        with torch_threads(self.threads):
            seed_everything(self.seed)
            self.classes_ = classes
            self.vectorizer_ = TextVectorizer(
                max_tokens=self.max_tokens, output_sequence_length=self.max_length, standardize=self.standardize,
                split="whitespace" if self.level == "word" else "character",
                padding="post", truncation=self.truncation,
            ).fit(texts)
            x = self.vectorizer_(texts)
            y = one_hot(self._encode_labels(labels, "training data"), len(classes))
            validation_data, callbacks, stopper = None, [], None
            if valid is not None:
                validation_data = (self.vectorizer_(v_texts), one_hot(self._encode_labels(v_labels, "validation data"), len(classes)))
                from lstmkit.models.callbacks import EarlyStopping

                stopper = EarlyStopping(monitor="val_accuracy", mode="max", patience=self.patience, restore_best_weights=True)
                callbacks.append(stopper)
            self.model_ = self._build_model(self.vectorizer_.vocabulary_size(), len(classes))
            t0 = time.perf_counter()
            if self.pretrain_epochs:
                self._pretrain(texts)
            hist = self.model_.fit(x, y, epochs=self.epochs, batch_size=self.batch_size,
                                   validation_data=validation_data, callbacks=callbacks, verbose=self.verbose,
                                   precision=self.precision)
            self.fit_seconds_ = time.perf_counter() - t0
        self.history_ = {k: [float(v) for v in vs] for k, vs in dict(getattr(hist, "history", hist) or {}).items()}
        epochs_run = len(self.history_.get("loss", [])) or self.epochs
        self.best_epoch_ = stopper.best_epoch + 1 if stopper is not None and stopper.best_epoch is not None else epochs_run
        self.model_.preprocessing = self.preprocessing()
        return self

    # ----------------------------------------------------------------- predict
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``(N, n_classes)`` probabilities, columns in ``classes_`` order."""
        self._require_fitted("predict_proba")
        if isinstance(texts, str):
            texts = [texts]
        texts = _as_text_list(texts, "TextClassifier.predict")
        if not texts:
            return np.zeros((0, len(self.classes_)))
        from lstmkit.nn.threads import torch_threads

        with torch_threads(self.threads):
            x = self.vectorizer_(texts)
            return np.asarray(self.model_.predict(x, batch_size=max(self.batch_size, 64), verbose=0), dtype=np.float64)

    def predict(self, texts: Sequence[str]) -> list[Any]:
        """The most probable label of each text (the training labels' values: strings or ints)."""
        probs = self.predict_proba(texts)
        return [self.classes_[int(i)] for i in probs.argmax(axis=1)]

    def score(self, texts: Sequence[str], labels: Sequence[Any]) -> float:
        """Accuracy on ``(texts, labels)``."""
        self._require_fitted("score")
        texts = _as_text_list([texts] if isinstance(texts, str) else texts, "TextClassifier.score")
        labels = _check_labels(labels, len(texts), "TextClassifier.score")
        if not texts:
            raise DataError("TextClassifier.score: no texts")
        pred = self.predict(texts)
        labels = self.match_labels(labels)
        return float(np.mean([p == y for p, y in zip(pred, labels)]))

    # --------------------------------------------------------------- save/load
    def preprocessing(self) -> dict[str, Any]:
        """The JSON-able dict stored as ``model.preprocessing``."""
        self._require_fitted("preprocessing")
        return {
            "task": PREPROCESSING_TASK,
            "vectorizer": self.vectorizer_.get_config(),
            "labels": list(self.classes_),
            "params": self.get_params(),
        }

    def save(self, path: str | PathLike[str]) -> Path:
        """Write one lstmkit model file (weights, config, vectorizer, labels, hyper-parameters)."""
        self._require_fitted("save")
        out = prepare_output(path)
        self.model_.preprocessing = self.preprocessing()
        self.model_.save(out)
        return out

    @classmethod
    def load(cls, path: str | PathLike[str]) -> TextClassifier:
        """Load a file written by :meth:`save`; another kind of lstmkit model is a ModelFileError saying what it is."""
        from lstmkit.models import load
        from lstmkit.models.serialization import read_metadata
        from lstmkit.util.container import file_kind

        kind = file_kind(read_metadata(path))  # missing / foreign files: one-line ModelFileError
        if kind != "sequential":
            if str(kind).startswith("language_model"):
                raise _wrong_kind(path, *_OTHER_TASKS["language_model"])
            raise _wrong_kind(path, f"a {kind!r} file", None)
        model = load(path)
        pre = getattr(model, "preprocessing", None)
        task = pre.get("task") if isinstance(pre, dict) else None
        if task is not None and not isinstance(task, str):
            raise ModelFileError(f"model file {str(path)!r}: metadata field 'preprocessing.task': expected a string, "
                                 f"found {type(task).__name__}")
        if task != PREPROCESSING_TASK:
            if task in _OTHER_TASKS:
                raise _wrong_kind(path, *_OTHER_TASKS[task])
            if isinstance(task, str) and ("language" in task or task.endswith("_lm")):
                raise _wrong_kind(path, *_OTHER_TASKS["language_model"])
            if task:
                raise _wrong_kind(path, f"a {task!r} model", None)
            raise _wrong_kind(path, "a bare lstmkit model (no task in its preprocessing)", None)
        from lstmkit.util.schema import FileSchema

        # Checked against the schema and the weights: files of format version 1 have no metadata checksum.
        s = FileSchema(path)
        s.keys(pre, ("vectorizer", "labels"), "preprocessing")
        labels = s.label_list(pre["labels"], "preprocessing.labels", min_len=2)
        params = s.obj(pre.get("params") or {}, "preprocessing.params")
        try:
            obj = cls(**{k: v for k, v in params.items() if k in cls._PARAMS or k in cls._ALIASES})
            obj.vectorizer_ = vectorizer_from_config(pre["vectorizer"])
            vocab = obj.vectorizer_.vocabulary_size()  # a vectorizer without a vocabulary is a ConfigError here
        except (KeyError, TypeError, ValueError) as e:  # ConfigError is a ValueError
            raise ModelFileError(f"model file {str(path)!r}: metadata field 'preprocessing.vectorizer' is invalid ({e})"
                                 [:400]) from None
        head = model.layers[-1] if model.layers else None
        outputs = getattr(head, "units", None)
        if not isinstance(outputs, int):
            raise ModelFileError(f"model file {str(path)!r}: the last layer is not a Dense output layer "
                                 f"(found {type(head).__name__})")
        s.equals("preprocessing.labels", len(labels), outputs, "labels, one per unit of the output layer")
        embedding = model.layers[0]
        rows = getattr(embedding, "input_dim", None)
        if isinstance(rows, int) and vocab > rows:
            s.fail("preprocessing.vectorizer", f"at most {rows} tokens (the embedding's input_dim)", f"{vocab} tokens")
        obj.classes_ = labels
        obj.model_ = model
        return obj


# ------------------------------------------------------------------------------------------ metrics
@dataclass
class Report:
    accuracy: float
    macro_f1: float
    confusion: np.ndarray   # rows: true label, columns: predicted, in ``labels`` order
    labels: list[Any]
    size: int


def classification_report(y_true: Sequence[Any], y_pred: Sequence[Any], labels: Sequence[Any]) -> Report:
    """Accuracy, macro-F1 and the confusion matrix (scikit-learn), over ``labels``."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    labels = list(labels)
    y_true, y_pred = list(y_true), list(y_pred)
    return Report(
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        confusion=confusion_matrix(y_true, y_pred, labels=labels),
        labels=labels,
        size=len(y_true),
    )


def tfidf_baseline(train_texts: Sequence[str], train_labels: Sequence[Any], test_texts: Sequence[str],
                   *, seed: int = 0) -> list[Any]:
    """TF-IDF (word 1-2 grams, sublinear tf) + logistic regression: fit on train, predict test."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    train_labels = [str(y) if not isinstance(y, int) else y for y in train_labels]
    if len(set(train_labels)) < 2:
        raise DataError("baseline training labels have a single class; need at least 2")
    pipe = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(C=10.0, max_iter=2000, random_state=seed),
    )
    pipe.fit(list(train_texts), train_labels)
    return list(pipe.predict(list(test_texts)))


__all__ = [
    "TextClassifier", "LabeledTexts", "read_dataset", "Report", "classification_report", "tfidf_baseline",
    "PREPROCESSING_TASK",
]
