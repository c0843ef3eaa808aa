"""lstmkit.data.corpus: reading, tokenizing, vocabulary and TBPTT batches."""

from __future__ import annotations

import doctest

import pytest
import torch

from lstmkit.data import corpus
from lstmkit.data.corpus import EOS, Vocabulary, batchify, bptt_windows, tokenize
from lstmkit.errors import ConfigError, DataError


def test_doctests():
    result = doctest.testmod(corpus, verbose=False)
    assert result.failed == 0 and result.attempted > 0


def test_batchify_shapes_and_layout():
    data = torch.arange(103)
    b = batchify(data, 4)
    assert b.shape == (25, 4)
    # Column j is the j-th contiguous slice of the stream.
    assert b[:, 1].tolist() == list(range(25, 50))


def test_bptt_windows_cover_the_stream_with_shifted_targets():
    b = batchify(torch.arange(100), 4)  # (25, 4)
    windows = list(bptt_windows(b, 7))
    assert [x.shape[0] for x, _ in windows] == [7, 7, 7, 3]
    for x, y in windows:
        assert x.shape == y.shape and x.shape[1] == 4
        assert torch.equal(y, x + 1)  # targets are the next token of each stream
    assert torch.equal(torch.cat([x for x, _ in windows])[:, 0], torch.arange(24))


def test_batchify_too_few_tokens():
    with pytest.raises(DataError, match="streams"):
        batchify(torch.arange(5), 4)
    with pytest.raises(ConfigError, match="batch_size"):
        batchify(torch.arange(5), 0)


def test_word_tokens_end_lines_with_eos():
    assert tokenize(" a b <unk>\n c\n", "word") == ["a", "b", "<unk>", EOS, "c", EOS]
    assert tokenize("a b\nc", "word", final_eos=False) == ["a", "b", EOS, "c"]
    assert tokenize("ab\n", "char") == ["a", "b", "\n"]


def test_vocabulary_oov_and_round_trip():
    v = Vocabulary.build(tokenize("the cat the dog\n", "word"), "word")
    assert v.itos[:2] == ["<oov>", "the"]
    ids = v.encode(["the", "bird", EOS])
    assert ids[1] == 0 and v.unknown(["the", "bird"]) == ["bird"]
    assert Vocabulary.from_config(v.get_config()).itos == v.itos
    assert v.decode(v.encode(["the", "cat", EOS, "dog"])) == "the cat\ndog"
