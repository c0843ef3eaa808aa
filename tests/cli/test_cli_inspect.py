"""``lstmkit inspect MODEL INPUT --out DIR`` end to end (a smoke run in seconds), and bad input as one line + exit 2."""

from __future__ import annotations

import random

import pytest
from typer.testing import CliRunner

from lstmkit.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from lstmkit.tasks.text.classifier import TextClassifier

    rng = random.Random(0)
    texts = [" ".join(rng.choice(["a", "film", "plot", "was"]) for _ in range(4)) + (" good" if i % 2 else " bad")
             for i in range(30)]
    labels = ["pos" if i % 2 else "neg" for i in range(30)]
    d = tmp_path_factory.mktemp("cli-inspect")
    small = dict(units=6, embedding_dim=4, max_length=10, epochs=1, batch_size=16)
    return {
        "lstm": TextClassifier(**small).fit(texts, labels).save(d / "lstm.lstmkit"),
        "gru": TextClassifier(**small, cell="gru").fit(texts, labels).save(d / "gru.lstmkit"),
    }


def test_inspect_writes_the_heatmap_and_the_page(models, tmp_path):
    out = tmp_path / "figures"
    result = runner.invoke(app, ["inspect", str(models["lstm"]), "the plot was good", "--out", str(out), "--top", "3"])
    assert result.exit_code == 0, result.output
    assert (out / "gates.png").read_bytes()[:4] == b"\x89PNG"
    page = (out / "gates.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and '"steps":["the","plot","was","good"]' in page
    text = result.stdout
    assert "4 token step(s)" in text and "the 3 most active of 6 units" in text and "6 units, direction(s): forward" in text
    assert "forward: memory reset (f at least 0.1 below the unit's median)" in text
    assert "forward: memory written (i at least 0.1 above the unit's median)" in text
    assert f"wrote {out / 'gates.png'} and {out / 'gates.html'}" in " ".join(text.split())
    chosen = runner.invoke(app, ["inspect", str(models["lstm"]), "good", "-o", str(out), "--units", "5,0",
                                 "--events", "absolute", "--input-threshold", "0.3"])
    assert chosen.exit_code == 0 and "units: 5, 0 (chosen with --units)" in chosen.stdout
    assert "memory written (i > 0.3)" in chosen.stdout


def test_inspect_is_a_root_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "inspect" in result.stdout


@pytest.mark.parametrize("args, needle", [
    (["{gru}", "good", "--out", "{out}"], "no LSTM layer"),
    (["{lstm}", "", "--out", "{out}"], "the text is empty"),
    (["{lstm}", "good", "--out", "{out}", "--units", "2,99"], "valid indices are 0..5"),
    (["{lstm}", "good", "--out", "{out}", "--units", "2,x"], "comma-separated unit indices"),
    (["{lstm}", "good", "--out", "{out}", "--layer", "1"], "layer must be in 0"),
    (["{lstm}", "good", "--out", "{out}", "--forget-threshold", "1.5"], "strictly between 0 and 1"),
    (["{lstm}", "good", "--out", "{out}", "--events", "often"], "events must be one of relative, absolute"),
    (["{lstm}", "good", "--out", "{file}"], "expected a folder, found the file"),
    (["{missing}", "good", "--out", "{out}"], "not found"),
])
def test_bad_input_is_one_line_and_exit_2(models, tmp_path, args, needle):
    (tmp_path / "taken").write_text("x")
    paths = {"gru": models["gru"], "lstm": models["lstm"], "out": tmp_path / "o", "file": tmp_path / "taken",
             "missing": tmp_path / "nope.lstmkit"}
    result = runner.invoke(app, ["inspect", *(a.format(**paths) for a in args)])
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in result.output, err
    assert needle in err, err
