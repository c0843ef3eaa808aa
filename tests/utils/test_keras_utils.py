"""lstmkit.utils against keras.utils: pad_sequences, to_categorical, TextVectorization."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from lstmkit.errors import ConfigError, InputValueError
from lstmkit.utils import TextVectorization, pad_sequences, to_categorical

os.environ.setdefault("KERAS_BACKEND", "torch")
try:
    import keras
except Exception as e:  # pragma: no cover - depends on the environment
    keras = None
    _KERAS_WHY = f"keras cannot be imported: {e}"
else:
    _KERAS_WHY = ""

needs_keras = pytest.mark.skipif(keras is None, reason=_KERAS_WHY or "keras missing")


def _keras_text_vectorization_works() -> str:
    if keras is None:
        return _KERAS_WHY
    try:
        layer = keras.layers.TextVectorization()
        layer.adapt(["a b"])
        layer(["a"])
    except Exception as e:
        return f"keras.layers.TextVectorization does not run here (it needs TensorFlow): {type(e).__name__}"
    return ""


# --------------------------------------------------------------------------- pad_sequences
def _ragged(rng: random.Random, n: int, max_len: int, floats: bool = False) -> list[list]:
    out = []
    for _ in range(n):
        k = rng.randint(0, max_len)
        out.append([rng.uniform(-5, 5) if floats else rng.randint(1, 99) for _ in range(k)])
    return out


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    np.testing.assert_array_equal(a, b)


@needs_keras
@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("maxlen", [None, 1, 3, 7, 20])
@pytest.mark.parametrize("dtype", ["int32", "float32", "int64", "float64"])
def test_pad_sequences_matches_keras(padding, truncating, maxlen, dtype):
    rng = random.Random(hash((padding, truncating, maxlen, dtype)) & 0xFFFF)
    for trial in range(4):
        seqs = _ragged(rng, rng.randint(1, 8), 10, floats=dtype.startswith("float") and trial % 2 == 0)
        if all(len(s) == 0 for s in seqs) and maxlen is None:
            seqs[0] = [1]
        for value in (0.0, -1, 2.5):
            kw = dict(maxlen=maxlen, dtype=dtype, padding=padding, truncating=truncating, value=value)
            _same(pad_sequences(seqs, **kw), keras.utils.pad_sequences(seqs, **kw))


@needs_keras
def test_pad_sequences_defaults_and_inputs_match_keras():
    cases = [
        [[1], [2, 3], [4, 5, 6]],
        [[], [1, 2], []],
        [[]],
        [np.array([1, 2]), np.array([3])],
        np.array([[1, 2, 3], [4, 5, 6]]),
        [[1.7, -2.2], [3.9]],  # floats cast to the default int32, as Keras does
        [[[1, 2], [3, 4]], [[5, 6]]],  # items of shape (2,)
        [(1, 2), (3,)],
    ]
    for seqs in cases:
        _same(pad_sequences(seqs), keras.utils.pad_sequences(seqs))
        _same(pad_sequences(seqs, maxlen=1, padding="post"), keras.utils.pad_sequences(seqs, maxlen=1, padding="post"))
    _same(pad_sequences(cases[0], value=-1), keras.utils.pad_sequences(cases[0], value=-1))


@needs_keras
def test_pad_sequences_strings_match_keras():
    seqs = [["a", "bb"], ["c"], [], ["d", "e", "f"]]
    for dtype in (object, "<U3", "U5"):
        for value in ("", "<pad>", "x"):
            for padding in ("pre", "post"):
                kw = dict(maxlen=2, dtype=dtype, value=value, padding=padding, truncating="post")
                _same(pad_sequences(seqs, **kw), keras.utils.pad_sequences(seqs, **kw))
    _same(pad_sequences(seqs, dtype=object, value="x"), keras.utils.pad_sequences(seqs, dtype=object, value="x"))


def test_pad_sequences_examples_without_keras():
    seqs = [[1], [2, 3], [4, 5, 6]]
    out = pad_sequences(seqs)
    assert out.dtype == np.int32 and out.tolist() == [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    assert pad_sequences(seqs, padding="post").tolist() == [[1, 0, 0], [2, 3, 0], [4, 5, 6]]
    assert pad_sequences(seqs, maxlen=2).tolist() == [[0, 1], [2, 3], [5, 6]]
    assert pad_sequences(seqs, maxlen=2, truncating="post").tolist() == [[0, 1], [2, 3], [4, 5]]
    assert pad_sequences([], maxlen=None).shape == (0, 0)
    assert pad_sequences(seqs, maxlen=0).shape == (3, 0)
    assert pad_sequences([[], []]).shape == (2, 0)


@pytest.mark.parametrize(
    "kwargs, seqs, err, text",
    [
        (dict(padding="middle"), [[1]], ConfigError, "padding must be 'pre' or 'post'; found 'middle'"),
        (dict(truncating="end"), [[1]], ConfigError, "truncating must be 'pre' or 'post'; found 'end'"),
        (dict(padding="x"), [[]], ConfigError, "padding must be 'pre' or 'post'"),
        (dict(maxlen=-1), [[1]], ConfigError, "maxlen must be >= 0 or None; found -1"),
        (dict(maxlen=2.5), [[1]], ConfigError, "maxlen must be an int >= 0 or None; found 2.5"),
        (dict(value="pad"), [[1]], ConfigError, "needs dtype=object"),
        (dict(dtype="nonsense"), [[1]], ConfigError, "is not a numpy dtype"),
        ({}, [[[1, 2]], [[3]]], InputValueError, "sequence at position 1 has items of shape (1,), expected (2,)"),
        ({}, [[[1, 2], [3]]], InputValueError, "sequence at position 0 is ragged inside"),
        ({}, [[1], 5], InputValueError, "sequence at position 1 is not a sequence; found int"),
        ({}, 5, InputValueError, "sequences must be a list of sequences; found int"),
        ({}, "abc", InputValueError, "sequences must be a list of sequences; found str"),
    ],
)
def test_pad_sequences_errors(kwargs, seqs, err, text):
    with pytest.raises(err) as info:
        pad_sequences(seqs, **kwargs)
    msg = str(info.value)
    assert text in msg and "\n" not in msg and msg.startswith("pad_sequences: ")
    assert isinstance(info.value, ValueError)  # like Keras's ValueError


# --------------------------------------------------------------------------- to_categorical
_CAT_CASES = [
    ([0, 1, 2, 3], None),
    ([0, 1, 2, 3], 6),
    ([[1], [2], [0]], None),  # trailing 1 squeezed
    ([[1, 2], [0, 1]], None),
    (np.array([[[1], [0]], [[2], [2]]]), 4),
    (np.array([3]), None),
    (2, 5),  # scalar
    ([[1]], 3),
    ([1.9, 0.2], 3),  # floats truncated
    (np.arange(7, dtype=np.uint8), None),
    ([0, 2], 0),  # 0 = infer, as in Keras
]


@needs_keras
@pytest.mark.parametrize("x, num_classes", _CAT_CASES)
def test_to_categorical_matches_keras(x, num_classes):
    _same(to_categorical(x, num_classes), keras.utils.to_categorical(x, num_classes))


def test_to_categorical_without_keras():
    out = to_categorical([0, 2], num_classes=3)
    assert out.dtype == np.float64 and out.tolist() == [[1, 0, 0], [0, 0, 1]]
    assert to_categorical([[1], [0]]).shape == (2, 2)
    assert to_categorical(np.zeros((2, 3), int), 4).shape == (2, 3, 4)
    t = to_categorical(torch.tensor([[1], [0]]), 3)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.tolist() == [[0, 1, 0], [1, 0, 0]]


@pytest.mark.parametrize(
    "x, n, err, text",
    [
        ([0, 3], 3, InputValueError, "class id 3 is outside [0, 3)"),
        ([0, -1], 3, InputValueError, "class id -1 is outside [0, 3)"),
        ([], None, InputValueError, "x is empty"),
        ([0, 1], -2, ConfigError, "num_classes must be an int >= 1 or None; found -2"),
        ([0, 1], 2.0, ConfigError, "num_classes must be an int"),
        ([[0, 1], [2]], None, InputValueError, "x must be an array of class ids"),
    ],
)
def test_to_categorical_errors(x, n, err, text):
    with pytest.raises(err) as info:
        to_categorical(x, n)
    assert text in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- TextVectorization
CORPUS = [
    "The cat sat on the mat.",
    "The dog ate my homework!",
    "A cat, a dog, and a bird?",
    "what's up_down DOG  dog\tdog",
    "Ünïcode Äpfel — über naïve café",
    "zebra apple mango zebra apple mango",
    "",
]
QUERIES = ["the cat and the zebra", "unknown words only", "", "DOG! dog? Dog.", "Äpfel über alles"]


def _keras_rule_vocabulary(texts, max_tokens=None, standardize="lower_and_strip_punctuation"):
    """Keras's vocabulary rule, written out with Keras's own sort (index_lookup.finalize_state)."""
    import re
    import string
    from collections import Counter

    counts = Counter()
    for t in texts:
        if standardize in ("lower", "lower_and_strip_punctuation"):
            t = "".join(c.lower() if c.isascii() else c for c in t)
        if standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            t = re.sub("[" + re.escape(string.punctuation) + "]", "", t)
        counts.update(re.split(r"[ \t\n\v\f\r]+", t))
    counts.pop("", None)
    tokens = np.array([k.encode() for k in counts], dtype=object)
    freq = np.array([counts[k] for k in counts])
    order = np.lexsort((tokens, freq))[::-1]
    if max_tokens:
        order = order[: max_tokens - 2]
    return ["", "[UNK]", *(tokens[i].decode() for i in order)]


@pytest.mark.parametrize("max_tokens", [None, 5, 9, 100])
@pytest.mark.parametrize("standardize", ["lower_and_strip_punctuation", "lower", None])
def test_text_vectorization_vocabulary_follows_keras_rule(max_tokens, standardize):
    v = TextVectorization(max_tokens=max_tokens, standardize=standardize)
    v.adapt(CORPUS)
    assert v.get_vocabulary() == _keras_rule_vocabulary(CORPUS, max_tokens, standardize)


def test_text_vectorization_outputs():
    v = TextVectorization()
    v.adapt(["the cat sat", "the dog"])
    assert v.get_vocabulary() == ["", "[UNK]", "the", "sat", "dog", "cat"]  # ties: reverse order, as Keras
    out = v(["the bird sat", "dog", ""])
    assert out.dtype == np.int64 and out.tolist() == [[2, 1, 3], [4, 0, 0], [0, 0, 0]]
    assert v([""]).shape == (1, 0)
    fixed = TextVectorization(output_sequence_length=2, vocabulary=["the", "cat"])
    assert fixed.get_vocabulary() == ["", "[UNK]", "the", "cat"]
    assert fixed(["the cat the", "cat"]).tolist() == [[2, 3], [3, 0]]
    assert fixed(np.array([["the"], ["x"]])).tolist() == [[2, 0], [1, 0]]
    chars = TextVectorization(split="character", standardize=None)
    chars.adapt(["abba", "Ab"])
    assert chars.get_vocabulary() == ["", "[UNK]", "b", "a", "A"]
    assert chars(["bAx"]).tolist() == [[2, 4, 1]]
    # Keras strips ASCII punctuation only and lowercases ASCII only
    ascii_only = TextVectorization()
    ascii_only.adapt(["Ünï—code WHAT's"])
    assert ascii_only.get_vocabulary() == ["", "[UNK]", "Ünï—code", "whats"]


def test_text_vectorization_matches_keras_layer():
    why = _keras_text_vectorization_works()
    if why:
        pytest.skip(why)
    for kw in (dict(), dict(max_tokens=8), dict(output_sequence_length=4), dict(standardize="lower")):
        ours = TextVectorization(**kw)
        theirs = keras.layers.TextVectorization(**kw)
        ours.adapt(CORPUS)
        theirs.adapt(CORPUS)
        assert ours.get_vocabulary() == theirs.get_vocabulary()
        np.testing.assert_array_equal(ours(QUERIES), np.asarray(keras.ops.convert_to_numpy(theirs(QUERIES))))


@pytest.mark.parametrize(
    "kwargs, err, text",
    [
        (dict(output_mode="multi_hot"), ConfigError, "output_mode 'multi_hot' is not supported; only 'int' is"),
        (dict(max_tokens=2), ConfigError, "max_tokens must be an int >= 3"),
        (dict(output_sequence_length=0), ConfigError, "output_sequence_length must be an int >= 1 or None"),
        (dict(standardize="upper"), ConfigError, "standardize must be one of"),
        (dict(split="comma"), ConfigError, "split must be one of"),
        (dict(vocabulary=["a", "a"]), ConfigError, "duplicate token 'a'"),
        (dict(vocabulary=["a", "b", "c"], max_tokens=4), ConfigError, "has 5 entries"),
    ],
)
def test_text_vectorization_config_errors(kwargs, err, text):
    with pytest.raises(err) as info:
        TextVectorization(**kwargs)
    assert text in str(info.value) and "\n" not in str(info.value)


def test_text_vectorization_input_errors():
    v = TextVectorization()
    with pytest.raises(ConfigError, match="call adapt"):
        v(["a"])
    with pytest.raises(InputValueError, match="found one string"):
        v.adapt("a b c")
    with pytest.raises(InputValueError, match="found int at index 1"):
        v.adapt(["a", 3])
