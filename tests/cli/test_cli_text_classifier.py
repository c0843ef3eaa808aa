"""``lstmkit text train-classifier | classify | evaluate`` end to end, and every bad input as one line + exit 2."""

from __future__ import annotations

import csv
import json
import random

import pytest
from typer.testing import CliRunner

from lstmkit.cli import app
from cli_checks import fails as _fails

runner = CliRunner()

CUES = {"pos": ["good", "great", "superb"], "neg": ["bad", "awful", "dull"]}
FILLER = ["the", "a", "film", "is", "was", "story"]
SMALL = ["--units", "16", "--embedding-dim", "16", "--max-length", "12", "--epochs", "30", "--batch-size", "8"]


def _rows(n, seed):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        y = "pos" if i % 2 else "neg"
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 6))]
        words.insert(rng.randint(0, len(words)), rng.choice(CUES[y]))
        rows.append({"text": " ".join(words), "label": y})
    return rows


def _write_csv(path, rows, fields=("text", "label")):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(fields)
        for r in rows:
            w.writerow([r["text"], r["label"]])
    return path


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path




@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    train = _write_csv(d / "train.csv", _rows(60, 0))
    valid = _write_jsonl(d / "valid.jsonl", _rows(20, 1))
    model = d / "m.lstmkit"
    result = runner.invoke(app, ["text", "train-classifier", str(train), "--valid", str(valid), "-o", str(model), *SMALL])
    assert result.exit_code == 0, result.output
    assert "model saved to" in result.stdout and model.is_file()
    return d, train, valid, model


def test_classify_text_and_file(trained):
    d, _, _, model = trained
    result = runner.invoke(app, ["text", "classify", str(model), "a great film"])
    assert result.exit_code == 0, result.output
    assert "pos" in result.stdout and "P(neg)" in result.stdout and "P(pos)" in result.stdout
    f = d / "lines.txt"
    f.write_text("a dull story\n\nthe film was superb\n")
    result = runner.invoke(app, ["text", "classify", str(model), "--file", str(f)])
    assert result.exit_code == 0, result.output
    assert "a dull story" in result.stdout and "the film was superb" in result.stdout


def test_evaluate_with_and_without_baseline(trained):
    d, train, valid, model = trained
    result = runner.invoke(app, ["text", "evaluate", str(model), str(valid)])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.stdout and "macro-F1" in result.stdout and "confusion matrix" in result.stdout
    assert "pass --train" in result.stdout
    result = runner.invoke(app, ["text", "evaluate", str(model), str(valid), "--train", str(train)])
    assert result.exit_code == 0, result.output
    assert "TF-IDF + LR" in result.stdout


def test_train_from_a_class_folder(tmp_path):
    for i, r in enumerate(_rows(30, 2)):
        (tmp_path / "data" / r["label"]).mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / r["label"] / f"{i}.txt").write_text(r["text"])
    result = runner.invoke(app, ["text", "train-classifier", str(tmp_path / "data"), "-o", str(tmp_path / "m.lstmkit"),
                                 "--epochs", "1", "--units", "4", "--embedding-dim", "4"])
    assert result.exit_code == 0, result.output
    assert "labels: neg, pos" in result.stdout


# ------------------------------------------------------------------------------------- bad input
def test_missing_data_file(tmp_path):
    _fails(["text", "train-classifier", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "m.lstmkit")], "not found", "nope.csv")


def test_empty_data_file(tmp_path):
    (tmp_path / "e.jsonl").write_text("")
    _fails(["text", "train-classifier", str(tmp_path / "e.jsonl"), "-o", str(tmp_path / "m.lstmkit")], "empty")


def test_missing_text_field_lists_fields(tmp_path):
    p = _write_csv(tmp_path / "t.csv", _rows(4, 0), fields=("review", "label"))
    _fails(["text", "train-classifier", str(p), "-o", str(tmp_path / "m.lstmkit")], "missing field 'text'", "'review', 'label'")


def test_missing_label_field_lists_fields(tmp_path):
    p = _write_jsonl(tmp_path / "t.jsonl", _rows(4, 0))
    _fails(["text", "train-classifier", str(p), "--label-field", "y", "-o", str(tmp_path / "m.lstmkit")],
           "missing field 'y'", "'text', 'label'")


def test_single_class(tmp_path):
    rows = [dict(r, label="pos") for r in _rows(4, 0)]
    p = _write_csv(tmp_path / "one.csv", rows)
    _fails(["text", "train-classifier", str(p), "-o", str(tmp_path / "m.lstmkit")], "single class", "'pos'")


def test_undecodable_bytes(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes(b"text,label\ncaf\xe9 good,pos\nbad,neg\n")
    _fails(["text", "train-classifier", str(p), "-o", str(tmp_path / "m.lstmkit")], "latin.csv", "byte offset 14", "--encoding")


def test_wrong_kind_of_model_file(tmp_path):
    from lstmkit.tasks.text.sentiment import build_model

    model = build_model(20, embedding_dim=4, units=4)
    model.preprocessing = {"task": "sentiment", "labels": ["negative", "positive"], "vectorizer": {}}
    model.save(tmp_path / "s.lstmkit")
    _fails(["text", "classify", str(tmp_path / "s.lstmkit"), "hello"], "sentiment demo's model", "not a text classifier")
    _fails(["text", "evaluate", str(tmp_path / "s.lstmkit"), str(_write_csv(tmp_path / "t.csv", _rows(4, 0)))],
           "not a text classifier")


def test_language_model_file(tmp_path):
    import torch

    from lstmkit.models.serialization import save_tensors

    save_tensors(tmp_path / "lm.lstmkit", {"w": torch.zeros(2)}, {"vocabulary": "{}"}, kind="language_model")
    _fails(["text", "classify", str(tmp_path / "lm.lstmkit"), "hello"], "a language model, not a text classifier; use it with lstmkit text generate")


def test_missing_model_file(tmp_path):
    _fails(["text", "classify", str(tmp_path / "none.lstmkit"), "hello"], "not found")


def test_not_a_model_file(tmp_path):
    p = tmp_path / "junk.lstmkit"
    p.write_bytes(b"not a model at all")
    _fails(["text", "classify", str(p), "hello"], "junk.lstmkit")


def test_classify_needs_text_or_file(trained):
    _, _, _, model = trained
    _fails(["text", "classify", str(model)], "TEXT argument or --file")


def test_evaluate_labels_unknown_to_the_model(trained, tmp_path):
    _, _, _, model = trained
    rows = [dict(r, label="meh") for r in _rows(4, 0)]
    _fails(["text", "evaluate", str(model), str(_write_csv(tmp_path / "t.csv", rows))], "meh", "not among the model's labels")


def test_bad_option_value(tmp_path):
    p = _write_csv(tmp_path / "t.csv", _rows(4, 0))
    _fails(["text", "train-classifier", str(p), "-o", str(tmp_path / "m.lstmkit"), "--level", "sentence"], "level must be one of")


# ------------------------------------------------------------------------- --nproc / --precision
@pytest.mark.parametrize("bad", ["0", "abc", "65"])
def test_bad_nproc_is_one_line(tmp_path, bad):
    p = _write_csv(tmp_path / "t.csv", _rows(4, 0))
    _fails(["text", "train-classifier", str(p), "-o", str(tmp_path / "m.lstmkit"), "--nproc", bad],
           f"--nproc: expected an integer from 1 to 64, found {bad if bad.isdigit() else repr(bad)}")
    assert not (tmp_path / "m.lstmkit").exists()


def test_bad_precision_is_one_line(tmp_path):
    from lstmkit.train.precision import bf16_available

    p = _write_csv(tmp_path / "t.csv", _rows(4, 0))
    args = ["text", "train-classifier", str(p), "-o", str(tmp_path / "m.lstmkit")]
    _fails([*args, "--precision", "fp16"], "precision: expected 'fp32', 'bf16' or 'auto', found 'fp16'")
    if not bf16_available("cpu"):
        _fails([*args, "--precision", "bf16", "--nproc", "2"], "precision 'bf16'", "no bfloat16 matrix units")


def test_precision_auto_trains(tmp_path):
    p = _write_csv(tmp_path / "t.csv", _rows(20, 0))
    result = runner.invoke(app, ["text", "train-classifier", str(p), "-o", str(tmp_path / "m.lstmkit"), "--epochs", "1",
                                 "--units", "4", "--embedding-dim", "4", "--precision", "auto", "--nproc", "1"])
    assert result.exit_code == 0, result.output
    assert "model saved to" in result.stdout and "processes" not in result.stdout


def test_classify_an_empty_text_is_one_line(trained):
    _, _, _, model = trained
    _fails(["text", "classify", str(model), ""], "TEXT: the text is empty")
    _fails(["text", "classify", str(model), "   "], "TEXT: the text is empty")


def test_two_processes_train_the_one_process_model(tmp_path, shared_data):
    """A real 2-process run (torchrun, gloo) on 40 reviews: rank 0 alone prints and saves, and the model
    equals the 1-process one up to float rounding (same global batches)."""
    import os
    import subprocess
    import sys

    import numpy as np

    from lstmkit.tasks.text.classifier import TextClassifier

    recs = [json.loads(line) for line in (shared_data / "movie_review_polarity" / "train.jsonl").read_text().splitlines()]
    pos = [r for r in recs if r["label"] == 1][:20]
    neg = [r for r in recs if r["label"] == 0][:20]
    data = _write_jsonl(tmp_path / "reviews.jsonl", [r for pair in zip(pos, neg) for r in pair])
    # without dropout: each process draws its own dropout masks, so only then are the models the same
    tiny = ["--epochs", "1", "--units", "4", "--embedding-dim", "4", "--max-length", "30", "--max-tokens", "300",
            "--batch-size", "8", "--dropout", "0", "--embedding-dropout", "0"]
    two = tmp_path / "two.lstmkit"
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "TORCHELASTIC_RUN_ID")}
    proc = subprocess.run([sys.executable, "-m", "lstmkit", "text", "train-classifier", str(data), "-o", str(two),
                           "--nproc", "2", *tiny], capture_output=True, text=True, timeout=180,
                          env={**env, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert out.count("model saved to") == 1 and "2 processes" in out and out.count("training on 40 texts") == 1
    one = tmp_path / "one.lstmkit"
    result = runner.invoke(app, ["text", "train-classifier", str(data), "-o", str(one), *tiny])
    assert result.exit_code == 0, result.output
    texts = [r["text"] for r in pos[:3] + neg[:3]]
    np.testing.assert_allclose(TextClassifier.load(two).predict_proba(texts), TextClassifier.load(one).predict_proba(texts),
                               atol=1e-5)


# ------------------------------------------------------------------- data-aware defaults and parity
def _train_classifier_command():
    import typer

    group = typer.main.get_command(app)
    return group.commands["text"].commands["train-classifier"]


def test_every_estimator_parameter_is_an_option():
    from lstmkit.tasks.text.classifier import TextClassifier

    options = {p.name for p in _train_classifier_command().params}
    renamed = {"verbose": "quiet"}
    missing = [name for name in TextClassifier._PARAMS if renamed.get(name, name) not in options]
    assert missing == [], missing
    for option in ("valid_fraction", "valid", "nproc", "encoding"):
        assert option in options


def test_defaults_are_printed_then_one_line_per_epoch_and_the_epochs_kept(tmp_path):
    data = _write_csv(tmp_path / "t.csv", _rows(80, 0))
    result = runner.invoke(app, ["text", "train-classifier", str(data), "-o", str(tmp_path / "m.lstmkit"),
                                 "--units", "8", "--embedding-dim", "8", "--epochs", "3", "--pooling", "auto"])
    assert result.exit_code == 0, result.output
    err = result.stderr.splitlines()
    assert any(line.startswith("valid_fraction=0.2: 16 of 80 training texts held out") for line in err), err
    assert any(line.startswith("max_length=8: 95th percentile") for line in err)
    assert any(line.startswith("pooling=") and "bidirectional=" in line for line in err)
    # each candidate architecture's epochs are prefixed with it (here the choice used the whole budget)
    assert sum("epoch 3/3: loss " in line and "val_accuracy" in line for line in err) == 2
    assert not any(line.startswith("epochs=") for line in err)  # given
    out = result.stdout
    assert "held-out validation accuracy (20% of" in out and "epochs: 3 run, epoch" in out and " kept" in out
    from lstmkit.tasks.text.classifier import TextClassifier

    clf = TextClassifier.load(tmp_path / "m.lstmkit")
    assert clf.max_length_ == 8 and clf.valid_fraction_ == 0.2 and clf.epochs_ == 3


def test_every_option_reaches_the_model(tmp_path):
    from lstmkit.tasks.text.classifier import TextClassifier

    data = _write_csv(tmp_path / "t.csv", _rows(40, 0))
    args = ["text", "train-classifier", str(data), "-o", str(tmp_path / "m.lstmkit"), "--units", "6",
            "--embedding-dim", "5", "--epochs", "2", "--batch-size", "4", "--patience", "5", "--valid-fraction", "0.25",
            "--learning-rate", "0.01", "--clip-norm", "2.5", "--max-length", "9", "--max-tokens", "50",
            "--min-count", "2", "--pooling", "max", "--no-bidirectional", "--cell", "gru", "--dropout", "0.1",
            "--embedding-dropout", "0.2", "--truncation", "post", "--standardize", "lower", "--seed", "3",
            "--attention-units", "7", "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "valid_fraction=" not in result.stderr and "epoch 1/2" not in result.stderr
    p = TextClassifier.load(tmp_path / "m.lstmkit").get_params()
    expected = dict(units=6, embedding_dim=5, epochs=2, batch_size=4, patience=5, valid_fraction=0.25, learning_rate=0.01,
                    clip_norm=2.5, max_length=9, max_tokens=50, min_count=2, pooling="max", bidirectional=False,
                    cell="gru", dropout=0.1, embedding_dropout=0.2, truncation="post", standardize="lower", seed=3,
                    attention_units=7, verbose=False)
    assert {k: p[k] for k in expected} == expected


def test_valid_fraction_with_a_valid_file_is_one_line(tmp_path):
    data = _write_csv(tmp_path / "t.csv", _rows(20, 0))
    _fails(["text", "train-classifier", str(data), "--valid", str(data), "--valid-fraction", "0.2",
            "-o", str(tmp_path / "m.lstmkit")], "--valid-fraction: not used with --valid FILE")


@pytest.mark.parametrize("option, value, needle", [("--valid-fraction", "1.5", "valid_fraction must be None or a number in [0, 1)"),
                                                   ("--pooling", "sum", "pooling must be one of"),
                                                   ("--embedding-dropout", "1", "embedding_dropout must be a number in [0, 1)"),
                                                   ("--min-count", "0", "min_count must be an integer >= 1"),
                                                   ("--standardize", "upper", "standardize must be one of")])
def test_bad_new_option_values_are_one_line(tmp_path, option, value, needle):
    data = _write_csv(tmp_path / "t.csv", _rows(20, 0))
    _fails(["text", "train-classifier", str(data), "-o", str(tmp_path / "m.lstmkit"), option, value], needle)
    assert not (tmp_path / "m.lstmkit").exists()


def test_a_class_with_one_text_is_one_line(tmp_path):
    rows = _rows(20, 0) + [{"text": "a lone text", "label": "odd"}]
    data = _write_csv(tmp_path / "t.csv", rows)
    _fails(["text", "train-classifier", str(data), "-o", str(tmp_path / "m.lstmkit")],
           "class 'odd' has 1 sample(s)", "--valid-fraction 0")


def test_a_small_validation_split_prints_a_warning_line(tmp_path):
    data = _write_csv(tmp_path / "t.csv", _rows(30, 0))
    result = runner.invoke(app, ["text", "train-classifier", str(data), "-o", str(tmp_path / "m.lstmkit"), "--epochs", "1",
                                 "--units", "4", "--embedding-dim", "4", "--quiet"])
    assert result.exit_code == 0, result.output
    warnings_ = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert any("the validation set has 6 samples" in w for w in warnings_), result.stderr
    assert any("gradient steps, fewer than 300" in w for w in warnings_)
    assert all(line.startswith("warning: ") for line in result.stderr.splitlines())  # --quiet: nothing else
