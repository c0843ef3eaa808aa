"""SubwordTokenizer: exact round trip (real and tricky sentences), deterministic training, the
documented special ids, bytes round trip and one-line errors."""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest

pytest.importorskip("sentencepiece")

from conftest import SHARED_DATA  # noqa: E402  (../shared/data, as the shared_data fixture)

from lstmkit.data.parallel import read_parallel_tsv, split_by_source_hash  # noqa: E402
from lstmkit.data.subword import SubwordTokenizer, train_pair  # noqa: E402
from lstmkit.errors import ConfigError, InputValueError, ModelFileError  # noqa: E402

TRICKY = [
    "  double  spaces",
    " leading and trailing ",
    "¿Qué?",
    "naïve café",
    "Mr. O'Neil's 3.5%",
    "emoji 😀🎉 and 🇪🇸",
    "tab\there",
    "",
    " ",
    "e\u0301 (combining) vs é",
    "ﬁ ligature, Ｆｕｌｌ width, non\u00a0breaking",
    "ÑANDÚ ¡Ay! «comillas» — guion",
    "日本語のテキスト",
]


def _raises_one_line(exc, fn, *args, **kwargs) -> str:
    with pytest.raises(exc) as e:
        fn(*args, **kwargs)
    msg = str(e.value)
    assert msg and "\n" not in msg
    return msg


@pytest.fixture(scope="module")
def spa():
    """(train, held-out) sentence samples of both languages from the shared spa.tsv."""
    path = SHARED_DATA / "anki_spa_eng" / "spa.tsv"
    if not path.is_file():
        pytest.skip(f"shared data not found at {path}")
    corpus = read_parallel_tsv(path)
    train, _, test = split_by_source_hash(corpus)
    rng = random.Random(0)
    pick_train = rng.sample(range(len(train)), 4000)
    pick_test = rng.sample(range(len(test)), 2000)
    return train.subset(pick_train), test.subset(pick_test)


@pytest.fixture(scope="module")
def en_tok(spa):
    return SubwordTokenizer.train(spa[0].src, vocab_size=1000)


def test_round_trip_is_exact_on_real_sentences(spa, en_tok):
    train, held_out = spa
    es_tok = SubwordTokenizer.train(train.tgt, vocab_size=1000)
    for tok, sentences in ((en_tok, train.src + held_out.src), (es_tok, train.tgt + held_out.tgt)):
        ids = tok.encode(sentences)
        assert tok.decode(ids) == sentences
        assert all(0 <= i < tok.vocab_size for row in ids for i in row)
        assert all(tok.unk_id not in row for row in ids)  # byte fallback, never <unk>


def test_round_trip_is_exact_on_tricky_strings(en_tok):
    assert en_tok.decode(en_tok.encode(TRICKY)) == TRICKY
    assert en_tok.decode(en_tok.encode(TRICKY, add_bos=True, add_eos=True)) == TRICKY
    # characters never seen in training go through byte pieces
    assert en_tok.pieces("😀")[-4:] == ["<0xF0>", "<0x9F>", "<0x98>", "<0x80>"]


def test_documented_exception_u2581_decodes_as_space(en_tok):
    assert en_tok.decode(en_tok.encode(["a\u2581b"])) == ["a b"]


def test_special_ids_and_bos_eos(en_tok):
    tok = en_tok
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (0, 1, 2, 3)
    assert [tok.id_to_piece(i) for i in range(5)] == ["<pad>", "<unk>", "<s>", "</s>", "<0x00>"]
    assert tok.id_to_piece(259) == "<0xFF>"
    assert tok.vocab_size == 1000
    plain = tok.encode(["Go home."])[0]
    both = tok.encode(["Go home."], add_bos=True, add_eos=True)[0]
    assert both == [2, *plain, 3] and not {0, 2, 3} & set(plain)
    # pad, bos and eos are skipped wherever they are
    assert tok.decode([[2, *plain, 3, 0, 0], [0, 3]]) == ["Go home.", ""]
    assert tok.decode(np.array([[2, *plain, 3]])) == ["Go home."]
    assert tok.decode([]) == []


def test_pieces_labels(en_tok):
    pieces = en_tok.pieces("Go home.")
    assert "".join(pieces).replace("\u2581", " ") == " Go home."
    assert len(pieces) == len(en_tok.encode(["Go home."])[0])


def test_training_is_deterministic(spa):
    sentences = spa[0].tgt[:2000]
    a = SubwordTokenizer.train(sentences, vocab_size=600)
    b = SubwordTokenizer.train(list(sentences), vocab_size=600)
    assert a.to_bytes() == b.to_bytes()
    c = SubwordTokenizer.train(sentences, vocab_size=600, model_type="bpe")
    d = SubwordTokenizer.train(sentences, vocab_size=600, model_type="bpe")
    assert c.to_bytes() == d.to_bytes() != a.to_bytes()
    assert c.decode(c.encode(TRICKY + sentences[:200])) == TRICKY + sentences[:200]


def test_bytes_round_trip(en_tok):
    blob = en_tok.to_bytes()
    assert isinstance(blob, bytes) and len(blob) > 1000
    texts = TRICKY + ["I'm going home."]
    for data in (blob, bytearray(blob), memoryview(blob), np.frombuffer(blob, dtype=np.uint8)):
        again = SubwordTokenizer.from_bytes(data)
        assert again.to_bytes() == blob and again.vocab_size == en_tok.vocab_size
        assert again.encode(texts) == en_tok.encode(texts)
        assert again.pieces("Go home.") == en_tok.pieces("Go home.")


@pytest.mark.parametrize("garbage", [b"", b"\x00", b"garbage bytes here", b"\n\x00", b"\x12\x00"])
def test_from_bytes_of_garbage(garbage):
    msg = _raises_one_line(ModelFileError, SubwordTokenizer.from_bytes, garbage)
    assert "sentencepiece model" in msg


def test_from_bytes_of_wrong_types():
    assert "1-D uint8 array" in _raises_one_line(ModelFileError, SubwordTokenizer.from_bytes, "text")
    msg = _raises_one_line(ModelFileError, SubwordTokenizer.from_bytes, np.zeros(8, dtype=np.float32))
    assert "float32" in msg


def test_model_with_other_special_ids_is_refused():
    import io

    import sentencepiece as spm

    writer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(["hello world", "good bye"] * 10),
        model_writer=writer,
        vocab_size=15,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    msg = _raises_one_line(ModelFileError, SubwordTokenizer.from_bytes, writer.getvalue())
    assert "expected (0, 1, 2, 3)" in msg and "(-1, 0, 1, 2)" in msg


def test_vocab_size_too_large_or_too_small(spa):
    sentences = spa[0].src[:300]
    msg = _raises_one_line(ConfigError, SubwordTokenizer.train, sentences, vocab_size=8000)
    assert "vocab_size=8000 is too large" in msg and "the largest that works is" in msg
    largest = int(msg.split("the largest that works is ")[1].split(":")[0])
    assert SubwordTokenizer.train(sentences, vocab_size=largest).vocab_size == largest
    msg = _raises_one_line(ConfigError, SubwordTokenizer.train, sentences, vocab_size=100)
    assert "vocab_size=100 is too small: these sentences need at least" in msg


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"vocab_size": 0}, "vocab_size must be a positive int"),
        ({"vocab_size": 8.5}, "vocab_size must be a positive int"),
        ({"model_type": "word"}, "model_type must be 'unigram' or 'bpe'"),
        ({"character_coverage": 0.0}, "character_coverage must be in (0, 1]"),
        ({"seed": -1}, "seed must be an int >= 0"),
    ],
)
def test_bad_training_arguments(kwargs, expected):
    assert expected in _raises_one_line(ConfigError, SubwordTokenizer.train, ["a b c"], **kwargs)


def test_bad_inputs(en_tok):
    assert "wrap it: [text]" in _raises_one_line(InputValueError, en_tok.encode, "Go.")
    assert "found int at index 1" in _raises_one_line(InputValueError, en_tok.encode, ["Go.", 3])
    assert "lone surrogate" in _raises_one_line(InputValueError, en_tok.encode, ["ok", "bad \ud800"])
    assert "wrap it: [ids]" in _raises_one_line(InputValueError, en_tok.decode, [5, 6])
    msg = _raises_one_line(InputValueError, en_tok.decode, [[5], [6, 1000]])
    assert msg == "SubwordTokenizer.decode: id 1000 at row 1, position 1 out of range [0, 1000)"
    assert "out of range" in _raises_one_line(InputValueError, en_tok.decode, [[-1]])
    assert "expected an int id, found float" in _raises_one_line(InputValueError, en_tok.decode, [[5.0]])
    assert "all empty or whitespace" in _raises_one_line(InputValueError, SubwordTokenizer.train, ["", "  "])


def test_train_pair_separate_and_shared(spa):
    en, es = spa[0].src[:1500], spa[0].tgt[:1500]
    src_tok, tgt_tok = train_pair(en, es, vocab_size=700)
    assert src_tok is not tgt_tok and src_tok.vocab_size == tgt_tok.vocab_size == 700
    assert src_tok.to_bytes() == SubwordTokenizer.train(en, 700).to_bytes()
    assert tgt_tok.to_bytes() == SubwordTokenizer.train(es, 700).to_bytes()
    a, b = train_pair(en, es, vocab_size=900, shared=True)
    assert a is b and a.vocab_size == 900
    assert a.decode(a.encode(en[:100] + es[:100])) == en[:100] + es[:100]
    # the shared vocabulary holds pieces of both languages: Spanish encodes shorter than with English-only
    n_shared = sum(map(len, a.encode(es[:300])))
    n_english_only = sum(map(len, src_tok.encode(es[:300])))
    assert n_shared < n_english_only


def test_missing_sentencepiece_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentencepiece", None)
    msg = _raises_one_line(ConfigError, SubwordTokenizer.train, ["a b"], vocab_size=10)
    assert msg == "subword tokenization needs sentencepiece: pip install 'lstmkit[translate]'"
