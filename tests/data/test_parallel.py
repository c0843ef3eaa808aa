"""Parallel corpora: readers keep sentences exact, every bad file is one DataError naming file:line,
and the hash split is deterministic, disjoint and independent of line order."""

from __future__ import annotations

import random

import pytest

from lstmkit.data.parallel import (
    ParallelCorpus,
    attribution_note,
    hash_fraction,
    read_parallel_files,
    read_parallel_tsv,
    split_by_source_hash,
)
from lstmkit.errors import ConfigError, DataError, InputValueError

SPA = ("anki_spa_eng", "spa.tsv")


def _raises_one_line(exc, fn, *args, **kwargs) -> str:
    with pytest.raises(exc) as e:
        fn(*args, **kwargs)
    msg = str(e.value)
    assert "\n" not in msg and msg.strip() == msg and msg
    return msg


@pytest.fixture
def spa_head(tmp_path, shared_data):
    """The first 400 lines of spa.tsv, byte for byte."""
    src = shared_data.joinpath(*SPA)
    if not src.is_file():
        pytest.skip(f"{src} not found")
    with src.open("rb") as f:
        head = b"".join(f.readline() for _ in range(400))
    p = tmp_path / "spa_head.tsv"
    p.write_bytes(head)
    return p


# ----------------------------------------------------------------------------- reading: good files


def test_tsv_default_columns_and_third_column_as_attribution(tmp_path):
    p = tmp_path / "a.tsv"
    p.write_bytes("Go.\tVe.\tCC-BY x\nHi.\tHola.\tCC-BY y\n".encode())
    c = read_parallel_tsv(p)
    assert c.src == ["Go.", "Hi."] and c.tgt == ["Ve.", "Hola."]
    assert c.attribution == ["CC-BY x", "CC-BY y"]
    assert c.source == str(p) and len(c) == 2


def test_tsv_keeps_text_exact_and_strips_only_the_newline(tmp_path):
    p = tmp_path / "exact.tsv"
    rows = ["  Two  spaces ,\t¿Qué  tal?  ", "naïve Mr. O'Neil's 3.5%\tEl 😀\u00a0ok\u2028x"]
    p.write_bytes(("\r\n".join(rows) + "\r\n").encode())  # CRLF endings
    c = read_parallel_tsv(p)
    assert c.src == ["  Two  spaces ,", "naïve Mr. O'Neil's 3.5%"]
    assert c.tgt == ["¿Qué  tal?  ", "El 😀\u00a0ok\u2028x"]  # U+2028 is no line break here
    assert c.attribution is None


def test_tsv_last_line_without_newline_and_bom(tmp_path):
    p = tmp_path / "bom.tsv"
    p.write_bytes(b"\xef\xbb\xbfa\tb\nc\td")
    c = read_parallel_tsv(p)
    assert c.src == ["a", "c"] and c.tgt == ["b", "d"]


def test_tsv_chosen_columns(tmp_path):
    p = tmp_path / "four.tsv"
    p.write_text("id1\tHola.\tHello.\tnote1\nid2\tAdiós.\tBye.\tnote2\n", encoding="utf-8")
    c = read_parallel_tsv(p, src_col=3, tgt_col=2, attribution_col=4)
    assert c.src == ["Hello.", "Bye."] and c.tgt == ["Hola.", "Adiós."] and c.attribution == ["note1", "note2"]
    # four columns: no attribution unless asked
    assert read_parallel_tsv(p, src_col=3, tgt_col=2).attribution is None
    # three columns with the third used as the target: no default attribution
    p3 = tmp_path / "three.tsv"
    p3.write_text("x\ta\tb\n", encoding="utf-8")
    c3 = read_parallel_tsv(p3, src_col=2, tgt_col=3)
    assert (c3.src, c3.tgt, c3.attribution) == (["a"], ["b"], None)


def test_tsv_on_the_real_file_head(spa_head):
    c = read_parallel_tsv(spa_head)
    assert len(c) == 400
    assert (c.src[0], c.tgt[0]) == ("Go.", "Ve.")
    assert c.attribution[0] == "CC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #4986655 (cueyayotl)"
    assert all(a.startswith("CC-BY 2.0 (France) Attribution: tatoeba.org #") for a in c.attribution)
    assert read_parallel_tsv(spa_head, expected_columns=3).src == c.src
    note = attribution_note(c)
    assert "CC-BY 2.0 (France)" in note and "www.manythings.org/anki" in note and "tatoeba.org" in note
    assert str(spa_head) in note and "\n" not in note


def test_two_files(tmp_path):
    en, es = tmp_path / "t.en", tmp_path / "t.es"
    en.write_text("Go.\nHi  there.\r\n", encoding="utf-8")
    es.write_text("Ve.\nHola\tallí.\n", encoding="utf-8")
    c = read_parallel_files(en, es)
    assert c.src == ["Go.", "Hi  there."] and c.tgt == ["Ve.", "Hola\tallí."]
    assert c.attribution is None and c.source == f"{en} + {es}"
    note = attribution_note(c)
    assert str(en) in note and str(es) in note and "license" in note


# ----------------------------------------------------------------------------- reading: bad files


def test_wrong_column_count_names_line_expected_and_found(tmp_path):
    p = tmp_path / "bad.tsv"
    p.write_text("a\tb\tc\nd\te\tf\ng\th\n", encoding="utf-8")
    msg = _raises_one_line(DataError, read_parallel_tsv, p)
    assert msg.startswith(f"{p}:3:") and "expected 3 tab-separated columns (as on line 1), found 2" in msg
    p.write_text("a\tb\nc\td\n", encoding="utf-8")
    msg = _raises_one_line(DataError, read_parallel_tsv, p, expected_columns=3)
    assert msg.startswith(f"{p}:1:") and "expected 3 tab-separated columns, found 2" in msg


def test_column_beyond_the_file(tmp_path):
    p = tmp_path / "two.tsv"
    p.write_text("a\tb\n", encoding="utf-8")
    msg = _raises_one_line(DataError, read_parallel_tsv, p, src_col=1, tgt_col=3)
    assert msg.startswith(f"{p}:1:") and "tgt_col=3" in msg and "2 tab-separated columns" in msg


@pytest.mark.parametrize(
    "content, line, expected",
    [
        ("a\tb\n\nc\td\n", 2, "empty line"),
        ("a\tb\n   \nc\td\n", 2, "empty line"),
        ("a\tb\nc\td\n\n", 3, "empty line"),
        ("\na\tb\n", 1, "empty line"),
        ("a\tb\n\td\n", 2, "column 1 (source) is empty; expected a sentence"),
        ("a\tb\nc\t  \n", 2, "column 2 (target) is whitespace only; expected a sentence"),
    ],
)
def test_empty_lines_and_sentences(tmp_path, content, line, expected):
    p = tmp_path / "e.tsv"
    p.write_text(content, encoding="utf-8")
    msg = _raises_one_line(DataError, read_parallel_tsv, p)
    assert msg.startswith(f"{p}:{line}:") and expected in msg


def test_empty_attribution_cell_is_allowed(tmp_path):
    p = tmp_path / "a.tsv"
    p.write_text("a\tb\t\nc\td\tnote\n", encoding="utf-8")
    assert read_parallel_tsv(p).attribution == ["", "note"]


def test_not_utf8_names_line_and_byte_offset(tmp_path):
    p = tmp_path / "latin.tsv"
    p.write_bytes(b"Go.\tVe.\nCoffee.\tCaf\xe9.\n")
    msg = _raises_one_line(DataError, read_parallel_tsv, p)
    assert msg.startswith(f"{p}:2:") and "not valid UTF-8 at byte offset 19 (byte 0xe9)" in msg
    en = tmp_path / "ok.en"
    en.write_text("a\nb\n", encoding="utf-8")
    msg = _raises_one_line(DataError, read_parallel_files, en, p)
    assert msg.startswith(f"{p}:2:") and "byte offset 19" in msg


@pytest.mark.parametrize("content", [b"", b"\n", b"  \n\n"])
def test_empty_file(tmp_path, content):
    p = tmp_path / "empty.tsv"
    p.write_bytes(content)
    msg = _raises_one_line(DataError, read_parallel_tsv, p)
    assert msg == f"parallel file is empty: {p}"
    other = tmp_path / "x.es"
    other.write_text("x\n", encoding="utf-8")
    assert _raises_one_line(DataError, read_parallel_files, p, other) == f"source file is empty: {p}"


def test_missing_file_and_directory(tmp_path):
    assert _raises_one_line(DataError, read_parallel_tsv, tmp_path / "nope.tsv") == (
        f"parallel file not found: {tmp_path / 'nope.tsv'}"
    )
    assert "is a directory" in _raises_one_line(DataError, read_parallel_tsv, tmp_path)
    en = tmp_path / "a.en"
    en.write_text("a\n", encoding="utf-8")
    msg = _raises_one_line(DataError, read_parallel_files, en, tmp_path / "a.es")
    assert msg == f"target file not found: {tmp_path / 'a.es'}"


def test_two_files_of_different_lengths(tmp_path):
    en, es = tmp_path / "t.en", tmp_path / "t.es"
    en.write_text("a\nb\nc\n", encoding="utf-8")
    es.write_text("x\ny\n", encoding="utf-8")
    msg = _raises_one_line(DataError, read_parallel_files, en, es)
    assert msg.startswith(f"{es}:3: file ends after 2 lines but {en} has 3")
    assert "expected the same number of lines" in msg
    msg = _raises_one_line(DataError, read_parallel_files, es, en)
    assert msg.startswith(f"{es}:3: file ends after 2 lines but {en} has 3")


def test_two_files_with_an_empty_line(tmp_path):
    en, es = tmp_path / "t.en", tmp_path / "t.es"
    en.write_text("a\nb\n", encoding="utf-8")
    es.write_text("x\n \n", encoding="utf-8")
    msg = _raises_one_line(DataError, read_parallel_files, en, es)
    assert msg.startswith(f"{es}:2: line is whitespace only; expected a sentence") and f"{en}:2" in msg


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"src_col": 0}, "src_col must be an int >= 1"),
        ({"tgt_col": "2"}, "tgt_col must be an int >= 1"),
        ({"src_col": 2, "tgt_col": 2}, "src_col and tgt_col must differ"),
        ({"attribution_col": 1}, "attribution_col=1 is also the source or target column"),
        ({"expected_columns": True}, "expected_columns must be an int >= 1"),
    ],
)
def test_bad_column_arguments(tmp_path, kwargs, expected):
    p = tmp_path / "a.tsv"
    p.write_text("a\tb\n", encoding="utf-8")
    assert expected in _raises_one_line(ConfigError, read_parallel_tsv, p, **kwargs)


# ----------------------------------------------------------------------------- the corpus object


def test_corpus_reversed_and_subset():
    c = ParallelCorpus(["a", "b", "c"], ["x", "y", "z"], ["1", "2", "3"], "toy")
    r = c.reversed()
    assert (r.src, r.tgt, r.attribution, r.source) == (["x", "y", "z"], ["a", "b", "c"], ["1", "2", "3"], "toy")
    assert r.reversed() == c
    s = c.subset([2, 0])
    assert (s.src, s.tgt, s.attribution) == (["c", "a"], ["z", "x"], ["3", "1"])


def test_corpus_checks_lengths():
    assert "src has 2 sentences but tgt has 1" in _raises_one_line(InputValueError, ParallelCorpus, ["a", "b"], ["x"])
    msg = _raises_one_line(InputValueError, ParallelCorpus, ["a"], ["x"], ["1", "2"])
    assert "attribution has 2 entries but there are 1 pairs" in msg
    assert "must be a list of strings" in _raises_one_line(InputValueError, ParallelCorpus, "ab", ["x", "y"])


# ----------------------------------------------------------------------------- the split


def _toy_corpus(n: int = 3000, seed: int = 0) -> ParallelCorpus:
    """Pairs with duplicated sources (one source, several translations), like the Tatoeba data."""
    rng = random.Random(seed)
    src, tgt = [], []
    for i in range(n):
        k = rng.randrange(n // 3)
        src.append(f"sentence number {k}.")
        tgt.append(f"frase {k} variante {i}.")
    return ParallelCorpus(src, tgt, [f"#{i}" for i in range(n)], "toy")


def test_hash_fraction_is_the_documented_formula():
    import hashlib

    s = "¿Qué?"
    expected = int.from_bytes(hashlib.sha256(s.encode("utf-8")).digest()[:8], "big") / 2**64
    assert hash_fraction(s) == expected and 0.0 <= expected < 1.0
    assert hash_fraction("Go.") != hash_fraction("Go. ")


def test_split_is_disjoint_complete_and_keeps_duplicates_together():
    c = _toy_corpus()
    train, valid, test = split_by_source_hash(c, valid=0.1, test=0.1)
    assert len(train) + len(valid) + len(test) == len(c)
    ids = [set(p.attribution) for p in (train, valid, test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert set().union(*ids) == set(c.attribution)
    srcs = [set(p.src) for p in (train, valid, test)]
    assert not (srcs[0] & srcs[1] or srcs[0] & srcs[2] or srcs[1] & srcs[2])
    for part in (train, valid, test):  # pairs stay pairs, in corpus order
        idx = [int(a[1:]) for a in part.attribution]
        assert idx == sorted(idx)
        assert all(part.src[j] == c.src[i] and part.tgt[j] == c.tgt[i] for j, i in enumerate(idx))
    # sizes near the fractions (1,000 distinct sources: about 100 each, by sentences)
    n_src = len(set(c.src))
    assert 0.06 * n_src < len(srcs[1]) < 0.14 * n_src and 0.06 * n_src < len(srcs[2]) < 0.14 * n_src


def test_split_is_deterministic_and_independent_of_line_order():
    c = _toy_corpus()
    a = split_by_source_hash(c)
    assert split_by_source_hash(c) == a and c.split() == a
    order = list(range(len(c)))
    random.Random(1).shuffle(order)
    shuffled = split_by_source_hash(c.subset(order))
    for x, y in zip(a, shuffled):
        assert sorted(zip(x.src, x.tgt, x.attribution)) == sorted(zip(y.src, y.tgt, y.attribution))


def test_split_same_sentences_in_both_directions():
    c = _toy_corpus()
    forward = split_by_source_hash(c, key="src")
    backward = split_by_source_hash(c.reversed(), key="tgt")
    assert [p.reversed() for p in backward] == list(forward)


def test_split_fractions_zero_and_bad_arguments():
    c = _toy_corpus(300)
    train, valid, test = split_by_source_hash(c, valid=0.0, test=0.0)
    assert len(train) == 300 and len(valid) == len(test) == 0
    assert "valid must be a fraction in [0, 1)" in _raises_one_line(ConfigError, split_by_source_hash, c, valid=1.5)
    assert "test must be a fraction" in _raises_one_line(ConfigError, split_by_source_hash, c, test=-0.1)
    assert "valid + test must be below 1" in _raises_one_line(ConfigError, split_by_source_hash, c, 0.5, 0.5)
    assert "key must be 'src' or 'tgt'" in _raises_one_line(ConfigError, split_by_source_hash, c, key="en")
    assert "expects a ParallelCorpus" in _raises_one_line(InputValueError, split_by_source_hash, [("a", "b")])


def test_split_on_the_real_file_head(spa_head):
    c = read_parallel_tsv(spa_head)
    train, valid, test = c.split(valid=0.2, test=0.2)
    assert len(train) + len(valid) + len(test) == 400
    assert not set(train.src) & set(test.src) and not set(train.src) & set(valid.src)
    for part, lo, hi in ((test, 0.0, 0.2), (valid, 0.2, 0.4), (train, 0.4, 1.0)):
        assert all(lo <= hash_fraction(s) < hi for s in part.src)
    assert attribution_note(train) == attribution_note(c)


def test_attribution_note_without_the_tatoeba_form():
    c = ParallelCorpus(["a"], ["b"], ["from my notebook"], "notes.tsv")
    assert attribution_note(c) == (
        "Data: notes.tsv. Attribution per pair in the file's attribution column, e.g. 'from my notebook'."
    )
    c = ParallelCorpus(["a"], ["b"], ["CC0 Attribution: example.org #1 (me)"], "x.tsv")
    assert attribution_note(c).startswith("Data: x.tsv. License: CC0. Attribution: example.org (")
