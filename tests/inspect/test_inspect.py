"""Gate inspection: every model kind is traced on exactly what it reads (checked against the model's own
outputs), units and events follow their definitions, the page is self-contained and renders in Chromium."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import torch

from lstmkit.errors import ConfigError, DataError, InputValueError, ModelFileError, ShapeError
from lstmkit.inspect import (
    DirectionTrace, GateInspection, gate_events, heatmap_png, inspect_model, inspect_to_dir, parse_units,
    select_units, unit_activity,
)
from lstmkit.inspect.html import render_html

CUES = {"pos": ["good", "great", "superb"], "neg": ["bad", "awful", "dull"]}
FILLER = ["the", "a", "film", "is", "was", "story", "plot"]


def reviews(n, seed=0):
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        y = "pos" if i % 2 else "neg"
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 7))]
        words.insert(rng.randint(0, len(words)), rng.choice(CUES[y]))
        texts.append(" ".join(words))
        labels.append(y)
    return texts, labels


def hidden(direction, t):
    """h_t = o_t * tanh(c_t) rebuilt from a trace (no projection)."""
    return direction.output_gate[t] * np.tanh(direction.cell_state[t])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Tiny real models of every kind, saved, plus input files (a few seconds in all)."""
    from lstmkit.layers import LSTM, Bidirectional, Dense, Embedding
    from lstmkit.models import Sequential
    from lstmkit.tasks.timeseries.forecaster import Forecaster
    from lstmkit.tasks.text.language_model import LMConfig, train_language_model
    from lstmkit.tasks.sequences.classifier import SequenceClassifier
    from lstmkit.tasks.text.classifier import TextClassifier

    d = tmp_path_factory.mktemp("inspect")
    texts, labels = reviews(40)
    out = {}
    out["text"] = TextClassifier(units=6, embedding_dim=8, max_length=12, epochs=1, batch_size=16,
                                 bidirectional=True, pooling="last", embedding_dropout=0.0, dropout=0.0).fit(texts, labels).save(d / "text.lstmkit")
    out["gru"] = TextClassifier(units=4, embedding_dim=4, max_length=12, epochs=1, cell="gru").fit(texts, labels).save(d / "gru.lstmkit")
    corpus = d / "corpus.txt"
    corpus.write_text("the cat sat on the mat.\nthe dog sat on the log.\n" * 6)
    lm = LMConfig(level="char", layers=2, units=10, bptt=8, batch_size=4, epochs=1, dropout=0.0)
    out["lm"] = train_language_model(corpus, d / "lm.lstmkit", lm).output
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 9, 3)).astype(np.float32)
    y = np.array(["a", "b"] * 6)
    out["seq"] = SequenceClassifier(model="lstm", units=5, layers=2, bidirectional=True, epochs=1, validation_split=0.0).fit(
        list(x), list(y)).save(d / "seq.lstmkit")
    np.savez(d / "seqs.npz", x=x[:3], y=y[:3])
    out["seq_gru"] = SequenceClassifier(model="lstm", cell="gru", units=4, epochs=1, validation_split=0.0).fit(list(x), list(y)).save(d / "gru_seq.lstmkit")
    t = np.arange(200)
    df = pd.DataFrame({"a": np.sin(t / 4), "b": np.cos(t / 6), "c": rng.normal(size=200)},
                      index=pd.date_range("2024-01-01", periods=200, freq="h", name="time"))
    df.to_csv(d / "series.csv")
    out["fc"] = Forecaster(24, 6, ["a", "b"], ["c"], segment=6, units=8, epochs=1, batch_size=32).fit(df).save(d / "fc.lstmkit")
    ids = Sequential([Embedding(20, 4), LSTM(5)])
    ids.build((None, None))
    ids.save(d / "ids.lstmkit")
    out["ids"] = d / "ids.lstmkit"
    feats = Sequential([LSTM(4, return_sequences=True, input_shape=(None, 3)),
                        Bidirectional(LSTM(3, return_sequences=True)), LSTM(2, go_backwards=True), Dense(1)])
    feats.save(d / "feats.lstmkit")
    out["feats"] = d / "feats.lstmkit"
    np.save(d / "steps.npy", rng.normal(size=(7, 3)).astype(np.float32))
    out["dir"] = d
    return out


# ------------------------------------------------------------------------------------ every model kind
def test_text_classifier_both_directions_line_up_with_the_tokens(files):
    from lstmkit.models import load

    insp = inspect_model(files["text"], "The plot was GOOD, zebra!")
    assert insp.steps == ["the", "plot", "was", "good", "zebra"] and insp.text and insp.step_kind == "token"
    assert [d.name for d in insp.directions] == ["forward", "backward"] and insp.hidden_size == 6
    assert any("vocabulary" in n for n in insp.notes)  # "zebra" is unknown
    model = load(files["text"])
    from lstmkit.data.text import vectorizer_from_config

    ids = torch.tensor([vectorizer_from_config(model.preprocessing["vectorizer"]).encode("the plot was good zebra")])
    bi = model.layers[1]
    with torch.no_grad():
        emb = model.layers[0](ids)
        fwd, bwd = bi.forward_layer(emb)[0].numpy(), bi.backward_layer(emb)[0].numpy()
    # The forward direction ends at the last token, the backward one (stored in input order) at the first.
    assert np.allclose(hidden(insp.directions[0], -1), fwd, atol=1e-5)
    assert np.allclose(hidden(insp.directions[1], 0), bwd, atol=1e-5)
    for d in insp.directions:
        for q in ("forget_gate", "input_gate", "output_gate"):
            assert d.get(q).shape == (5, 6) and 0 < d.get(q).min() and d.get(q).max() < 1


def test_text_input_from_a_file_and_truncation_like_the_vectorizer(files):
    path = files["dir"] / "review.txt"
    path.write_text(" ".join(["film"] * 15 + ["good"]))
    insp = inspect_model(files["text"], str(path))
    assert insp.length == 12 and insp.steps[-1] == "good" and insp.source == str(path)  # truncation="pre": the last 12
    assert any("last 12" in n for n in insp.notes)
    assert inspect_model(files["text"], str(path), max_steps=5).length == 5


def test_language_model_top_layer_gives_the_model_logits(files):
    from lstmkit.tasks.text.language_model import load_language_model

    insp = inspect_model(files["lm"], "the cat\nsat", layer=1)
    assert insp.steps == list("the cat\nsat") and insp.joiner == "" and insp.layers == 2 and insp.layer == 1
    model, vocab, _, _ = load_language_model(files["lm"])
    ids = torch.tensor(vocab.encode(list("the cat\nsat"))).view(-1, 1)
    with torch.no_grad():
        logits, _ = model(ids)
        h = torch.tensor(np.stack([hidden(insp.directions[0], t) for t in range(insp.length)]), dtype=torch.float32)
        assert torch.allclose(model.decoder(h), logits[:, 0], atol=1e-4)


def test_sequence_classifier_second_layer_of_a_bidirectional_stack(files):
    from lstmkit.tasks.sequences.classifier import SequenceClassifier

    insp = inspect_model(files["seq"], str(files["dir"] / "seqs.npz"), layer=1, item=2)
    assert insp.length == 9 and insp.steps[:2] == ["0", "1"] and not insp.text and "sequence '2'" in insp.source
    clf = SequenceClassifier.load(files["seq"])
    x = np.load(files["dir"] / "seqs.npz")["x"][2]
    assert np.allclose(insp.signal, x[:, 0]) and insp.signal_name == "feature 0"  # drawn above the traces
    z = torch.from_numpy(clf.scaler_.transform(x)).unsqueeze(0)
    with torch.no_grad():
        _, (h_n, _) = clf.net_.rnn(z)
    assert np.allclose(hidden(insp.directions[0], -1), h_n[2, 0].numpy(), atol=1e-5)
    assert np.allclose(hidden(insp.directions[1], 0), h_n[3, 0].numpy(), atol=1e-5)


def test_forecaster_segments_of_one_target_channel(files):
    from lstmkit.tasks.timeseries.forecaster import Forecaster

    insp = inspect_model(files["fc"], str(files["dir"] / "series.csv"), target="b")
    assert insp.length == 4 and insp.step_kind == "segment end" and insp.steps[-1] == "2024-01-09 07:00"
    assert "'b'" in insp.model
    frame = pd.read_csv(files["dir"] / "series.csv", index_col="time")
    assert np.allclose(insp.signal, frame["b"].to_numpy()[-24:][5::6]) and insp.signal_name == "b at the segment end"
    fc = Forecaster.load(files["fc"])
    z = torch.from_numpy(fc.scaler_.transform(frame[fc.columns_].to_numpy()[-24:]).astype(np.float32))[None]
    with torch.no_grad():
        (h_T, _), _ = fc.network_.encode(z[..., :2], z[..., 2:])
    assert np.allclose(hidden(insp.directions[0], -1), h_T[-1, 1].numpy(), atol=1e-5)  # channel 1 = 'b'


def test_bare_keras_models_read_token_ids_or_arrays(files):
    from lstmkit.models import load

    insp = inspect_model(files["ids"], "3 1 4 1 5")
    assert insp.steps == ["3", "1", "4", "1", "5"] and insp.step_kind == "token id"
    model = load(files["feats"])
    x = torch.from_numpy(np.load(files["dir"] / "steps.npy"))[None]
    with torch.no_grad():
        h1 = model.layers[1](model.layers[0](x))
        last = model.layers[2](h1)[0].numpy()
    # layer 2 is LSTM(go_backwards=True): its trace is put back in input order, so it ends at step 0.
    insp = inspect_model(files["feats"], str(files["dir"] / "steps.npy"), layer=2)
    assert [d.name for d in insp.directions] == ["backward"] and insp.layers == 3
    assert np.allclose(hidden(insp.directions[0], 0), last, atol=1e-5)
    assert len(inspect_model(files["feats"], str(files["dir"] / "steps.npy"), layer=1).directions) == 2


# ------------------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("model, value, kwargs, error, needle", [
    ("gru", "good film", {}, ModelFileError, "no LSTM layer"),
    ("seq_gru", "seqs.npz", {}, ModelFileError, "GRU sequence classifier"),
    ("text", "   ", {}, InputValueError, "empty"),
    ("text", "!!! ...", {}, InputValueError, "no tokens"),
    ("text", "missing.txt", {}, DataError, "not found"),
    ("lm", "the", {"layer": 2}, ConfigError, "0..1"),
    ("seq", "seqs.npz", {"item": 3}, ConfigError, "0..2"),
    ("seq", "steps.npy", {}, DataError, "unknown sequence data"),
    ("fc", "series.csv", {"target": "c"}, ConfigError, "targets (a, b)"),
    ("ids", "3 x", {}, InputValueError, "integers"),
    ("ids", "0 25", {}, InputValueError, "0..19"),
    ("feats", "seqs.npz", {}, DataError, ".npy or .csv"),
])
def test_bad_inputs_are_one_line_errors(files, model, value, kwargs, error, needle):
    d = files["dir"]
    arg = str(d / value) if (d / value).exists() or value.endswith(".txt") else value
    with pytest.raises(error, match=re.escape(needle)) as e:
        inspect_model(files[model], arg, **kwargs)
    assert "\n" not in str(e.value)


def test_wrong_files(files, tmp_path):
    junk = tmp_path / "junk.lstmkit"
    junk.write_bytes(b"not a model at all, just bytes")
    with pytest.raises(ModelFileError, match="not an lstmkit model"):
        inspect_model(junk, "text")
    from lstmkit.models.serialization import save_tensors

    save_tensors(tmp_path / "other.lstmkit", {"w": torch.zeros(2)}, {}, kind="mystery")
    with pytest.raises(ModelFileError, match="'mystery'.*reads text classifiers"):
        inspect_model(tmp_path / "other.lstmkit", "text")
    short = tmp_path / "short.csv"
    pd.read_csv(files["dir"] / "series.csv").head(10).to_csv(short, index=False)
    with pytest.raises(DataError, match="too short: 10 rows"):
        inspect_model(files["fc"], str(short))
    with pytest.raises(ShapeError, match="2 features per step, the model reads 3"):
        np.save(tmp_path / "two.npy", np.zeros((4, 2), dtype=np.float32))
        inspect_model(files["feats"], str(tmp_path / "two.npy"))


# --------------------------------------------------------------------------------- units and events
def toy_inspection():
    f = np.array([[0.9, 0.2, 0.9], [0.4, 0.2, 0.9], [0.9, 0.9, 0.9]])
    i = np.array([[0.1, 0.6, 0.5], [0.7, 0.6, 0.5], [0.1, 0.1, 0.5]])
    o = np.full((3, 3), 0.5)
    c = np.zeros((3, 3))
    return GateInspection("toy", "toy input", ["a", "b", "c"], "token", True, 0, 1, 3,
                          [DirectionTrace("forward", f, i, o, c)])


def test_most_active_units_and_given_units():
    insp = toy_inspection()
    activity = unit_activity(insp)
    assert np.allclose(activity, [np.std([0.9, 0.4, 0.9]) + np.std([0.1, 0.7, 0.1]),
                                  np.std([0.2, 0.2, 0.9]) + np.std([0.6, 0.6, 0.1]), 0.0])
    units, rule = select_units(insp, top=2)
    assert units == list(np.argsort(-activity)[:2]) and "2 most active of 3" in rule
    assert select_units(insp, top=10)[0] == [int(u) for u in np.argsort(-activity, kind="stable")]
    assert select_units(insp, [2, 0, 2]) == ([2, 0], "chosen with --units")
    with pytest.raises(ConfigError, match=r"unit 3 does not exist: layer 0 has 3 units, valid indices are 0\.\.2"):
        select_units(insp, [0, 3])
    with pytest.raises(ConfigError, match="unit -1"):
        select_units(insp, [-1])
    assert parse_units(" 3, 17,42 ") == [3, 17, 42] and parse_units(None) is None
    with pytest.raises(ConfigError, match="'x'"):
        parse_units("3,x")


def test_gate_events_are_shares_of_units_past_the_thresholds():
    insp = toy_inspection()
    ev = gate_events(insp, [0, 1, 2], "absolute")  # f < 0.5, i > 0.5
    assert np.allclose(ev.reset[0], [1 / 3, 2 / 3, 0]) and np.allclose(ev.written[0], [1 / 3, 2 / 3, 0])
    assert ev.describe() == ("f < 0.5", "i > 0.5")
    ev = gate_events(insp, [1], "absolute", forget_threshold=0.95, input_threshold=0.05)
    assert np.allclose(ev.reset[0], [1, 1, 1]) and np.allclose(ev.written[0], [1, 1, 1])
    # relative (default 0.1): unit 0's f drops from its median 0.9 to 0.4 at step 1 and its i rises from 0.1 to
    # 0.7; unit 1's f *rises* at step 2 and its i falls (neither is an event); unit 2 never moves.
    ev = gate_events(insp, [0, 1, 2])
    assert ev.mode == "relative" and np.allclose(ev.forget_limit[0], [0.8, 0.1, 0.8])
    assert np.allclose(ev.reset[0], [0, 1 / 3, 0]) and np.allclose(ev.written[0], [0, 1 / 3, 0])
    assert np.allclose(gate_events(insp, [0], forget_threshold=0.6).reset[0], [0, 0, 0])
    with pytest.raises(ConfigError, match="forget_threshold must be a number strictly between 0 and 1"):
        gate_events(insp, [0], forget_threshold=1.0)
    with pytest.raises(ConfigError, match="events must be one of relative, absolute"):
        gate_events(insp, [0], "sometimes")


# ----------------------------------------------------------------------------------- figure and page
def test_heatmap_is_a_png_for_long_inputs_too():
    insp = toy_inspection()
    long = GateInspection("toy", "long", [str(t) for t in range(120)], "row", False, 0, 1, 3,
                          [DirectionTrace("forward", *(np.random.rand(120, 3) for _ in range(4)))])
    for x in (insp, long):
        png = heatmap_png(x, [0, 1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_page_is_self_contained_and_escapes_the_input():
    insp = toy_inspection()
    insp.steps = ["</script><img src=x>", "&amp;", "b"]
    ev = gate_events(insp, [0, 1])
    page = render_html(insp, [0, 1], "chosen with --units", ev)
    assert page.count("</script>") == 2 and "<img" not in page  # the token lives only in escaped JSON
    blob = re.search(r'<script id="inspect-data" type="application/json">(.*?)</script>', page, re.S).group(1)
    markup = page.replace(blob, "")
    assert not re.search(r"(src|href)\s*=|url\(|@import|<link", markup), "the page must not load anything"
    data = json.loads(blob)
    assert data["steps"][0] == "</script><img src=x>" and data["units"] == [0, 1]
    assert data["directions"][0]["forget_gate"][1] == [0.2, 0.2, 0.9]  # unit 1 over the 3 steps
    assert data["mode"] == "relative" and data["forget_threshold"] == 0.1 and data["text"] is True
    assert data["directions"][0]["median_forget"] == [0.9, 0.2] and data["defaults"]["absolute"] == [0.5, 0.5]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0"]


def chromium(args, tmp_path, name):
    profile = tmp_path / f"profile-{name}"
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium); "
                                             "the page is not rendered")
def test_page_renders_in_headless_chromium(files, tmp_path):
    from matplotlib.image import imread

    result = inspect_to_dir(files["text"], "the plot was good but the film is dull", tmp_path / "out")
    url = result.html.resolve().as_uri()
    dom = chromium(["--dump-dom", url], tmp_path, "dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr, [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln]
    assert 'data-rendered="yes"' in dom.stdout  # the script ran to the end
    assert dom.stdout.count('class="tok"') == 9  # the reading view: one span per token
    assert 'id="signal-line"' not in dom.stdout  # text has no input-value panel
    assert len(re.findall(r"<polyline", dom.stdout)) == 4 * 6  # f, i, o and c of the 6 units
    series = inspect_to_dir(files["fc"], str(files["dir"] / "series.csv"), tmp_path / "series").html
    dom = chromium(["--dump-dom", series.resolve().as_uri()], tmp_path, "series")
    assert "Uncaught" not in dom.stderr and 'data-rendered="yes"' in dom.stdout and 'id="signal-line"' in dom.stdout
    shot = tmp_path / "page.png"
    run = chromium([f"--screenshot={shot}", "--window-size=1280,1200", url], tmp_path, "shot")
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    pixels = (imread(shot)[..., :3] * 255).round().astype(np.uint8).reshape(-1, 3)
    colours = len(np.unique(pixels, axis=0))
    non_white = float((pixels.min(axis=1) < 235).mean())
    assert colours > 200 and non_white > 0.05, (colours, non_white)


def test_audio_sequence_classifier_steps_are_frame_times(tmp_path):
    sf = pytest.importorskip("soundfile")
    pytest.importorskip("librosa")
    from lstmkit.data.audio import AudioFeatures
    from lstmkit.tasks.sequences.classifier import SequenceClassifier

    paths = []
    for i in range(4):
        t = np.arange(1600) / 8000
        paths.append(tmp_path / f"{'low' if i % 2 else 'high'}_{i}.wav")
        sf.write(str(paths[-1]), (0.5 * np.sin(2 * np.pi * (300 if i % 2 else 1400) * t)).astype(np.float32), 8000)
    clf = SequenceClassifier(model="lstm", units=4, epochs=1, validation_split=0.0, audio=AudioFeatures(n_mfcc=4, deltas=0))
    model = clf.fit(paths, ["low", "high"] * 2).save(tmp_path / "audio.lstmkit")
    insp = inspect_model(model, str(paths[0]))
    assert insp.step_kind == "time (s)" and insp.steps[:3] == ["0.00", "0.01", "0.02"] and insp.length == 21
    assert inspect_model(model, str(tmp_path), item=2).source.endswith("(sequence 'low_1.wav')")
    with pytest.raises(InputValueError, match="is audio but the model was trained on arrays"):
        SequenceClassifier(model="lstm", units=4, epochs=1, validation_split=0.0).fit([np.zeros((3, 2))] * 4, ["a", "b"] * 2).save(
            tmp_path / "arr.lstmkit")
        inspect_model(tmp_path / "arr.lstmkit", str(paths[0]))


def test_forecaster_without_a_network_is_one_line(tmp_path):
    import pandas as pd

    from lstmkit.errors import ModelFileError
    from lstmkit.tasks.timeseries.forecaster import Forecaster

    index = pd.date_range("2000-01-01", periods=48, freq="MS")
    frame = pd.DataFrame({"y": 10 + np.sin(np.arange(48) * 2 * np.pi / 12)}, index=index)
    frame.to_csv(tmp_path / "y.csv", index_label="date")
    fc = Forecaster(method="ets", verbose=False).fit(frame)
    fc.save(tmp_path / "ets.lstmkit")
    with pytest.raises(ModelFileError, match=r"uses 'ets' and holds no LSTM network.*--method lstm"):
        inspect_model(tmp_path / "ets.lstmkit", str(tmp_path / "y.csv"))
