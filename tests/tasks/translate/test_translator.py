"""``Translator`` and ``lstmkit translate`` (issue 20) on a slice of the real English-Spanish pairs, at tiny size.

A model of a few thousand weights trained for a few seconds cannot translate; these tests check the
plumbing and the contracts: the hash split, subwords kept in the file, save/load giving the same
translations, evaluation through sacrebleu with signatures, the alignment picture, the baselines, both
directions, and every bad input as one line (exit 2 in the CLI).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cli_checks import fails, runner
from lstmkit.cli import app
from lstmkit.errors import InputValueError, ModelFileError

pytest.importorskip("sentencepiece", reason="needs lstmkit[translate] (sentencepiece)")
pytest.importorskip("sacrebleu", reason="needs lstmkit[translate] (sacrebleu)")

TINY = dict(vocab_size=400, emb=16, hidden=16, eval_every=5, eval_sentences=20, batch_tokens=512, dropout=0.0)


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory) -> Path:
    from conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    lines = (SHARED_DATA / "anki_spa_eng" / "spa.tsv").read_text(encoding="utf-8").splitlines()
    path = tmp_path_factory.mktemp("mt") / "pairs.tsv"
    path.write_text("\n".join(lines[2000:6000:4]) + "\n", encoding="utf-8")  # 1,000 short real pairs
    return path


@pytest.fixture(scope="module")
def trained(pairs_file, tmp_path_factory):
    from lstmkit.tasks.translate import Translator

    torch.set_num_threads(1)
    tr = Translator(**TINY).fit(pairs_file, epochs=2)
    path = tmp_path_factory.mktemp("model") / "tr.lstmkit"
    tr.save(path)
    return tr, path


def test_split_keeps_english_sentences_apart_and_is_the_same_in_both_directions(pairs_file):
    from lstmkit.data import read_parallel_tsv
    from lstmkit.tasks.translate import Translator

    corpus = read_parallel_tsv(pairs_file)
    train, valid, test = Translator(src="en", tgt="es").split(corpus)
    assert len(train) + len(valid) + len(test) == len(corpus) and len(test) > 0
    assert not set(train.src) & set(test.src) and not set(valid.src) & set(test.src)
    _, _, test_back = Translator(src="es", tgt="en", split_key="en").split(corpus.reversed())
    assert test_back.tgt == test.src and test_back.src == test.tgt


def test_training_translating_saving_and_loading(trained, tmp_path):
    import lstmkit
    from lstmkit.tasks.translate import Translator

    tr, path = trained
    assert tr.history_ and "val_loss" in tr.history_[-1] and "val_bleu" in tr.history_[-1]
    out = tr.translate(["How are you?", "I like cats."], beam=3)
    assert len(out) == 2 and all(isinstance(s, str) for s in out)
    assert isinstance(tr.translate("Hello.", beam=1), str)
    again = Translator.load(path)
    assert again.translate(["How are you?", "I like cats."], beam=3) == out
    assert type(lstmkit.load(path)).__name__ == "Translator"
    assert "CC-BY 2.0" in again.attribution_ and "tatoeba.org" in again.attribution_
    # the tokenizers travel inside the file and round-trip text exactly
    s = "¿Qué  tal, Mr. O'Neil?"
    assert again.src_tok_.decode(again.src_tok_.encode([s]))[0] == s


def test_evaluate_reports_sacrebleu_scores_with_signatures(trained, pairs_file):
    tr, _ = trained
    r = tr.evaluate(pairs_file, split="test", beam=2)
    assert r["bleu_signature"].startswith("nrefs:1|case:mixed") and "version:" in r["chrf_signature"]
    assert r["bleu_multi_reference_signature"].startswith("nrefs:")
    assert 0.0 <= r["bleu"] <= 100.0 and 0.0 <= r["chrf"] <= 100.0 and r["sentences"] == len(r["hypotheses"])
    import sacrebleu

    assert r["bleu"] == pytest.approx(sacrebleu.corpus_bleu(r["hypotheses"], [r["references"]]).score)


def test_alignment_picture(trained, tmp_path):
    tr, _ = trained
    src, tgt, w = tr.alignment("How are you?")
    assert w.shape == (len(tgt), len(src)) and np.allclose(w.sum(1), 1.0, atol=1e-5)
    png = tr.plot_alignment("How are you?", tmp_path / "a.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_baselines_and_other_directions(pairs_file):
    from lstmkit.data import read_parallel_tsv
    from lstmkit.tasks.translate import Translator

    corpus = read_parallel_tsv(pairs_file)
    copy = Translator(model="copy", vocab_size=400).fit(corpus)
    assert copy.translate(["Tom is here."]) == ["Tom is here."]
    es_en = Translator(src="es", tgt="en", model="transformer", d_model=16, heads=2, transformer_layers=1,
                       **{k: v for k, v in TINY.items() if k not in ("emb", "hidden")}).fit(corpus.reversed(), epochs=1)
    assert isinstance(es_en.translate("Hola."), str)
    none = Translator(attention="none", **TINY).fit(corpus, epochs=1)
    with pytest.raises(Exception, match="needs an LSTM with attention"):
        none.alignment("Hello.")


def test_bad_inputs_are_one_line(trained, tmp_path):
    from lstmkit.models import Sequential
    from lstmkit.layers import Dense
    from lstmkit.tasks.translate import Translator

    tr, path = trained
    with pytest.raises(InputValueError, match="empty"):
        tr.translate(["ok", "   "])
    with pytest.raises(InputValueError, match="the limit is 200"):
        tr.translate("word " * 400)
    other = tmp_path / "seq.lstmkit"
    Sequential([Dense(1, input_shape=(2,))]).save(other)
    with pytest.raises(ModelFileError, match="holds a Keras-style model .*not a translator"):
        Translator.load(other)


def test_cli_train_translate_evaluate_align(pairs_file, tmp_path):
    model = tmp_path / "m.lstmkit"
    result = runner.invoke(app, ["translate", "train", str(pairs_file), "--src", "en", "--tgt", "es", "-o", str(model),
                                 "--epochs", "1", "--vocab-size", "400", "--emb", "16", "--hidden", "16", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "model saved to" in result.output and "CC-BY 2.0" in result.output
    result = runner.invoke(app, ["translate", str(model), "How are you?", "--beam", "2"])
    assert result.exit_code == 0 and result.output.strip(), result.output
    sentences = tmp_path / "in.txt"
    sentences.write_text("Hello.\nThank you.\n", encoding="utf-8")
    result = runner.invoke(app, ["translate", str(model), "--input", str(sentences)])
    assert result.exit_code == 0 and len(result.output.strip().splitlines()) == 2, result.output
    result = runner.invoke(app, ["translate", "evaluate", str(model), str(pairs_file), "--split", "test", "--beam", "1"])
    assert result.exit_code == 0 and "BLEU" in result.output and "nrefs:1" in result.output, result.output
    result = runner.invoke(app, ["translate", "align", str(model), "How are you?", "-o", str(tmp_path / "a.png")])
    assert result.exit_code == 0 and (tmp_path / "a.png").exists(), result.output


def test_cli_trains_from_two_aligned_files(pairs_file, tmp_path):
    rows = [line.split("\t") for line in pairs_file.read_text(encoding="utf-8").splitlines()[:300]]
    (tmp_path / "en.txt").write_text("".join(r[0] + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "es.txt").write_text("".join(r[1] + "\n" for r in rows), encoding="utf-8")
    result = runner.invoke(app, ["translate", "train", str(tmp_path / "en.txt"), "--target-file", str(tmp_path / "es.txt"),
                                 "-o", str(tmp_path / "m.lstmkit"), "--epochs", "1", "--vocab-size", "400",
                                 "--emb", "8", "--hidden", "8", "--quiet"])
    assert result.exit_code == 0, result.output
    (tmp_path / "short.txt").write_text("Hola.\n", encoding="utf-8")
    fails(["translate", "train", str(tmp_path / "en.txt"), "--target-file", str(tmp_path / "short.txt"), "-o",
           str(tmp_path / "x.lstmkit")], "short.txt")


def test_cli_bad_inputs_exit_2_with_one_line(trained, tmp_path):
    _, model = trained
    bad = tmp_path / "bad.tsv"
    bad.write_text("Go.\tVe.\nOnly one column\n", encoding="utf-8")
    fails(["translate", "train", str(bad), "-o", str(tmp_path / "x.lstmkit")], "bad.tsv:2", "expected 2", "found 1")
    empty_line = tmp_path / "empty.tsv"
    empty_line.write_text("Go.\tVe.\n\nHi.\tHola.\n", encoding="utf-8")
    fails(["translate", "train", str(empty_line), "-o", str(tmp_path / "x.lstmkit")], "empty.tsv:2")
    latin = tmp_path / "latin.tsv"
    latin.write_bytes("Go.\tVé.\n".encode("latin-1"))
    fails(["translate", "train", str(latin), "-o", str(tmp_path / "x.lstmkit")], "UTF-8")
    fails(["translate", str(model), ""], "empty")
    fails(["translate", str(model), "word " * 400], "the limit is 200")
    lines = tmp_path / "lines.txt"
    lines.write_text("Hello.\n\nBye.\n", encoding="utf-8")
    fails(["translate", str(model), "--input", str(lines)], "line 2", "empty line")
    fails(["translate", str(tmp_path / "missing.lstmkit"), "Hi."], "missing.lstmkit")
    fails(["translate", "train", str(bad), "-o", str(tmp_path / "x.lstmkit"), "--columns", "1"], "--columns")
