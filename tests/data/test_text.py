"""TextVectorizer: standardization, vocabulary, padding/truncation, config round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lstmkit.data import TextVectorizer
from lstmkit.errors import ConfigError, InputValueError, LstmkitError

TEXTS = ["The cat sat on the mat.", "The dog sat!", "A cat, a dog; the END"]


def test_standardize_lowercases_and_strips_punctuation():
    v = TextVectorizer()
    assert v.tokenize("Hello, World! It's  a_b — “quoted” (x)") == ["hello", "world", "its", "ab", "quoted", "x"]


def test_standardize_none_keeps_case_and_punctuation():
    v = TextVectorizer(standardize=None)
    assert v.tokenize("Hi, There") == ["Hi,", "There"]


def test_vocabulary_reserves_pad_and_oov_and_ranks_by_frequency():
    v = TextVectorizer().fit(TEXTS)
    vocab = v.get_vocabulary()
    assert vocab[:2] == ["", "[UNK]"]
    # the=4; a, cat, dog, sat=2 each (ties alphabetical); then the count-1 words alphabetically
    assert vocab[2:7] == ["the", "a", "cat", "dog", "sat"]
    assert vocab[7:] == ["end", "mat", "on"]
    assert v.vocabulary_size() == 10


def test_max_tokens_caps_vocabulary_including_reserved():
    v = TextVectorizer(max_tokens=4).fit(TEXTS)
    assert v.get_vocabulary() == ["", "[UNK]", "the", "a"]
    assert v(["the cat a"]).tolist() == [[2, 1, 3]]


def test_transform_returns_int64_and_maps_oov_to_1():
    v = TextVectorizer(output_sequence_length=5).fit(TEXTS)
    out = v(["the zebra sat", ""])
    assert out.dtype == np.int64 and out.shape == (2, 5)
    assert out.tolist() == [[2, 1, 6, 0, 0], [0, 0, 0, 0, 0]]
    assert np.array_equal(v.transform(["the zebra sat", ""]), out)


@pytest.mark.parametrize(
    ("padding", "truncation", "expected"),
    [
        ("post", "post", [[2, 4, 6], [3, 0, 0]]),
        ("pre", "post", [[2, 4, 6], [0, 0, 3]]),
        ("post", "pre", [[6, 8, 9], [3, 0, 0]]),
        ("pre", "pre", [[6, 8, 9], [0, 0, 3]]),
    ],
)
def test_padding_and_truncation_sides(padding, truncation, expected):
    v = TextVectorizer(output_sequence_length=3, padding=padding, truncation=truncation).fit(TEXTS)
    assert v(["the cat sat mat on", "a"]).tolist() == expected


def test_no_output_length_pads_to_longest_text():
    v = TextVectorizer().fit(TEXTS)
    assert v(["the", "the cat sat"]).tolist() == [[2, 0, 0], [2, 4, 6]]
    assert v([]).shape == (0, 1)


def test_fit_only_sees_training_texts():
    v = TextVectorizer().fit(["alpha beta"])
    v(["gamma delta"])  # transform must not grow the vocabulary
    assert v.get_vocabulary() == ["", "[UNK]", "alpha", "beta"]


def test_config_round_trips_through_json():
    v = TextVectorizer(max_tokens=6, output_sequence_length=4, padding="pre", truncation="pre").fit(TEXTS)
    cfg = json.loads(json.dumps(v.get_config()))
    w = TextVectorizer.from_config(cfg)
    assert w.get_config() == v.get_config()
    probe = ["The END of the cat", "unknown words only", ""]
    assert np.array_equal(w(probe), v(probe))


def test_unfitted_config_round_trips_and_refuses_transform():
    v = TextVectorizer.from_config(TextVectorizer(max_tokens=10).get_config())
    assert not v.is_fitted
    with pytest.raises(ConfigError, match="call fit"):
        v(["x"])


def test_from_config_rejects_bad_configs():
    good = TextVectorizer().fit(TEXTS).get_config()
    with pytest.raises(ConfigError, match="unknown keys"):
        TextVectorizer.from_config({**good, "lowercase": True})
    with pytest.raises(ConfigError, match="not 'TextVectorizer'"):
        TextVectorizer.from_config({**good, "class_name": "Other"})
    with pytest.raises(ConfigError, match="duplicate"):
        TextVectorizer.from_config({**good, "vocabulary": ["", "[UNK]", "a", "a"]})


def test_set_vocabulary_accepts_tokens_without_reserved():
    v = TextVectorizer(vocabulary=["x", "y"])
    assert v.get_vocabulary() == ["", "[UNK]", "x", "y"]
    assert v(["y x z"]).tolist() == [[3, 2, 1]]
    assert v.decode([3, 2, 1, 0]) == ["y", "x", "[UNK]"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_tokens": 2},
        {"max_tokens": 2.5},
        {"output_sequence_length": 0},
        {"padding": "left"},
        {"truncation": "start"},
        {"standardize": "upper"},
        {"split": "character-ish"},
    ],
)
def test_bad_arguments_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        TextVectorizer(**kwargs)


def test_bad_inputs_raise_input_value_error():
    v = TextVectorizer().fit(TEXTS)
    with pytest.raises(InputValueError, match="single str"):
        v("the cat")
    with pytest.raises(InputValueError, match="index 1"):
        v(["ok", 3])
    assert issubclass(InputValueError, LstmkitError)


def test_accepts_numpy_string_arrays():
    v = TextVectorizer().fit(np.array(TEXTS))
    assert v(np.array(["the cat"])).tolist() == [[2, 4]]


def test_vectorizer_from_config_dispatches_on_class_name():
    from lstmkit.data import vectorizer_from_config

    v = TextVectorizer(output_sequence_length=3).fit(TEXTS)
    w = vectorizer_from_config(v.get_config())
    assert type(w) is TextVectorizer and w.get_config() == v.get_config()
    with pytest.raises(ConfigError, match="unknown vectorizer class_name 'CharVectorizer'"):
        vectorizer_from_config({**v.get_config(), "class_name": "CharVectorizer"})


def test_character_level_round_trip():
    v = TextVectorizer(split="character", standardize=None).fit(["ROMEO: Hi\n"])
    assert v.level == "char"
    ids = v.encode("ROMEO: Hi!")
    assert v.decode(ids) == list("ROMEO: Hi") + ["[UNK]"]  # "!" was never seen
    again = TextVectorizer.from_config(v.get_config())
    assert again.level == "char" and again.encode("ROMEO: Hi!") == ids
