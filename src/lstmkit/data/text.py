"""Text to token ids: :class:`TextVectorizer`.

A vectorizer is a small pipeline, each step chosen by *name* so the whole thing round-trips through
JSON (and can live in ``model.preprocessing``)::

    text --standardize--> text --split--> tokens --vocabulary--> ids --pad/truncate--> (N, L) int64

* ``standardize``: ``"lower_and_strip_punctuation"`` (default), ``"lower"``, ``"strip_punctuation"`` or
  ``None``. Punctuation is every Unicode punctuation or symbol character plus ``_`` (like Keras, so
  ``"what's"`` becomes ``"whats"``).
* ``split``: ``"whitespace"`` (word level) or ``"character"`` (char level: every character, spaces
  and newlines included, is a token; use ``standardize=None`` to keep case and punctuation).
* vocabulary: index 0 is padding (``""``), index 1 is out-of-vocabulary (``"[UNK]"``), then tokens by
  descending frequency in the texts given to :meth:`TextVectorizer.fit` (ties: alphabetical), capped so
  the total, reserved ids included, is at most ``max_tokens``.
* ``output_sequence_length``: every row is padded / truncated to this length; ``padding`` and
  ``truncation`` say at which end (``"pre"`` = the start, ``"post"`` = the end). With ``None`` rows are
  padded to the longest text of the call.

Fit on training texts only; validation and test texts are only transformed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from lstmkit.errors import ConfigError, InputValueError

PAD_TOKEN = ""
OOV_TOKEN = "[UNK]"
PAD_ID = 0
OOV_ID = 1
_RESERVED = (PAD_TOKEN, OOV_TOKEN)

CONFIG_VERSION = 1

# Every punctuation (P*) or symbol (S*) character, plus "_" (a \w character that Keras strips too).
_PUNCT_RE = re.compile(r"[^\w\s]|_")


def _lower(text: str) -> str:
    return text.lower()


def _strip_punctuation(text: str) -> str:
    return _PUNCT_RE.sub("", text)


def _lower_and_strip_punctuation(text: str) -> str:
    return _PUNCT_RE.sub("", text.lower())


def _identity(text: str) -> str:
    return text


#: Named standardizers (``None`` in a config means no standardization).
STANDARDIZERS: dict[str | None, Callable[[str], str]] = {
    "lower_and_strip_punctuation": _lower_and_strip_punctuation,
    "lower": _lower,
    "strip_punctuation": _strip_punctuation,
    None: _identity,
}


def _split_whitespace(text: str) -> list[str]:
    return text.split()


def _split_characters(text: str) -> list[str]:
    return list(text)


#: Named splitters: text -> list of tokens. ``"whitespace"`` is word level, ``"character"`` char level.
SPLITTERS: dict[str, Callable[[str], list[str]]] = {
    "whitespace": _split_whitespace,
    "character": _split_characters,
}

#: The level each splitter works at (what ``TextVectorizer.level`` reports).
LEVELS = {"whitespace": "word", "character": "char"}

_SIDES = ("pre", "post")


def _check_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    choices = list(choices)
    if value not in choices:
        shown = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"{name} must be one of {shown}; found {value!r}")


def _as_text_list(texts: Any, what: str) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise InputValueError(
            f"{what} expects a list of strings, found a single {type(texts).__name__}; wrap it: [text]"
        )
    if isinstance(texts, np.ndarray):
        texts = texts.tolist()
    try:
        items = list(texts)
    except TypeError:
        raise InputValueError(
            f"{what} expects a list of strings, found {type(texts).__name__}"
        ) from None
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise InputValueError(
                f"{what} expects a list of strings, found {type(t).__name__} at index {i}"
            )
    return items


class TextVectorizer:
    """Turn texts into fixed-length rows of token ids (``np.int64``), Keras ``TextVectorization`` style.

    >>> v = TextVectorizer(max_tokens=100, output_sequence_length=4)
    >>> v.fit(["The cat sat.", "the dog"]).transform(["the cat ate"]).tolist()
    [[2, 3, 1, 0]]
    """

    def __init__(
        self,
        max_tokens: int | None = None,
        output_sequence_length: int | None = None,
        *,
        standardize: str | None = "lower_and_strip_punctuation",
        split: str = "whitespace",
        padding: str = "post",
        truncation: str = "post",
        vocabulary: Sequence[str] | None = None,
    ) -> None:
        if max_tokens is not None:
            if isinstance(max_tokens, bool) or not isinstance(max_tokens, (int, np.integer)):
                raise ConfigError(f"max_tokens must be an int >= 3 or None; found {max_tokens!r}")
            if max_tokens < len(_RESERVED) + 1:
                raise ConfigError(
                    f"max_tokens must be >= 3 (ids 0 and 1 are reserved for padding and OOV); "
                    f"found {max_tokens}"
                )
            max_tokens = int(max_tokens)
        if output_sequence_length is not None:
            if isinstance(output_sequence_length, bool) or not isinstance(
                output_sequence_length, (int, np.integer)
            ):
                raise ConfigError(
                    f"output_sequence_length must be an int >= 1 or None; found {output_sequence_length!r}"
                )
            if output_sequence_length < 1:
                raise ConfigError(
                    f"output_sequence_length must be >= 1 or None; found {output_sequence_length}"
                )
            output_sequence_length = int(output_sequence_length)
        _check_choice("standardize", standardize, STANDARDIZERS)
        _check_choice("split", split, SPLITTERS)
        _check_choice("padding", padding, _SIDES)
        _check_choice("truncation", truncation, _SIDES)
        self.max_tokens = max_tokens
        self.output_sequence_length = output_sequence_length
        self.standardize = standardize
        self.split = split
        self.padding = padding
        self.truncation = truncation
        self._vocab: list[str] | None = None
        self._index: dict[str, int] = {}
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    @property
    def level(self) -> str:
        """``"word"`` or ``"char"``, from ``split``."""
        return LEVELS[self.split]

    # ----------------------------------------------------------------- tokens
    def tokenize(self, text: str) -> list[str]:
        """Standardize and split one text."""
        return SPLITTERS[self.split](STANDARDIZERS[self.standardize](text))

    # ------------------------------------------------------------- vocabulary
    @property
    def is_fitted(self) -> bool:
        return self._vocab is not None

    def fit(self, texts: Iterable[str]) -> TextVectorizer:
        """Build the vocabulary from ``texts`` (training data only). Returns ``self``."""
        items = _as_text_list(texts, "TextVectorizer.fit")
        counts: Counter[str] = Counter()
        for t in items:
            counts.update(self.tokenize(t))
        for tok in _RESERVED:
            counts.pop(tok, None)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if self.max_tokens is not None:
            ranked = ranked[: self.max_tokens - len(_RESERVED)]
        self._set_vocab([*_RESERVED, *(tok for tok, _ in ranked)])
        return self

    adapt = fit  # Keras name

    def set_vocabulary(self, vocabulary: Sequence[str]) -> None:
        """Use a given vocabulary: either the full list (starting ``""``, ``"[UNK]"``) or only the tokens."""
        vocab = _as_text_list(vocabulary, "TextVectorizer.set_vocabulary")
        if tuple(vocab[:2]) != _RESERVED:
            vocab = [*_RESERVED, *vocab]
        body = vocab[len(_RESERVED):]
        for tok in body:
            if tok in _RESERVED:
                raise ConfigError(f"vocabulary must not contain the reserved token {tok!r} after index 1")
        if len(set(body)) != len(body):
            dup = next(t for t, c in Counter(body).items() if c > 1)
            raise ConfigError(f"vocabulary has a duplicate token {dup!r}")
        if self.max_tokens is not None and len(vocab) > self.max_tokens:
            raise ConfigError(
                f"vocabulary has {len(vocab)} entries (reserved included) but max_tokens is {self.max_tokens}"
            )
        self._set_vocab(vocab)

    def _set_vocab(self, vocab: list[str]) -> None:
        self._vocab = vocab
        self._index = {tok: i for i, tok in enumerate(vocab)}

    def get_vocabulary(self) -> list[str]:
        """The vocabulary, index = token id (``[""; "[UNK]", ...]``)."""
        self._require_fitted("get_vocabulary")
        return list(self._vocab)  # type: ignore[arg-type]

    def vocabulary_size(self) -> int:
        """Number of ids, reserved included: the ``input_dim`` for an ``Embedding``."""
        self._require_fitted("vocabulary_size")
        return len(self._vocab)  # type: ignore[arg-type]

    def _require_fitted(self, what: str) -> None:
        if self._vocab is None:
            raise ConfigError(f"TextVectorizer.{what}: the vectorizer has no vocabulary; call fit(texts) first")

    # -------------------------------------------------------------- transform
    def encode(self, text: str) -> list[int]:
        """Token ids of one text, no padding or truncation."""
        self._require_fitted("encode")
        get = self._index.get
        return [get(tok, OOV_ID) for tok in self.tokenize(text)]

    def transform(self, texts: Iterable[str]) -> np.ndarray:
        """Ids of each text as an ``np.int64`` array of shape ``(N, L)``."""
        self._require_fitted("transform")
        items = _as_text_list(texts, "TextVectorizer.transform")
        rows = [self.encode(t) for t in items]
        length = self.output_sequence_length
        if length is None:
            length = max((len(r) for r in rows), default=0)
            length = max(length, 1)
        out = np.full((len(rows), length), PAD_ID, dtype=np.int64)
        for i, r in enumerate(rows):
            if len(r) > length:
                r = r[-length:] if self.truncation == "pre" else r[:length]
            if not r:
                continue
            if self.padding == "pre":
                out[i, length - len(r):] = r
            else:
                out[i, : len(r)] = r
        return out

    __call__ = transform

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of one row of ids, padding dropped (the inverse of :meth:`encode` up to OOV)."""
        self._require_fitted("decode")
        vocab = self._vocab
        out = []
        for i in np.asarray(ids, dtype=np.int64).ravel().tolist():
            if i == PAD_ID:
                continue
            if not 0 <= i < len(vocab):  # type: ignore[arg-type]
                raise InputValueError(f"token id {i} out of range [0, {len(vocab)})")  # type: ignore[arg-type]
            out.append(vocab[i])  # type: ignore[index]
        return out

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        """A JSON-able dict with everything needed to rebuild this vectorizer, vocabulary included."""
        return {
            "class_name": type(self).__name__,
            "config_version": CONFIG_VERSION,
            "level": self.level,
            "max_tokens": self.max_tokens,
            "output_sequence_length": self.output_sequence_length,
            "standardize": self.standardize,
            "split": self.split,
            "padding": self.padding,
            "truncation": self.truncation,
            "vocabulary": None if self._vocab is None else list(self._vocab),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TextVectorizer:
        """Rebuild from :meth:`get_config` output (e.g. read back from ``model.preprocessing``)."""
        if not isinstance(config, dict):
            raise ConfigError(f"TextVectorizer config must be a dict; found {type(config).__name__}")
        cfg = dict(config)
        name = cfg.pop("class_name", cls.__name__)
        if name != cls.__name__:
            raise ConfigError(f"config is for {name!r}, not {cls.__name__!r}")
        version = cfg.pop("config_version", CONFIG_VERSION)
        if version != CONFIG_VERSION:
            raise ConfigError(
                f"TextVectorizer config_version {version!r} is not supported (this lstmkit reads {CONFIG_VERSION})"
            )
        level = cfg.pop("level", None)
        expected = LEVELS.get(cfg.get("split", "whitespace"))
        if level is not None and level != expected:
            raise ConfigError(f"config says level {level!r} but split {cfg.get('split')!r} is {expected!r} level")
        allowed = {
            "max_tokens", "output_sequence_length", "standardize", "split", "padding", "truncation", "vocabulary",
        }
        unknown = sorted(set(cfg) - allowed)
        if unknown:
            raise ConfigError(f"TextVectorizer config has unknown keys {unknown}; known: {sorted(allowed)}")
        vocab = cfg.pop("vocabulary", None)
        obj = cls(**cfg)
        if vocab is not None:
            obj.set_vocabulary(vocab)
        return obj

    def __repr__(self) -> str:
        size = len(self._vocab) if self._vocab is not None else "unfitted"
        return (
            f"{type(self).__name__}(max_tokens={self.max_tokens}, "
            f"output_sequence_length={self.output_sequence_length}, standardize={self.standardize!r}, "
            f"split={self.split!r}, padding={self.padding!r}, truncation={self.truncation!r}, vocabulary={size})"
        )


#: Vectorizer classes by ``class_name`` (what :meth:`TextVectorizer.get_config` writes). A new kind of
#: vectorizer (e.g. character level) registers here so :func:`vectorizer_from_config` can rebuild it.
VECTORIZERS: dict[str, type[TextVectorizer]] = {"TextVectorizer": TextVectorizer}


def vectorizer_from_config(config: dict[str, Any]) -> TextVectorizer:
    """Rebuild any registered vectorizer from its config (dispatch on ``class_name``)."""
    if not isinstance(config, dict):
        raise ConfigError(f"vectorizer config must be a dict; found {type(config).__name__}")
    name = config.get("class_name", "TextVectorizer")
    if name not in VECTORIZERS:
        raise ConfigError(f"unknown vectorizer class_name {name!r}; known: {sorted(VECTORIZERS)}")
    return VECTORIZERS[name].from_config(config)


__all__ = ["TextVectorizer", "VECTORIZERS", "vectorizer_from_config", "STANDARDIZERS", "SPLITTERS", "PAD_TOKEN", "OOV_TOKEN", "PAD_ID", "OOV_ID"]
