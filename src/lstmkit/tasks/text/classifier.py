"""Text classification with any labels: :class:`TextClassifier` (scikit-learn style).

::

    clf = TextClassifier()                     # every size left unset is chosen from the data
    clf.fit(train_texts, train_labels)         # holds out a stratified validation split itself
    clf.fit(train_texts, train_labels, valid=(valid_texts, valid_labels))   # or: early stopping on yours
    clf.predict(["a wonderful film"])          # ['positive']
    clf.predict_proba(texts)                   # (N, n_classes), columns in clf.classes_ order
    clf.score(test_texts, test_labels)         # accuracy
    clf.save("reviews.lstmkit"); TextClassifier.load("reviews.lstmkit")

The network is an lstmkit :class:`~lstmkit.models.Sequential` over token ids ``x`` ``(N, L)``::

    Embedding(vocab, embedding_dim, mask_zero=True)                     (N, L) -> (N, L, E)
    -> LSTM(units, dropout=embedding_dropout) | Bidirectional(LSTM)     -> (N, H) or (N, L, H), H = units * (1|2)
    [-> AttentionPooling | GlobalAveragePooling1D | GlobalMaxPooling1D] -> (N, H)
    [-> Dropout(dropout)] -> Dense(n_classes, softmax)                  -> (N, n_classes)

With ``m_t`` the mask of real tokens, the poolings are ``last``: ``h_T`` at the last real step;
``mean``: ``sum_t m_t h_t / sum_t m_t``; ``max``: ``max_{t: m_t} h_t``; ``attention``: ``sum_t a_t
h_t`` with ``a = softmax_{t: m_t}(v . tanh(W h_t + b))``. Padding is masked, so a text's prediction
does not depend on how much padding it gets, and training batches group texts of similar length
(:mod:`lstmkit.tasks.text.batching`) so short texts are not padded to the longest one.

Settings left unset are chosen from the data and echoed in one line each (rules:
:mod:`lstmkit.util.advice` and :mod:`lstmkit.tasks.text.defaults`); see :meth:`TextClassifier.fit`.
The saved file is one lstmkit model whose ``model.preprocessing`` holds ``{"task": "text_classifier",
"vectorizer": ..., "labels": [...], "params": {...}, "fitted": {...}, "advice": {...}}``, so a loaded
classifier tokenizes exactly as the trained one; files without ``fitted`` / ``advice`` (earlier
versions) load as before.

Also here: :func:`read_dataset` (CSV / JSONL / folder of class subfolders), :func:`classification_report`
(accuracy, macro-F1, confusion matrix with scikit-learn) and :func:`tfidf_baseline` (TF-IDF + logistic
regression, the classical baseline to compare against).
"""

from __future__ import annotations

import sys
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
from lstmkit.tasks.text.batching import BucketedTextBatches, cut, pad_rows, sorted_batches
from lstmkit.tasks.text.defaults import (MAX_LENGTH_CAP, architecture_candidates, describe, embedding_dim_for,
                                         max_length_for, selection_epochs, valid_fraction_for)
from lstmkit.util.advice import (Advice, Choice, batch_size_for, check_validation_size, epochs_for, patience_for,
                                 require_per_class, stratified_split)
from lstmkit.util.checks import ParamsMixin, check_int, prepare_output, seed_everything

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
#: Settings chosen from the data when left unset (``None``); the file keeps the values used under "fitted".
_FITTED = ("max_length", "embedding_dim", "batch_size", "epochs", "patience", "valid_fraction", "pooling", "bidirectional")

#: What files written before a parameter existed did (their params lack it): the value that reproduces that.
_BEFORE = {"embedding_dropout": 0.0, "min_count": 1, "valid_fraction": 0.0}


class TextClassifier(ParamsMixin):
    """An LSTM text classifier with scikit-learn's interface (see the module docstring).

    Hyper-parameters (stored as given; checked by :meth:`fit`). Those marked *data-aware* may be left
    ``None`` (their default): :meth:`fit` then chooses them from the training data and says so in one
    line each (``verbose``), e.g. ``max_length=40: 95th percentile of 9,725 training texts' token
    counts is 38 ...``; an explicit value always wins.

    * ``units``, ``embedding_dim``, ``max_tokens`` (vocabulary size, reserved ids included);
    * ``max_length`` (*data-aware*: the 95th percentile of the training texts' token counts, rounded up
      to a multiple of 8, at most 1,024): tokens kept per text;
    * ``pooling`` (*data-aware*) — what the classifier reads from the recurrent layer: ``"last"`` (its
      final state), ``"mean"`` / ``"max"`` over the real steps, or ``"attention"`` — and
      ``bidirectional`` (*data-aware*): left unset, both are chosen on the validation split among
      ``(last, one direction)`` and ``(max, bidirectional)`` (see :meth:`fit`); ``attention=True`` is
      ``pooling="attention"``; ``attention_units`` the size of its hidden layer;
    * ``embedding_dropout``: dropout on the embedding features, one mask per text shared by all its
      steps (the LSTM's input ``dropout``); ``dropout``: a Dropout layer before the classifier;
    * ``learning_rate`` (Adam), ``clip_norm`` (None, or the norm all gradients together are clipped to;
      ``global_clipnorm`` is its old name, still accepted), ``cell`` (``"lstm"``, ``"gru"`` or
      ``"simple_rnn"``, for baselines);
    * ``batch_size`` (*data-aware*: ``n / 16`` rounded down to a power of two, 4 to 32),
      ``epochs`` (*data-aware*: enough for 300 optimizer steps, 10 to 200), ``patience``
      (*data-aware*: a fifth of the epochs, at least 3; early stopping on validation accuracy, ties
      broken by validation loss, best epoch's weights kept);
    * ``valid_fraction`` (*data-aware*: enough for ~500 texts, 10% to 20%): when ``fit`` gets no
      ``valid``, this fraction of the training texts (stratified by class, at least 2 per class) is
      held out for early stopping and the architecture choice; 0: none (train all epochs, keep the last);
    * ``pretrain_epochs`` (0: none; N: first train the embedding and recurrent layer as a language model
      on the training texts for N epochs, see :mod:`lstmkit.tasks.text.lm_pretraining`, then fine-tune);
    * ``level`` (``"word"`` or ``"char"``), ``truncation`` (``"pre"`` keeps a long text's *last* tokens),
      ``standardize``, ``seed``, ``threads`` (torch threads while fitting / predicting; ``None`` leaves
      torch's setting), ``precision`` (``"fp32"``, ``"bf16"`` or ``"auto"``: the training engine's
      precision; ``bf16`` where the CPU has no bf16 units is a ConfigError before any work);
    * ``verbose`` (True: the chosen defaults and one line per epoch on stderr; False/0: silent —
      warnings are raised either way).

    After :meth:`fit`: ``classes_``, ``vectorizer_``, ``model_``, the values used (``max_length_``,
    ``batch_size_``, ``epochs_``, ``patience_``, ``valid_fraction_``, ``pooling_``, ``bidirectional_``),
    ``history_`` (per-epoch ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``), ``epochs_run_``,
    ``best_epoch_``, ``steps_``, ``selection_`` (each candidate's validation accuracy when the
    architecture was chosen), ``advice_`` (:class:`lstmkit.util.advice.Advice`: every choice and
    warning) and ``train_result_`` (the engine's :class:`~lstmkit.train.TrainResult`).

    Training runs through the engine (:class:`lstmkit.train.Trainer`) on length-bucketed batches
    (:mod:`lstmkit.tasks.text.batching`); under ``torchrun`` it is data-parallel (every process fits
    the same seeded model on its shard of each batch).
    """

    #: Old spellings of hyper-parameters, accepted by ``__init__``, ``set_params`` and files that hold them.
    _ALIASES = {"global_clipnorm": "clip_norm"}

    def __init__(
        self,
        units: int = 64,
        embedding_dim: int | None = None,
        max_tokens: int = 20000,
        max_length: int | None = None,
        bidirectional: bool | None = None,
        attention: bool = False,
        epochs: int | None = None,
        batch_size: int | None = None,
        level: str = "word",
        truncation: str = "pre",
        seed: int = 0,
        *,
        cell: str = "lstm",
        attention_units: int = 64,
        pooling: str | None = None,
        dropout: float = 0.5,
        embedding_dropout: float = 0.5,
        min_count: int = 2,
        learning_rate: float = 0.001,
        clip_norm: float | None = None,
        patience: int | None = None,
        valid_fraction: float | None = None,
        pretrain_epochs: int = 0,
        standardize: str | None = "lower_and_strip_punctuation",
        threads: int | None = 1,
        precision: str = "fp32",
        verbose: bool | int = True,
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
        self.embedding_dropout = embedding_dropout
        self.min_count = min_count
        self.learning_rate = learning_rate
        self.clip_norm = clip_norm
        self.patience = patience
        self.valid_fraction = valid_fraction
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
        self.epochs_run_: int | None = None
        self.steps_: int | None = None
        self.fit_seconds_: float | None = None
        self.fitted_: dict[str, Any] = {}
        self.selection_: list[dict[str, Any]] = []
        self.advice_: Advice | None = None
        self.train_result_: Any = None

    _PARAMS = (
        "units", "embedding_dim", "max_tokens", "min_count", "max_length", "bidirectional", "attention", "epochs", "batch_size",
        "level", "truncation", "seed", "cell", "attention_units", "pooling", "dropout", "embedding_dropout",
        "learning_rate", "clip_norm", "patience", "valid_fraction", "pretrain_epochs", "standardize", "threads",
        "precision", "verbose",
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
        return (f"TextClassifier(units={self.units}, bidirectional={self.bidirectional_!r}, pooling={self.pooling_!r}, "
                f"cell={self.cell!r})")

    # ------------------------------------------------------------- values used
    def _fitted(self, name: str, given: Any) -> Any:
        value = self.fitted_.get(name) if getattr(self, "fitted_", None) else None
        return given if value is None else value

    @property
    def pooling_(self) -> str | None:
        """The pooling in effect: the one chosen or given at ``fit``; before it, ``"attention"`` when
        ``attention=True``, else ``pooling`` (None: to be chosen)."""
        return self._fitted("pooling", "attention" if self.attention is True else self.pooling)

    @property
    def bidirectional_(self) -> bool | None:
        """Bidirectional or not, as chosen or given at ``fit`` (None before it when left unset)."""
        return self._fitted("bidirectional", self.bidirectional)

    @property
    def max_length_(self) -> int | None:
        """Tokens kept per text, as chosen or given at ``fit``."""
        return self._fitted("max_length", self.max_length)

    @property
    def embedding_dim_(self) -> int | None:
        return self._fitted("embedding_dim", self.embedding_dim)

    @property
    def batch_size_(self) -> int | None:
        return self._fitted("batch_size", self.batch_size)

    @property
    def epochs_(self) -> int | None:
        return self._fitted("epochs", self.epochs)

    @property
    def patience_(self) -> int | None:
        return self._fitted("patience", self.patience)

    @property
    def valid_fraction_(self) -> float | None:
        return self._fitted("valid_fraction", self.valid_fraction)

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        check_int("units", self.units, 1)
        if self.embedding_dim is not None:
            check_int("embedding_dim", self.embedding_dim, 1)
        check_int("max_tokens", self.max_tokens, 3)
        check_int("min_count", self.min_count, 1)
        for name in ("max_length", "epochs", "batch_size", "patience"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)
        check_int("seed", self.seed, 0)
        check_int("attention_units", self.attention_units, 1)
        check_int("pretrain_epochs", self.pretrain_epochs, 0)
        if self.threads is not None:
            check_int("threads", self.threads, 1)
        for name in ("dropout", "embedding_dropout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ConfigError(f"{name} must be a number in [0, 1); found {value!r}")
        vf = self.valid_fraction
        if vf is not None and (isinstance(vf, bool) or not isinstance(vf, (int, float)) or not 0 <= vf < 1):
            raise ConfigError(f"valid_fraction must be None or a number in [0, 1) (0: no validation split); found {vf!r}")
        if isinstance(self.learning_rate, bool) or not isinstance(self.learning_rate, (int, float)) or not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be a number > 0; found {self.learning_rate!r}")
        clip = self.clip_norm
        if clip is not None and (isinstance(clip, bool) or not isinstance(clip, (int, float)) or not clip > 0):
            raise ConfigError(f"{getattr(self, '_clip_name', 'clip_norm')} must be None or a number > 0; found {clip!r}")
        if self.verbose not in (0, 1, 2) and not isinstance(self.verbose, bool):
            raise ConfigError(f"verbose must be True or False; found {self.verbose!r}")
        from lstmkit.train.precision import resolve_precision

        resolve_precision(self.precision, "cpu")  # a bad name, or bf16 without bf16 units: one line, before any work
        if not isinstance(self.attention, bool):
            raise ConfigError(f"attention must be True or False; found {self.attention!r}")
        if self.bidirectional is not None and not isinstance(self.bidirectional, bool):
            raise ConfigError(f"bidirectional must be True, False or None (choose on validation); found {self.bidirectional!r}")
        for name, value, choices in (("level", self.level, LEVELS), ("truncation", self.truncation, _SIDES),
                                     ("cell", self.cell, CELLS)):
            if value not in choices:
                raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}; found {value!r}")
        from lstmkit.data.text import STANDARDIZERS

        if self.standardize not in STANDARDIZERS:
            raise ConfigError(f"standardize must be one of {', '.join(repr(k) for k in STANDARDIZERS)}; "
                              f"found {self.standardize!r}")
        if self.pooling is not None and self.pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {', '.join(map(repr, POOLINGS))} or None (choose on "
                              f"validation); found {self.pooling!r}")
        if self.attention and self.pooling not in (None, "last", "attention"):
            raise ConfigError(f"attention=True is attention pooling; it cannot be combined with pooling={self.pooling!r}")
        self._check_memory(self.batch_size or 32, self.max_length or MAX_LENGTH_CAP,
                           True if self.bidirectional is None else self.bidirectional, self.embedding_dim or 128)

    def check_params(self) -> None:
        """Check every hyper-parameter now (``fit`` does it first); a ConfigError names the first bad one."""
        self._check_params()

    def _check_memory(self, batch_size: int, max_length: int, bidirectional: bool, embedding_dim: int) -> None:
        """Sizes that cannot be trained in this machine's memory: one line naming the option, before allocating."""
        from lstmkit.util.memory import check_training_fits, lstm_params

        gates = {"lstm": 4, "gru": 3, "simple_rnn": 1}[self.cell]
        rnn = lstm_params(embedding_dim, self.units, 1, bidirectional, gates)
        table = self.max_tokens * embedding_dim
        name, value = ("units", self.units) if rnn >= table else (
            ("max_tokens", self.max_tokens) if self.max_tokens >= embedding_dim else ("embedding_dim", embedding_dim))
        width = self.units * (2 if bidirectional else 1)
        check_training_fits(name, value, rnn + table, activation_floats=6 * batch_size * max_length * width)

    def _require_fitted(self, what: str) -> None:
        if self.model_ is None:
            raise ConfigError(f"TextClassifier.{what}: not fitted yet; call fit(texts, labels) or TextClassifier.load(path)")

    def _echo(self, line: str) -> None:
        """A progress or choice line on stderr (rank 0 only in a multi-process run)."""
        from lstmkit.train import distributed

        if distributed.is_main():
            print(line, file=sys.stderr, flush=True)

    # ------------------------------------------------------------------- model
    def _build_model(self, vocab_size: int, n_classes: int, pooling: str | None = None,
                     bidirectional: bool | None = None) -> Any:
        from lstmkit.layers import (
            GRU, LSTM, AttentionPooling, Bidirectional, Dense, Dropout, Embedding, GlobalAveragePooling1D,
            GlobalMaxPooling1D, SimpleRNN,
        )
        from lstmkit.models import Sequential
        from lstmkit.models.optimizers import Adam

        pooling = self.pooling_ if pooling is None else pooling
        bidirectional = bool(self.bidirectional_) if bidirectional is None else bidirectional
        rnn_cls = {"lstm": LSTM, "gru": GRU, "simple_rnn": SimpleRNN}[self.cell]
        rnn = rnn_cls(self.units, return_sequences=pooling != "last", dropout=float(self.embedding_dropout))
        layers = [Embedding(vocab_size, int(self._fitted("embedding_dim", self.embedding_dim) or 128), mask_zero=True)]
        layers.append(Bidirectional(rnn) if bidirectional else rnn)
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

    def _pretrain(self, model: Any, rows: list[list[int]], batch_size: int) -> None:
        """Language-model pre-training of the embedding and recurrent layer on the training texts' ids."""
        from lstmkit.layers import Bidirectional
        from lstmkit.tasks.text.lm_pretraining import pretrain_encoder

        embedding, recurrent = model.layers[0], model.layers[1]
        if isinstance(recurrent, Bidirectional):
            rnns = [(recurrent.forward_layer.cell, False), (recurrent.backward_layer.cell, True)]
        else:
            rnns = [(recurrent.cell, False)]
        self.pretrain_losses_ = pretrain_encoder(
            embedding.embeddings, rnns, rows, epochs=self.pretrain_epochs, batch_size=batch_size, seed=self.seed,
            echo=self._echo if self.verbose else None, precision=self.precision,
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

    def _fit_vectorizer(self, texts: list[str]) -> TextVectorizer:
        """The vocabulary of the training texts: tokens seen at least ``min_count`` times, most frequent
        first (ties alphabetical), at most ``max_tokens`` ids with padding and OOV."""
        vec = TextVectorizer(
            max_tokens=self.max_tokens, output_sequence_length=None, standardize=self.standardize,
            split="whitespace" if self.level == "word" else "character", padding="post", truncation=self.truncation,
        )
        if self.min_count <= 1:
            return vec.fit(texts)
        from collections import Counter

        counts: Counter[str] = Counter()
        for t in texts:
            counts.update(vec.tokenize(t))
        ranked = sorted(((tok, c) for tok, c in counts.items() if c >= self.min_count and tok not in ("", "[UNK]")),
                        key=lambda kv: (-kv[1], kv[0]))
        vec.set_vocabulary([tok for tok, _ in ranked[: self.max_tokens - 2]])
        return vec

    def _rows(self, texts: Sequence[str], max_length: int | None = None) -> list[list[int]]:
        """Each text's token ids, cut to ``max_length`` like the vectorizer (not padded; ``[0]`` for none)."""
        vec = self.vectorizer_
        length = max_length or vec.output_sequence_length or MAX_LENGTH_CAP
        return [cut(vec.encode(t), length, vec.truncation) for t in texts]

    # --------------------------------------------------------------------- fit
    def fit(self, texts: Sequence[str], labels: Sequence[Any], valid: tuple[Sequence[str], Sequence[Any]] | None = None) -> TextClassifier:
        """Build the vectorizer (on the training texts only), the label set and the model; train.

        ``valid=(texts, labels)``: early stopping on its accuracy (best epoch's weights kept). Without
        it, ``valid_fraction`` of the training texts (stratified) is held out for the same purpose.

        Settings left ``None`` are chosen from the data (each in one line, see the class docstring).
        When ``pooling`` and/or ``bidirectional`` are unset, each candidate architecture
        (:data:`lstmkit.tasks.text.defaults.CANDIDATES`) trains for a quarter of the epochs (at least
        150 steps) on the same batches; the one with the best validation accuracy (ties: lower
        validation loss, then the cheaper one) continues from where it is to the full budget with
        early stopping, the others are dropped. The choice costs one short run per extra candidate.

        Warnings (:class:`~lstmkit.errors.LstmkitWarning`): a validation set too small to choose an
        epoch, a kept model at or near chance on validation, fewer than 300 gradient steps in all.
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
        v_texts = v_labels = None
        if valid is not None:
            if not isinstance(valid, (tuple, list)) or len(valid) != 2:
                raise InputValueError("TextClassifier.fit: valid must be a (texts, labels) pair")
            v_texts = _as_text_list(valid[0], "TextClassifier.fit valid")
            v_labels = _check_labels(valid[1], len(v_texts), "TextClassifier.fit valid")
            if not v_texts:
                raise DataError("TextClassifier.fit valid: no validation texts; give some, or leave valid out "
                                "to hold out valid_fraction of the training texts")
        advice = Advice(echo=self._echo if self.verbose else None)
        self.advice_ = advice
        self.classes_ = classes
        self.fitted_ = {}
        from lstmkit.nn.threads import torch_threads

        with torch_threads(self.threads):
            t0 = time.perf_counter()
            if v_texts is None:
                if self.valid_fraction is None or self.valid_fraction > 0:
                    require_per_class(labels, 2, "training data",
                                      "give more texts of that class, validation data (valid= / --valid FILE), "
                                      "or valid_fraction=0 / --valid-fraction 0")
                fraction = advice.choose("valid_fraction", self.valid_fraction, *valid_fraction_for(len(texts)))
                if fraction > 0:
                    train_idx, valid_idx = stratified_split(labels, fraction, seed=self.seed, min_per_class=2)
                    v_texts = [texts[i] for i in valid_idx]
                    v_labels = [labels[i] for i in valid_idx]
                    texts = [texts[i] for i in train_idx]
                    labels = [labels[i] for i in train_idx]
            else:
                fraction = None
            self.fitted_["valid_fraction"] = fraction
            seed_everything(self.seed)
            self.vectorizer_ = self._fit_vectorizer(texts)
            ids = [self.vectorizer_.encode(t) for t in texts]
            max_length = advice.choose("max_length", self.max_length, *max_length_for([len(r) for r in ids]))
            self.vectorizer_.output_sequence_length = int(max_length)
            rows = [cut(r, max_length, self.truncation) for r in ids]
            n = len(rows)
            batch_size = advice.choose("batch_size", self.batch_size, *batch_size_for(n))
            epochs = advice.choose("epochs", self.epochs, *epochs_for(n, batch_size))
            patience = advice.choose("patience", self.patience, *patience_for(epochs))
            embedding_dim = advice.choose("embedding_dim", self.embedding_dim,
                                          *embedding_dim_for(sum(len(r) for r in rows)))
            self.fitted_.update(max_length=int(max_length), embedding_dim=int(embedding_dim), batch_size=int(batch_size),
                                epochs=int(epochs), patience=int(patience))
            self._check_memory(int(batch_size), int(max_length), True if self.bidirectional is None else self.bidirectional,
                               int(embedding_dim))
            y = self._encode_labels(labels, "training data")
            valid_set = None
            if v_texts is not None:
                valid_set = (self._rows(v_texts, max_length), self._encode_labels(v_labels, "validation data"))
                check_validation_size(advice, len(v_texts), len(classes),
                                      option="valid_fraction (--valid-fraction)")
            pooling, bidirectional = self._choose_and_train(advice, rows, y, valid_set, batch_size, epochs, patience,
                                                            whole=ids)
            self.fit_seconds_ = time.perf_counter() - t0
        self._after_fit(advice, valid_set, v_labels)
        self.model_.preprocessing = self.preprocessing()
        return self

    def _choose_and_train(self, advice: Advice, rows: list[list[int]], y: np.ndarray,
                          valid_set: tuple[list[list[int]], np.ndarray] | None, batch_size: int, epochs: int,
                          patience: int, whole: list[list[int]] | None = None) -> tuple[str, bool]:
        pooling = "attention" if self.attention else self.pooling
        candidates = architecture_candidates(pooling, self.bidirectional)
        reason = None
        if len(candidates) > 1 and valid_set is None:
            candidates = candidates[:1]
            reason = "no validation data to choose on (valid_fraction=0); the fast path"
        elif len(candidates) > 1 and self.pretrain_epochs:
            candidates = candidates[:1]
            reason = "not chosen with pretrain_epochs > 0 (each candidate would need its own pre-training); the fast path"
        batches = BucketedTextBatches(rows, y, batch_size, seed=self.seed)
        steps_per_epoch = batches.num_batches()
        n_classes = len(self.classes_)
        runs = []
        first = selection_epochs(epochs, steps_per_epoch) if len(candidates) > 1 else epochs
        for p, b in candidates:
            seed_everything(self.seed)
            run = _Run(self, self._build_model(self.vectorizer_.vocabulary_size(), n_classes, p, b), p, b,
                       valid_set, patience)
            if self.pretrain_epochs:  # on the whole training texts (not cut to max_length)
                self._pretrain(run.model, whole if whole is not None else rows, batch_size)
            prefix = f"[{describe(p, b)}] " if len(candidates) > 1 else ""
            run.train(batches, first, epochs, prefix)
            runs.append(run)
        if len(runs) > 1:
            def accuracy(r: _Run) -> float:
                return float((r.stopper.best or {}).get("val_accuracy", 0.0))

            winner = max(runs, key=accuracy)  # max keeps the first (cheapest) of equals
            self.selection_ = [{"pooling": r.pooling, "bidirectional": r.bidirectional,
                                "val_accuracy": (r.stopper.best or {}).get("val_accuracy"),
                                "val_loss": (r.stopper.best or {}).get("val_loss"), "epochs": first} for r in runs]
            scores = "; ".join(f"{describe(r.pooling, r.bidirectional)} {accuracy(r):.4f}" for r in runs)
            reason = (f"best validation accuracy after {first} epoch(s) each ({scores}; ties go to the first); "
                      f"cost: {len(runs) - 1} extra run(s) of {first} epoch(s)")
            self._record_architecture(advice, winner.pooling, winner.bidirectional, reason)
            for r in runs:
                if r is not winner:
                    r.release()
            winner.resume_last()
            if not winner.stopper.stopped and first < epochs:
                winner.train(batches, epochs, epochs, "")
        else:
            winner = runs[0]
            self.selection_ = []
            self._record_architecture(advice, winner.pooling, winner.bidirectional, reason or "given")
        pooling, bidirectional = winner.pooling, winner.bidirectional
        winner.finish()
        self.model_ = winner.model
        self.history_ = winner.history()
        self.epochs_run_ = len(self.history_.get("loss", []))
        self.steps_ = winner.steps
        self.train_result_ = winner.result
        self.best_epoch_ = (winner.stopper.best_epoch if winner.stopper is not None and winner.stopper.best_epoch
                            else self.epochs_run_)
        from lstmkit.models.callbacks import History

        hist = History()
        hist.history = {k: list(v) for k, v in self.history_.items()}
        hist.epoch = list(range(self.epochs_run_))
        hist.train_result = winner.result
        self.model_.history = hist
        return pooling, bidirectional

    def _record_architecture(self, advice: Advice, pooling: str, bidirectional: bool, reason: str) -> None:
        self.fitted_.update(pooling=pooling, bidirectional=bool(bidirectional))
        given_p = self.pooling is not None or self.attention
        given_b = self.bidirectional is not None
        if given_p and given_b:
            advice.choose("pooling", pooling, pooling, "given")
            advice.choose("bidirectional", bidirectional, bidirectional, "given")
            return
        advice.choices.append(Choice("pooling", pooling, "given" if given_p else reason))
        advice.choices.append(Choice("bidirectional", bool(bidirectional), "given" if given_b else reason))
        if advice.echo is not None:
            advice.echo(f"pooling={pooling}, bidirectional={bool(bidirectional)}: {reason}")

    def _after_fit(self, advice: Advice, valid_set: Any, v_labels: list[Any] | None) -> None:
        """The end-of-fit line and the warnings about a fit that is likely useless."""
        from lstmkit.util.advice import check_gradient_steps, check_not_chance

        val_acc = None
        if valid_set is not None and self.history_.get("val_accuracy"):
            val_acc = self.history_["val_accuracy"][self.best_epoch_ - 1]
        if self.verbose:
            line = f"ran {self.epochs_run_} epoch(s) ({self.steps_:,} steps, {self.fit_seconds_:.1f} s); kept epoch {self.best_epoch_}"
            if val_acc is not None:
                line += f" (validation accuracy {val_acc:.4f})"
            self._echo(line)
        check_gradient_steps(advice, int(self.steps_ or 0),
                             remedy="raise epochs / --epochs, or lower batch_size / --batch-size")
        if val_acc is not None:
            check_not_chance(advice, val_acc, self.match_labels(v_labels), "validation")

    def describe_fit(self) -> str:
        """One line: the architecture and settings used, epochs run and kept."""
        self._require_fitted("describe_fit")
        f = self.fitted_
        parts = [f"{describe(self.pooling_, bool(self.bidirectional_))}"]
        for name in ("max_length", "embedding_dim", "batch_size", "epochs", "patience", "valid_fraction"):
            if name in f:
                parts.append(f"{name}={f[name]}")
        if self.epochs_run_ is not None:
            parts.append(f"ran {self.epochs_run_} epoch(s), kept epoch {self.best_epoch_}")
        return ", ".join(parts)

    # ----------------------------------------------------------------- predict
    def _predict_rows(self, model: Any, rows: list[list[int]], batch_size: int = 128) -> np.ndarray:
        """Probabilities of token-id rows, in batches of similar length (put back in order)."""
        import torch

        out = np.zeros((len(rows), len(self.classes_)), dtype=np.float64)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                for idx in sorted_batches([len(r) for r in rows], batch_size):
                    out[idx] = model(pad_rows(rows, idx)).float().numpy()
        finally:
            model.train(was_training)
        return out

    def predict_proba(self, texts: Sequence[str], backend: str = "torch") -> np.ndarray:
        """``(N, n_classes)`` probabilities, columns in ``classes_`` order.

        ``backend``: ``"torch"`` (default), ``"onnxruntime"`` (the classifier's ONNX export, exported and
        checked once, cached until a weight changes; ``lstmkit[export]``) or ``"auto"`` (per batch,
        :func:`lstmkit.export.runtime.choose_backend`)."""
        self._require_fitted("predict_proba")
        if isinstance(texts, str):
            texts = [texts]
        texts = _as_text_list(texts, "TextClassifier.predict")
        if backend not in ("torch", "onnxruntime", "auto"):
            raise ConfigError(f"backend: expected 'torch', 'onnxruntime' or 'auto', found {backend!r}")
        if not texts:
            return np.zeros((0, len(self.classes_)))
        from lstmkit.nn.threads import torch_threads

        rows, batch = self._rows(texts), max(self.batch_size_ or 32, 64)
        if backend != "torch":
            return self._predict_rows_onnx(rows, batch, backend)
        with torch_threads(self.threads):
            return self._predict_rows(self.model_, rows, batch)

    def _predict_rows_onnx(self, rows: list[list[int]], batch_size: int, backend: str) -> np.ndarray:
        import importlib

        # by name: the runtime sits in a higher layer (lstmkit.export), like Model.predict's backend
        runtime = importlib.import_module("lstmkit.export.runtime")
        out = np.zeros((len(rows), len(self.classes_)), dtype=np.float64)
        runner = None
        for idx in sorted_batches([len(r) for r in rows], batch_size):
            x = pad_rows(rows, idx)
            if backend == "auto" and runtime.choose_backend(len(idx), x.shape[1]) == "torch":
                with torch.no_grad():
                    self.model_.eval()
                    out[idx] = self.model_(x).float().numpy()
                continue
            runner = runner or runtime.runner_for(self)
            out[idx] = runner.run(x.numpy())[0]
        return out

    def predict(self, texts: Sequence[str], backend: str = "torch") -> list[Any]:
        """The most probable label of each text (the training labels' values: strings or ints);
        ``backend`` as :meth:`predict_proba`."""
        probs = self.predict_proba(texts, backend=backend)
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
        """The JSON-able dict stored as ``model.preprocessing``: the vectorizer, the labels, the
        parameters as given (``params``), the values used for those left unset (``fitted``) and
        the fit's choices and warnings (``advice``)."""
        self._require_fitted("preprocessing")
        pre = {
            "task": PREPROCESSING_TASK,
            "vectorizer": self.vectorizer_.get_config(),
            "labels": list(self.classes_),
            "params": self.get_params(),
        }
        if self.fitted_:
            pre["fitted"] = {k: v for k, v in self.fitted_.items()}
        if self.advice_ is not None:
            pre["advice"] = self.advice_.to_json()
        return pre

    def save(self, path: str | PathLike[str]) -> Path:
        """Write one lstmkit model file (weights, config, vectorizer, labels, hyper-parameters)."""
        self._require_fitted("save")
        out = prepare_output(path)
        self.model_.preprocessing = self.preprocessing()
        self.model_.save(out)
        return out

    @classmethod
    def load(cls, path: str | PathLike[str]) -> TextClassifier:
        """Load a file written by :meth:`save` (by this or an earlier version); another kind of lstmkit
        model is a ModelFileError saying what it is."""
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
        fitted = s.obj(pre.get("fitted") or {}, "preprocessing.fitted")
        try:
            given = {k: v for k, v in params.items() if k in cls._PARAMS or k in cls._ALIASES}
            if params:  # a file from before a parameter existed: what that version did
                given.update({k: v for k, v in _BEFORE.items() if k not in params})
            obj = cls(**given)
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
        obj.fitted_ = {k: v for k, v in fitted.items() if k in _FITTED}
        if obj.vectorizer_.output_sequence_length is not None:
            obj.fitted_.setdefault("max_length", obj.vectorizer_.output_sequence_length)
        obj.fitted_.setdefault("bidirectional", type(model.layers[1]).__name__ == "Bidirectional"
                               if len(model.layers) > 1 else obj.bidirectional)
        obj.fitted_.setdefault("pooling", _pooling_of(model) or obj.pooling_)
        obj.classes_ = labels
        obj.model_ = model
        return obj


def _pooling_of(model: Any) -> str | None:
    """The pooling a loaded network uses, read from its layers."""
    names = [type(layer).__name__ for layer in model.layers]
    for name, pooling in (("AttentionPooling", "attention"), ("GlobalAveragePooling1D", "mean"),
                          ("GlobalMaxPooling1D", "max")):
        if name in names:
            return pooling
    return "last" if len(names) >= 2 else None


class _Run:
    """One candidate network's training on the engine: its model, optimizer, early stopping and
    history, trained in one or two legs (the selection leg, then the rest of the budget)."""

    def __init__(self, owner: TextClassifier, model: Any, pooling: str, bidirectional: bool,
                 valid_set: tuple[list[list[int]], np.ndarray] | None, patience: int) -> None:
        from lstmkit.train import EarlyStopping

        self.owner, self.model, self.pooling, self.bidirectional = owner, model, pooling, bidirectional
        model.optimizer.build([p for p in model.parameters() if p.requires_grad])
        self.optimizer = model.optimizer.torch_optimizer
        self.valid_set = valid_set
        self.stopper = None if valid_set is None else EarlyStopping(
            ("val_accuracy", "val_loss"), mode=("max", "min"), patience=int(patience))
        self.records: list[dict[str, Any]] = []
        self.steps = 0
        self.done = 0
        self.result: Any = None
        self._last: dict[str, Any] | None = None

    def train(self, batches: BucketedTextBatches, until: int, total: int, prefix: str) -> None:
        """Train epochs ``done + 1 .. until`` (of ``total`` in the whole budget)."""
        import torch
        import torch.nn.functional as F

        from lstmkit.train import FunctionHooks, StepOutput, Trainer

        owner = self.owner
        valid_set = self.valid_set

        def step(model: Any, batch: Any, carry: Any) -> StepOutput:
            x, target = batch
            logits = model.call_with_logits(x).float()
            accuracy = (logits.argmax(1) == target).float().mean()
            return StepOutput(F.cross_entropy(logits, target), len(target), None, {"accuracy": accuracy})

        evaluate = None
        if valid_set is not None:
            v_rows, v_y = valid_set

            def evaluate(model: Any) -> dict[str, float]:
                probs = owner._predict_rows(model, v_rows, max(batches.batch_size, 64))
                picked = np.maximum(probs[np.arange(len(v_y)), v_y], 1e-12)
                return {"val_loss": float(-np.mean(np.log(picked))),
                        "val_accuracy": float(np.mean(probs.argmax(1) == v_y))}

        clock = {"t": 0.0}

        def on_epoch_begin(state: Any) -> None:
            clock["t"] = time.perf_counter()

        def on_epoch_end(state: Any, logs: dict[str, float]) -> None:
            if state.epoch + 1 == until and until < total:  # the selection leg's end: keep the last weights
                self._last = {k: v.detach().clone() for k, v in model_.state_dict().items()}
            if owner.verbose:
                line = (f"{prefix}epoch {state.epoch + 1}/{total}: loss {logs['loss']:.4f}, "
                        f"accuracy {logs['accuracy']:.4f}")
                if "val_accuracy" in logs:
                    line += f", val_loss {logs['val_loss']:.4f}, val_accuracy {logs['val_accuracy']:.4f}"
                owner._echo(line + f", {time.perf_counter() - clock['t']:.1f} s")

        model_ = self.model
        self.result = Trainer(
            self.model, self.optimizer, step, batches, epochs=int(until), initial_epoch=int(self.done),
            evaluate=evaluate, early_stopping=self.stopper, clip_norm=owner.clip_norm, precision=owner.precision,
            hooks=FunctionHooks(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end), handle_sigint=False,
        ).fit()
        self.records.extend(self.result.history)
        self.steps += int(self.result.steps)
        self.done += len(self.result.history)

    def resume_last(self) -> None:
        """Put back the weights of the selection leg's last epoch (the engine restored the best ones)."""
        if self._last is not None and not (self.stopper is not None and self.stopper.stopped):
            self.model.load_state_dict(self._last)
        self._last = None

    def finish(self) -> None:
        """Keep the best epoch's weights (when validated)."""
        if self.stopper is not None:
            self.stopper.restore(self.model)
        self._last = None
        self.model.eval()

    def release(self) -> None:
        self.model = self.optimizer = self._last = None

    def history(self) -> dict[str, list[float]]:
        keys = ["loss", "accuracy"] + (["val_loss", "val_accuracy"] if self.valid_set is not None else [])
        return {k: [float(h[k]) for h in self.records if k in h] for k in keys}


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
