"""Keras-style utilities, named as in ``keras.utils``: :func:`pad_sequences`, :func:`to_categorical`
and the :class:`TextVectorization` preprocessor.

Not to be confused with :mod:`lstmkit.util` (singular), lstmkit's internal lowest layer. This package
sits in the layers/models layer, so it does not import :mod:`lstmkit.data` (a higher layer);
:class:`TextVectorization` is therefore a small direct implementation of Keras's rules rather than a
wrapper over :class:`lstmkit.data.text.TextVectorizer` (whose tie-breaking and punctuation rules also
differ from Keras's, see below).

Every function gives Keras 3's results (values, dtype and shape) on valid input. Bad arguments raise
lstmkit's one-line errors (:class:`~lstmkit.errors.ConfigError`, :class:`~lstmkit.errors.InputValueError`,
both ``ValueError`` subclasses like Keras's own errors). Where Keras fails with a numpy error or returns
something odd, this module is a little kinder:

* ``pad_sequences([])`` returns an empty ``(0, 0)`` array (Keras: numpy "zero-size array" error);
  ``maxlen=0`` returns ``(N, 0)`` (Keras: broadcast error with ``truncating="pre"``); a bad
  ``padding``/``truncating`` is refused even when every sequence is empty (Keras only checks them
  while copying a non-empty sequence).
* ``to_categorical`` refuses labels outside ``[0, num_classes)`` (Keras: ``IndexError`` for too-large
  labels, and silently sets the *last* class for negative ones).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from lstmkit.errors import ConfigError, InputValueError

__all__ = ["pad_sequences", "to_categorical", "TextVectorization", "set_random_seed"]


def set_random_seed(seed: int) -> None:
    """Keras's ``keras.utils.set_random_seed``: seed Python's ``random``, NumPy and torch (all devices)."""
    import random

    import torch

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        from lstmkit.errors import ConfigError

        raise ConfigError(f"seed: expected an integer >= 0, found {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)

_SIDES = ("pre", "post")


# --------------------------------------------------------------------------- pad_sequences
def pad_sequences(
    sequences: Any,
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0.0,
) -> np.ndarray:
    """Pad (and truncate) sequences to one length: ``keras.utils.pad_sequences``.

    Returns an array of shape ``(len(sequences), maxlen) + sample_shape`` and dtype ``dtype``;
    ``maxlen=None`` means the longest sequence. ``padding``/``truncating`` (``"pre"`` or ``"post"``)
    say at which end values are added/removed. Values are cast like numpy (``dtype="int32"`` turns
    ``1.7`` into ``1``, as Keras does). For strings use ``dtype=object`` (or a numpy str dtype).

    >>> pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2).tolist()
    [[0, 1], [2, 3], [5, 6]]
    """
    if padding not in _SIDES:
        raise ConfigError(f"pad_sequences: padding must be 'pre' or 'post'; found {padding!r}")
    if truncating not in _SIDES:
        raise ConfigError(f"pad_sequences: truncating must be 'pre' or 'post'; found {truncating!r}")
    if maxlen is not None:
        if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)):
            raise ConfigError(f"pad_sequences: maxlen must be an int >= 0 or None; found {maxlen!r}")
        if maxlen < 0:
            raise ConfigError(f"pad_sequences: maxlen must be >= 0 or None; found {maxlen}")
        maxlen = int(maxlen)
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise InputValueError(
            f"pad_sequences: sequences must be a list of sequences; found {type(sequences).__name__}"
        )
    try:
        np.dtype(dtype)
    except TypeError:
        raise ConfigError(f"pad_sequences: dtype {dtype!r} is not a numpy dtype") from None
    is_dtype_str = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_dtype_str:
        raise ConfigError(
            f"pad_sequences: a string value {value!r} needs dtype=object (or a numpy str dtype); found dtype {dtype!r}"
        )

    lengths: list[int] = []
    sample_shape: tuple[int, ...] = ()
    first = True
    for idx, s in enumerate(sequences):
        if isinstance(s, (str, bytes)) or not hasattr(s, "__len__"):
            raise InputValueError(
                f"pad_sequences: sequence at position {idx} is not a sequence; found {type(s).__name__}"
            )
        lengths.append(len(s))
        if first and len(s):
            sample_shape = _inner_shape(s, idx)
            first = False
    if maxlen is None:
        maxlen = max(lengths, default=0)

    x = np.full((len(lengths), maxlen) + sample_shape, value, dtype=dtype)
    if maxlen == 0:
        return x
    for idx, s in enumerate(sequences):
        if not len(s):
            continue
        trunc = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        try:
            trunc = np.asarray(trunc, dtype=dtype)
        except ValueError as e:
            _inner_shape(trunc, idx)  # raises the ragged-shape message if that is the cause
            raise InputValueError(
                f"pad_sequences: sequence at position {idx} cannot be converted to dtype {dtype!r}: {e}"
            ) from None
        if trunc.shape[1:] != sample_shape:
            raise InputValueError(
                f"pad_sequences: sequence at position {idx} has items of shape {trunc.shape[1:]}, "
                f"expected {sample_shape} (the shape of the first non-empty sequence's items)"
            )
        if padding == "post":
            x[idx, : len(trunc)] = trunc
        else:
            x[idx, -len(trunc):] = trunc
    return x


def _inner_shape(s: Any, idx: int) -> tuple[int, ...]:
    try:
        return tuple(np.asarray(s).shape[1:])
    except ValueError:
        raise InputValueError(
            f"pad_sequences: sequence at position {idx} is ragged inside (its items differ in shape)"
        ) from None


# --------------------------------------------------------------------------- to_categorical
def to_categorical(x: Any, num_classes: int | None = None) -> Any:
    """One-hot encode class ids: ``keras.utils.to_categorical``.

    ``x`` holds ints in ``[0, num_classes)`` (floats are truncated, as in Keras); a trailing dimension of
    size 1 is dropped, then a class axis of size ``num_classes`` (default ``max(x) + 1``) is appended.
    Returns a ``float64`` numpy array, as Keras does for array-like input. A ``torch.Tensor`` gives a
    ``float32`` tensor (Keras's backend ``one_hot``).

    >>> to_categorical([0, 2], num_classes=3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 0
    ):
        raise ConfigError(f"to_categorical: num_classes must be an int >= 1 or None; found {num_classes!r}")
    import torch

    if isinstance(x, torch.Tensor):
        if x.dim() > 1 and x.shape[-1] == 1:
            x = x.reshape(tuple(x.shape[:-1]))
        ids = x.long()
        n = int(num_classes) if num_classes else (int(ids.max()) + 1 if ids.numel() else 0)
        _check_labels(ids.numpy(force=True) if ids.numel() else np.zeros(0, np.int64), n)
        return torch.nn.functional.one_hot(ids, n).to(torch.float32)
    try:
        arr = np.array(x, dtype="int64")
    except (TypeError, ValueError) as e:
        raise InputValueError(f"to_categorical: x must be an array of class ids; {e}") from None
    input_shape = arr.shape
    if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
        input_shape = tuple(input_shape[:-1])
    arr = arr.reshape(-1)
    if not num_classes:
        if arr.size == 0:
            raise InputValueError("to_categorical: x is empty; pass num_classes to encode an empty array")
        num_classes = int(np.max(arr)) + 1
    num_classes = int(num_classes)
    _check_labels(arr, num_classes)
    categorical = np.zeros((arr.shape[0], num_classes))
    categorical[np.arange(arr.shape[0]), arr] = 1
    return np.reshape(categorical, input_shape + (num_classes,))


def _check_labels(arr: np.ndarray, num_classes: int) -> None:
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        bad = int(arr.min()) if arr.min() < 0 else int(arr.max())
        raise InputValueError(f"to_categorical: class id {bad} is outside [0, {num_classes})")


# --------------------------------------------------------------------------- TextVectorization
# Keras's rules (tf.strings on the TensorFlow side): ASCII-only lowercasing, ASCII punctuation only
# (string.punctuation), and splitting on ASCII whitespace runs.
_KERAS_PUNCT_RE = re.compile(r"[!\"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~']")
_ASCII_WS_RE = re.compile(r"[ \t\n\v\f\r]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_STANDARDIZE = (None, "lower_and_strip_punctuation", "lower", "strip_punctuation")
_SPLIT = (None, "whitespace", "character")
_PAD, _OOV = "", "[UNK]"


class TextVectorization:
    """Texts to int token ids: ``keras.layers.TextVectorization`` with ``output_mode="int"``.

    The vocabulary is ``["", "[UNK]", ...]``: padding at 0, out-of-vocabulary at 1, then the tokens of
    :meth:`adapt` by descending count, ties broken like Keras (``np.lexsort`` reversed: the token that
    sorts *last* comes first, so ``"b"`` before ``"a"``), capped so the whole list has at most
    ``max_tokens`` entries. Standardization follows Keras's TensorFlow ops: ``lower`` lowercases ASCII
    letters only, ``strip_punctuation`` removes ASCII punctuation (``string.punctuation``) only;
    ``"whitespace"`` splits on runs of ASCII whitespace, ``"character"`` into Unicode code points.

    Calling it returns an ``np.int64`` array ``(N, L)``: with ``output_sequence_length`` rows are padded
    or truncated at the end to that length, otherwise padded to the longest text of the call (which
    may be 0, as in Keras). Differences from Keras: it returns a numpy array rather than a backend
    tensor, takes only a list (or 1-D array) of ``str``, and supports only ``output_mode="int"`` and
    the named (not callable) ``standardize``/``split``, without ``ngrams``.

    >>> v = TextVectorization()
    >>> v.adapt(["the cat sat", "the dog"])
    >>> v.get_vocabulary()
    ['', '[UNK]', 'the', 'sat', 'dog', 'cat']
    >>> v(["the bird sat"]).tolist()
    [[2, 1, 3]]
    """

    def __init__(
        self,
        max_tokens: int | None = None,
        standardize: str | None = "lower_and_strip_punctuation",
        split: str | None = "whitespace",
        output_mode: str = "int",
        output_sequence_length: int | None = None,
        vocabulary: Sequence[str] | None = None,
    ) -> None:
        if output_mode != "int":
            raise ConfigError(
                f"TextVectorization: output_mode {output_mode!r} is not supported; only 'int' is"
            )
        if max_tokens is not None:
            if isinstance(max_tokens, bool) or not isinstance(max_tokens, (int, np.integer)) or max_tokens < 3:
                raise ConfigError(
                    f"TextVectorization: max_tokens must be an int >= 3 (ids 0 and 1 are reserved) or None; "
                    f"found {max_tokens!r}"
                )
            max_tokens = int(max_tokens)
        if output_sequence_length is not None:
            if (
                isinstance(output_sequence_length, bool)
                or not isinstance(output_sequence_length, (int, np.integer))
                or output_sequence_length < 1
            ):
                raise ConfigError(
                    f"TextVectorization: output_sequence_length must be an int >= 1 or None; "
                    f"found {output_sequence_length!r}"
                )
            output_sequence_length = int(output_sequence_length)
        if standardize not in _STANDARDIZE:
            raise ConfigError(
                f"TextVectorization: standardize must be one of {', '.join(map(repr, _STANDARDIZE))}; "
                f"found {standardize!r}"
            )
        if split not in _SPLIT:
            raise ConfigError(
                f"TextVectorization: split must be one of {', '.join(map(repr, _SPLIT))}; found {split!r}"
            )
        self.max_tokens = max_tokens
        self.standardize = standardize
        self.split = split
        self.output_mode = output_mode
        self.output_sequence_length = output_sequence_length
        self._vocab: list[str] | None = None
        self._index: dict[str, int] = {}
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # ----------------------------------------------------------------- tokens
    def _tokens(self, text: str) -> list[str]:
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            text = text.translate(_ASCII_LOWER)
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            text = _KERAS_PUNCT_RE.sub("", text)
        if self.split == "whitespace":
            return [t for t in _ASCII_WS_RE.split(text) if t]
        if self.split == "character":
            return list(text)
        return [text]

    @staticmethod
    def _texts(data: Any, what: str) -> list[str]:
        if isinstance(data, (str, bytes)):
            raise InputValueError(f"TextVectorization.{what}: expected a list of strings, found one string; wrap it: [text]")
        if isinstance(data, np.ndarray):
            if data.ndim == 2 and data.shape[-1] == 1:
                data = data[:, 0]
            data = data.tolist()
        try:
            items = list(data)
        except TypeError:
            raise InputValueError(
                f"TextVectorization.{what}: expected a list of strings, found {type(data).__name__}"
            ) from None
        for i, t in enumerate(items):
            if isinstance(t, bytes):
                items[i] = t = t.decode("utf-8")
            if not isinstance(t, str):
                raise InputValueError(
                    f"TextVectorization.{what}: expected a list of strings, found {type(t).__name__} at index {i}"
                )
        return items

    # ------------------------------------------------------------- vocabulary
    def adapt(self, data: Iterable[str]) -> None:
        """Build the vocabulary from ``data`` (replacing any earlier one), as Keras's ``adapt``."""
        counts: Counter[str] = Counter()
        for t in self._texts(data, "adapt"):
            counts.update(self._tokens(t))
        counts.pop(_PAD, None)
        counts.pop(_OOV, None)
        # Keras: np.lexsort((tokens, counts))[::-1], i.e. count descending, then token (UTF-8 bytes,
        # the same order as Python's code point order) descending.
        ranked = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        if self.max_tokens is not None:
            ranked = ranked[: self.max_tokens - 2]
        self._set_vocab([_PAD, _OOV, *(tok for tok, _ in ranked)])

    def set_vocabulary(self, vocabulary: Sequence[str]) -> None:
        """Use a given vocabulary: the tokens only, or the full list starting ``""``, ``"[UNK]"``."""
        vocab = self._texts(vocabulary, "set_vocabulary")
        if vocab[:2] != [_PAD, _OOV]:
            vocab = [_PAD, _OOV, *vocab]
        body = vocab[2:]
        for tok in body:
            if tok in (_PAD, _OOV):
                raise ConfigError(f"TextVectorization: vocabulary must not contain {tok!r} after index 1")
        dup = next((t for t, c in Counter(body).items() if c > 1), None)
        if dup is not None:
            raise ConfigError(f"TextVectorization: vocabulary has a duplicate token {dup!r}")
        if self.max_tokens is not None and len(vocab) > self.max_tokens:
            raise ConfigError(
                f"TextVectorization: vocabulary has {len(vocab)} entries (reserved included) "
                f"but max_tokens is {self.max_tokens}"
            )
        self._set_vocab(vocab)

    def _set_vocab(self, vocab: list[str]) -> None:
        self._vocab = vocab
        self._index = {tok: i for i, tok in enumerate(vocab)}

    def get_vocabulary(self) -> list[str]:
        """The vocabulary, index = token id."""
        return list(self._require_vocab("get_vocabulary"))

    def vocabulary_size(self) -> int:
        """Number of ids, reserved included (the ``input_dim`` of an ``Embedding``)."""
        return len(self._require_vocab("vocabulary_size"))

    def _require_vocab(self, what: str) -> list[str]:
        if self._vocab is None:
            raise ConfigError(f"TextVectorization.{what}: no vocabulary yet; call adapt(texts) first")
        return self._vocab

    # -------------------------------------------------------------- transform
    def __call__(self, texts: Iterable[str]) -> np.ndarray:
        """Token ids of ``texts`` as an ``np.int64`` array ``(N, L)``."""
        self._require_vocab("__call__")
        get = self._index.get
        rows = [[get(tok, 1) for tok in self._tokens(t)] for t in self._texts(texts, "__call__")]
        length = self.output_sequence_length
        if length is None:
            length = max((len(r) for r in rows), default=0)
        out = np.zeros((len(rows), length), dtype=np.int64)
        for i, r in enumerate(rows):
            r = r[:length]
            out[i, : len(r)] = r
        return out

    def get_config(self) -> dict[str, Any]:
        return {
            "max_tokens": self.max_tokens,
            "standardize": self.standardize,
            "split": self.split,
            "output_mode": self.output_mode,
            "output_sequence_length": self.output_sequence_length,
            "vocabulary": None if self._vocab is None else list(self._vocab),
        }

    def __repr__(self) -> str:
        size = "unadapted" if self._vocab is None else f"{len(self._vocab)} tokens"
        return (
            f"TextVectorization(max_tokens={self.max_tokens}, standardize={self.standardize!r}, "
            f"split={self.split!r}, output_sequence_length={self.output_sequence_length}, {size})"
        )
