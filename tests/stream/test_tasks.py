"""StreamEngine steps the task models (Forecaster, SequenceClassifier, TextClassifier, the sentiment
classifier, language models): for each, interleaved streams stepped event by event (in memory, and
through SQLite with a restart) equal the model run on the whole prefix at once (1e-5); models that
cannot be stepped are refused with a message saying how to train one that can."""

from __future__ import annotations

import contextlib
import io
import json
import random

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SHARED_DATA

from lstmkit.errors import ConfigError, InputValueError, ShapeError
from lstmkit.stream.engine import StreamEngine, open_engine
from lstmkit.stream.stores import StateMismatchError
from lstmkit.stream.tasks import LanguageModelProgram, task_program

pytestmark = pytest.mark.filterwarnings("ignore::lstmkit.errors.LstmkitWarning")  # tiny models, few steps on purpose


# ------------------------------------------------------------------------------------------- helpers
def _interleave(streams: dict[str, list], seed: int = 0) -> list[tuple[str, object, int]]:
    """Every stream's events in its own order, streams interleaved at random paces."""
    rng = random.Random(seed)
    pos = {sid: 0 for sid in streams}
    out = []
    while any(pos[s] < len(streams[s]) for s in streams):
        sid = rng.choice([s for s in streams if pos[s] < len(streams[s])])
        out.append((sid, streams[sid][pos[sid]], pos[sid] + 1))
        pos[sid] += 1
    return out


def _feed(engine: StreamEngine, events: list, chunk: int = 5) -> dict[tuple[str, int], dict]:
    """Apply ``events`` in calls of ``chunk`` events (a call may hold several events of one stream)."""
    got = {}
    for i in range(0, len(events), chunk):
        part = events[i:i + chunk]
        for (sid, _, seq), out in zip(part, engine.step_many(part)):
            json.dumps(out, allow_nan=False)  # JSON-ready, no NaN
            got[(sid, seq)] = out
    return got


def _memory_and_restart(model, events: list, tmp_path) -> tuple[dict, dict]:
    """Outputs of ``events`` through a memory store, and through SQLite closed and reopened halfway."""
    mem = _feed(StreamEngine(model, "memory://"), events)
    url = f"sqlite:///{tmp_path / 'streams.db'}"
    first = StreamEngine(model, url)
    half = len(events) // 2
    disk = _feed(first, events[:half])
    first.store.close()
    second = StreamEngine(model, url)   # a restarted process
    disk.update(_feed(second, events[half:]))
    second.store.close()
    return mem, disk


def _quiet(fn, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn(*args, **kwargs)


# ------------------------------------------------------------------------------------------- forecaster
def _series(n=260, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    cov = np.cos(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n)
    a = 10 + 3 * np.sin(2 * np.pi * t / 24) + 0.01 * t + 0.2 * rng.standard_normal(n)
    b = 5 + 2 * cov + 0.2 * rng.standard_normal(n)
    return pd.DataFrame({"a": a, "b": b, "c": cov}, index=pd.date_range("2024-01-01", periods=n, freq="h", name="time"))


@pytest.fixture(scope="module")
def series():
    return _series()


@pytest.fixture(scope="module")
def forecasters(series):
    from lstmkit.tasks.timeseries.forecaster import Forecaster

    segmented = Forecaster(24, 6, ["a", "b"], ["c"], segment=6, intervals="quantile", units=8, epochs=1,
                           batch_size=64, seed=0, method="lstm", verbose=False).fit(series.iloc[:200])
    # per-step LSTM, two layers, Gaussian intervals, autoregressive head, RevIN statistics, log transform
    stepwise = Forecaster(12, 4, ["a"], segment=1, layers=2, intervals="gaussian", head="autoregressive",
                          instance_norm="mean", transform="log", units=6, epochs=1, batch_size=64, seed=0,
                          method="lstm", verbose=False).fit(series.iloc[:200])
    return segmented, stepwise


@pytest.mark.parametrize("which", [0, 1])
def test_forecaster_stepping_equals_predict_on_every_prefix(forecasters, series, which, tmp_path):
    fc = forecasters[which]
    P, cols = int(fc.context_), fc.columns_
    starts = {"s0": 0, "s1": 30, "s2": 55}
    n = P + 9
    frames = {sid: series.iloc[a:a + n][cols] for sid, a in starts.items()}
    forms = [lambda r: r.tolist(), lambda r: dict(zip(cols, r.tolist())), lambda r: np.asarray(r)]
    streams = {sid: [forms[i % 3](row) for i, row in enumerate(f.to_numpy())] for sid, f in frames.items()}
    events = _interleave(streams, seed=which)
    for got in _memory_and_restart(fc, events, tmp_path):
        for sid, f in frames.items():
            for t in range(1, n + 1):
                out = got[(sid, t)]
                assert out["observations"] == t
                if t < P:
                    assert out == {"ready": False, "rows_needed": P - t, "observations": t, "context": P}
                    continue
                ref = fc.predict(f.iloc[:t], window="all", stats_rows=P)
                assert list(out["forecast"]) == list(ref.columns) and out["horizon"] == len(ref)
                for col in ref.columns:
                    np.testing.assert_allclose(out["forecast"][col], ref[col].to_numpy(), rtol=1e-5, atol=1e-5)
    # the same as the forecaster's own stateful stream, primed with the first P rows
    stream = fc.stream(frames["s1"].iloc[:P])
    for t in range(P, n):
        stream.update(frames["s1"].iloc[t])
    ref = stream.forecast()
    np.testing.assert_allclose(np.array([got[("s1", n)]["forecast"][c] for c in ref.columns]).T, ref.to_numpy(),
                               rtol=1e-5, atol=1e-5)


def test_forecaster_trace_info_signature_and_bad_rows(forecasters, series, tmp_path):
    from lstmkit.tasks.timeseries.forecaster import Forecaster

    fc, other = forecasters
    rows = series[fc.columns_].to_numpy()
    eng = StreamEngine(fc)
    for t in range(24):
        eng.step("ready", rows[t])
    outs = eng.step_many([("ready", rows[24]), ("new", rows[0])], trace=True)
    (ready, gates), (new, none) = outs
    assert ready["ready"] and not new["ready"] and new["rows_needed"] == 23
    assert set(gates) == {"lstm.layer0"} and gates["lstm.layer0"]["forget_gate"].shape == (2, 8)  # (targets, units)
    assert np.isfinite(gates["lstm.layer0"]["cell_state"]).all() and np.isnan(none["lstm.layer0"]["input_gate"]).all()
    info = json.loads(json.dumps(eng.info()))
    assert info["kind"] == "forecaster" and info["input"]["columns"] == ["a", "b", "c"]
    assert info["output"]["columns"] == ["a", "a_lower", "a_upper", "b", "b_lower", "b_upper"]
    assert info["state"]["layer0.h"] == [6 * 2 * 8] and info["state"]["buffer"] == [24 * 3]
    # a saved and loaded forecaster is the same model; another one is refused
    loaded = Forecaster.load(fc.save(tmp_path / "f.lstmkit"))
    assert task_program(loaded).signature == eng.signature
    reopened = open_engine(tmp_path / "f.lstmkit", "memory://")
    assert reopened.signature == eng.signature and reopened.step("x", rows[0])["rows_needed"] == 23
    url = f"sqlite:///{tmp_path / 'f.db'}"
    first = StreamEngine(fc, url)
    first.step("m", rows[0])
    first.store.close()
    with pytest.raises(StateMismatchError, match="written by another model"):
        StreamEngine(other, url).step("m", rows[1][:1], 2)
    with pytest.raises(InputValueError, match="NaN or infinite"):
        eng.step("ready", [1.0, float("nan"), 0.0])
    with pytest.raises(ShapeError, match=r"expected 3 number\(s\) per event"):
        eng.step("ready", [1.0, 2.0])
    with pytest.raises(InputValueError, match="missing column 'c'"):
        eng.step("ready", {"a": 1.0, "b": 2.0})
    with pytest.raises(InputValueError, match="no finite value under the forecaster's transform"):
        StreamEngine(other).step("z", -1.0)      # log transform of a negative value
    assert eng.state("ready").seq == 25


def test_forecasters_that_cannot_be_stepped(series):
    from lstmkit.tasks.timeseries.forecaster import Forecaster

    naive = Forecaster(24, 6, ["a"], method="seasonal_naive", season=24, verbose=False).fit(series.iloc[:200])
    with pytest.raises(ConfigError, match=r"method 'seasonal_naive' cannot be stepped.*method='lstm'"):
        StreamEngine(naive)
    with pytest.raises(ConfigError, match="not fitted yet"):
        StreamEngine(Forecaster())


# ------------------------------------------------------------------------------------------- sequence classifier
def _shapes(n, seed, channels=2):
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i in range(n):
        t = int(rng.integers(12, 25))
        c = rng.uniform(3, t - 3)
        sign = 1.0 if i % 2 else -1.0
        s = rng.normal(0, 0.2, (t, channels))
        s[:, 0] += sign * 2.0 * np.exp(-0.5 * ((np.arange(t) - c) / 1.5) ** 2) + 3.0
        xs.append(s.astype(np.float32))
        ys.append("bump" if i % 2 else "dip")
    return xs, ys


SEQ = dict(model="lstm", units=6, epochs=3, batch_size=8, validation_split=0.0, learning_rate=0.01, verbose=False)


@pytest.mark.parametrize("settings", [
    dict(cell="lstm", pooling="attention", ensemble=2, normalize="feature"),
    dict(cell="gru", pooling="mean", layers=2, normalize="feature"),
    dict(cell="rnn", pooling="last", normalize="none"),
])
def test_sequence_classifier_stepping_equals_predict_proba(settings, tmp_path):
    from lstmkit.tasks.sequences.classifier import SequenceClassifier

    x, y = _shapes(24, 0)
    clf = SequenceClassifier(**SEQ, **settings).fit(x, y)
    test, _ = _shapes(3, 1)
    streams = {f"q{i}": [row.tolist() if i % 2 else row for row in s] for i, s in enumerate(test)}
    for got in _memory_and_restart(clf, _interleave(streams), tmp_path):
        for i, s in enumerate(test):
            ref = clf.predict_proba([s[:t] for t in range(1, len(s) + 1)])
            for t in range(1, len(s) + 1):
                out = got[(f"q{i}", t)]
                assert out["steps"] == t and out["label"] == clf.classes_[int(ref[t - 1].argmax())]
                np.testing.assert_allclose([out["probabilities"][c] for c in clf.classes_], ref[t - 1], atol=1e-5)


def test_sequence_classifier_trace_signature_and_refusals(tmp_path):
    from lstmkit.tasks.sequences.classifier import SequenceClassifier

    x, y = _shapes(16, 2)
    clf = SequenceClassifier(**SEQ, layers=2, normalize="feature").fit(x, y)
    eng = StreamEngine(clf)
    out, gates = eng.step("a", x[0][0], trace=True)
    assert set(gates) == {"layer0", "layer1"} and gates["layer1"]["hidden_state"].shape == (6,)
    assert set(gates["layer0"]) == {"input_gate", "forget_gate", "candidate", "output_gate", "cell_state", "hidden_state"}
    info = json.loads(json.dumps(eng.info()))
    assert info["input"] == {"kind": "vector", "dtype": "float", "shape": [2], "normalisation": "feature"}
    assert info["output"]["classes"] == ["bump", "dip"]
    assert task_program(SequenceClassifier.load(clf.save(tmp_path / "s.lstmkit"))).signature == eng.signature
    with pytest.raises(ShapeError, match=r"expected 2 number\(s\) per event"):
        eng.step("a", [1.0, 2.0, 3.0])
    with pytest.raises(InputValueError, match="expected 2 number"):
        eng.step("a", "1,2")
    refusals = [
        (dict(model="lstm_fcn", filters=(4, 4), kernel_sizes=(3, 3), units=2, epochs=1, verbose=False),
         r"model='lstm_fcn' cannot be stepped.*dimension-shuffled.*SequenceClassifier\(model='lstm'"),
        ({**SEQ, "epochs": 1, "normalize": "series"}, r"normalize='series'.*whole series.*normalize='feature'"),
        ({**SEQ, "epochs": 1, "downsample": 2}, r"downsample=2 \(PAA\).*not arrived yet"),
        ({**SEQ, "epochs": 1, "bidirectional": True}, r"bidirectional=True.*bidirectional=False"),
    ]
    for params, message in refusals:
        with pytest.raises(ConfigError, match=message):
            StreamEngine(SequenceClassifier(**params).fit(x, y))


# ------------------------------------------------------------------------------------------- text classifier
FILLER = ["the", "a", "film", "is", "was", "story", "and"]
CUES = {"pos": ["good", "great", "superb"], "neg": ["bad", "awful", "dull"]}


def _texts(n, seed=0):
    rng = random.Random(seed)
    texts, ys = [], []
    for i in range(n):
        y = ("pos", "neg")[i % 2]
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 8))]
        words.insert(rng.randint(0, len(words)), rng.choice(CUES[y]))
        texts.append(" ".join(words))
        ys.append(y)
    return texts, ys


def _text_classifier(**kw):
    from lstmkit.tasks.text.classifier import TextClassifier

    params = dict(units=8, embedding_dim=8, max_length=12, epochs=4, batch_size=8, dropout=0.0, embedding_dropout=0.0,
                  min_count=1, valid_fraction=0.0, bidirectional=False, verbose=False)
    params.update(kw)
    return TextClassifier(**params).fit(*_texts(40))


@pytest.mark.parametrize("settings", [dict(pooling="last"), dict(pooling="mean"), dict(pooling="max"),
                                      dict(pooling="attention", cell="gru")])
def test_text_classifier_stepping_equals_predict_proba(settings, tmp_path):
    clf = _text_classifier(**settings)
    vocab = clf.vectorizer_.get_vocabulary()
    ids = {w: i for i, w in enumerate(vocab)}
    # an event: a word, a few words, a token id, a list of ids, an unknown word (OOV)
    streams = {
        "r0": ["the film", ids["great"], "was", [ids["and"], ids["dull"]], "unseenword story"],
        "r1": [ids["bad"], "A  superb, story!", [ids["film"]], "is"],
        "r2": ["good"],
    }
    words = {sid: [] for sid in streams}
    texts = {}
    for sid, evs in streams.items():
        for t, ev in enumerate(evs, start=1):
            words[sid] += [vocab[ev]] if isinstance(ev, int) else [vocab[i] for i in ev] if isinstance(ev, list) else [ev]
            texts[(sid, t)] = " ".join(words[sid])
    for got in _memory_and_restart(clf, _interleave(streams, seed=3), tmp_path):
        for key, text in texts.items():
            ref = clf.predict_proba([text])[0]
            out = got[key]
            assert out["tokens"] == len(clf.vectorizer_.encode(text)) and out["beyond_max_length"] is False
            assert out["label"] == clf.classes_[int(ref.argmax())]
            np.testing.assert_allclose([out["probabilities"][c] for c in clf.classes_], ref, atol=1e-5)


def test_text_classifier_long_streams_trace_signature_and_refusals(tmp_path):
    from lstmkit.tasks.text.classifier import TextClassifier

    clf = _text_classifier(pooling="mean")
    eng = StreamEngine(clf)
    text = "the film was good and the story was great but a bit dull and the end is superb"
    ids = clf.vectorizer_.encode(text)
    out, gates = eng.step("long", text, trace=True)
    assert out["tokens"] == len(ids) > 12 and out["beyond_max_length"] and out["max_length"] == 12
    with torch.no_grad():   # past max_length the stream reads every token (predict would keep the last 12)
        every = clf.model_(torch.tensor([ids])).numpy()[0]
    np.testing.assert_allclose([out["probabilities"][c] for c in clf.classes_], every, atol=1e-5)
    assert set(gates) == {clf.model_.layers[1].name} and gates[clf.model_.layers[1].name]["cell_state"].shape == (8,)
    info = json.loads(json.dumps(eng.info()))
    assert info["input"]["padding_id"] == 0 and info["pooling"] == "mean" and info["max_length"] == 12
    loaded = open_engine(clf.save(tmp_path / "t.lstmkit"), "memory://")   # through lstmkit.load
    assert loaded.signature == eng.signature
    with pytest.raises(InputValueError, match=r"token id must be in 1\.\.\d+, found 0 \(0 is padding"):
        eng.step("x", 0)
    with pytest.raises(InputValueError, match="has no tokens"):
        eng.step("x", "?!")
    with pytest.raises(InputValueError, match="expected a token id, a list of token ids or a text"):
        eng.step("x", 1.5)
    assert eng.state("x").seq == 0
    # groups of one HTTP request each, events of different token counts stepped together (one row per stream)
    groups = [[("g1", "the film"), ("g2", 9)], [("g2", "was good and")], [("g1", [3, 4, 5, 6, 7])]]
    together = eng.step_groups(groups)
    alone = StreamEngine(clf)
    for group, outs in zip(groups, together):
        for (sid, x), out in zip(group, outs):
            one = alone.step(sid, x)
            assert out["tokens"] == one["tokens"]
            np.testing.assert_allclose(list(out["probabilities"].values()), list(one["probabilities"].values()), atol=1e-6)
    bi = TextClassifier(units=4, embedding_dim=4, max_length=8, epochs=1, batch_size=8, min_count=1, valid_fraction=0.0,
                        bidirectional=True, verbose=False).fit(*_texts(12))
    with pytest.raises(ConfigError, match=r"bidirectional classifier.*TextClassifier\(bidirectional=False\)"):
        StreamEngine(bi)


def test_sentiment_classifier_steps_like_predict_proba():
    from lstmkit.data.text import TextVectorizer
    from lstmkit.tasks.text.sentiment import SentimentClassifier, build_model

    texts, _ = _texts(20)
    vec = TextVectorizer(max_tokens=50, output_sequence_length=20, truncation="pre").fit(texts)
    clf = SentimentClassifier(build_model(vec.vocabulary_size(), embedding_dim=6, units=5), vec)
    eng = StreamEngine(clf)
    chunks = ["the film", "was", "superb and great"]
    for t in range(len(chunks)):
        out = eng.step("s", chunks[t])
        ref = clf.predict_proba([" ".join(chunks[:t + 1])])[0]
        np.testing.assert_allclose([out["probabilities"]["negative"], out["probabilities"]["positive"]], ref, atol=1e-5)


# ------------------------------------------------------------------------------------------- language models
def _lm_text() -> str:
    path = SHARED_DATA / "tinyshakespeare" / "input.txt"
    if path.is_file():
        return path.read_text()[:3000]
    rng = random.Random(0)
    words = "first citizen before we proceed any further hear me speak all resolved rather to die than famish".split()
    return "\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) + ":" for _ in range(150)) + "\n"


@pytest.fixture(scope="module")
def language_models(tmp_path_factory):
    from lstmkit.tasks.text.language_model import LanguageModelGenerator, LMConfig, train_language_model

    root = tmp_path_factory.mktemp("lm")
    (root / "tiny.txt").write_text(_lm_text())
    out = {}
    for cfg in (LMConfig(level="char", layers=2, units=16, bptt=12, batch_size=6, epochs=1, dropout=0.0,
                         learning_rate=5e-3, threads=1),
                # tied weights with embedding_size < units: an LSTM with projections
                LMConfig(level="word", layers=1, units=12, embedding_size=8, bptt=6, batch_size=4, epochs=1,
                         dropout=0.0, learning_rate=5e-3, threads=1)):
        _quiet(train_language_model, root / "tiny.txt", root / f"{cfg.level}.lstmkit", cfg)
        out[cfg.level] = (LanguageModelGenerator.load(root / f"{cfg.level}.lstmkit"), root / f"{cfg.level}.lstmkit")
    return out


CHUNKS = {
    "char": {"c0": ["First Cit", 5, "izen:\nBefore", [3, 4, 1]], "c1": ["We", " proceed"], "c2": ["\n"]},
    "word": {"c0": ["First Citizen:\n", 5, "Before we", [3, 4, 1]], "c1": ["proceed any", "further\n"], "c2": ["hear"]},
}


@pytest.mark.parametrize("level", ["char", "word"])
def test_language_model_next_token_distribution_equals_the_whole_run(language_models, level, tmp_path):
    from lstmkit.data.corpus import tokenize

    gen, _ = language_models[level]
    assert (gen.model.lstm.proj_size > 0) == (level == "word")
    program = LanguageModelProgram(gen, top_k=5, continuation=4, full_distribution=True)
    streams = CHUNKS[level]
    ids = {}
    for sid, evs in streams.items():
        seen = []
        for t, ev in enumerate(evs, start=1):
            seen += gen.vocab.encode(tokenize(ev, level, final_eos=False)) if isinstance(ev, str) else \
                ([ev] if isinstance(ev, int) else list(ev))
            ids[(sid, t)] = list(seen)
    mem, disk = _memory_and_restart(program, _interleave(streams, seed=1), tmp_path)
    for got in (mem, disk):
        for key, seen in ids.items():
            with torch.no_grad():
                logits, _ = gen.model(torch.tensor(seen).view(-1, 1))
            ref = torch.softmax(logits[-1, 0].double(), -1).numpy()
            out = got[key]
            assert out["tokens"] == len(seen)
            np.testing.assert_allclose(out["distribution"], ref, atol=1e-5)
            top = [n["id"] for n in out["next"]]
            np.testing.assert_allclose([n["p"] for n in out["next"]], ref[top], atol=1e-5)
            assert sorted(ref, reverse=True)[4] <= min(ref[top]) + 1e-6 and out["next"][0]["token"] == gen.vocab.itos[top[0]]
            assert len(out["continuation_ids"]) == 4 and 0 not in out["continuation_ids"]
    # continuations are seeded by stream id and seq: the same after a restart
    assert all(mem[key]["continuation_ids"] == disk[key]["continuation_ids"] for key in ids)


def test_language_model_continuations_are_deterministic_and_do_not_change_the_state(language_models, tmp_path):
    gen, path = language_models["char"]
    eng = StreamEngine(LanguageModelProgram(gen, continuation=6))
    first = [eng.step("a", ch) for ch in ("To be", " or not")]
    assert eng.step("a", "ignored", 2) == first[1]          # a repeated seq: the recorded answer
    eng.delete("a")
    assert [eng.step("a", ch) for ch in ("To be", " or not")] == first   # replayed: the same samples
    quiet = StreamEngine(LanguageModelProgram(gen, continuation=0))
    assert quiet.step("a", "To be") ["continuation"] == ""
    quiet.step("a", " or not")
    for name, value in eng.state("a").tensors.items():    # sampling never touched the stored state
        np.testing.assert_array_equal(value, quiet.state("a").tensors[name])
    assert quiet.signature == eng.signature
    out, gates = eng.step("a", [1, 2, 3], trace=True)
    assert set(gates) == {"lstm.layer0", "lstm.layer1"} and gates["lstm.layer1"]["output_gate"].shape == (16,)
    loaded = open_engine(path, "memory://")             # lstmkit.load -> LanguageModelGenerator -> program
    assert loaded.signature == eng.signature and len(loaded.step("b", "Th")["next"]) == 10
    info = json.loads(json.dumps(eng.info()))
    assert info["input"]["level"] == "char" and info["output"]["continuation"] == 6
    with pytest.raises(InputValueError, match=r"token id must be in 0\.\.\d+, found 999"):
        eng.step("a", 999)
    with pytest.raises(InputValueError, match="has no tokens"):
        eng.step("a", "")
    with pytest.raises(ConfigError, match="top_k"):
        LanguageModelProgram(gen, top_k=0)
    with pytest.raises(ConfigError, match="bare network has no vocabulary"):
        StreamEngine(gen.model)


def test_replay_of_a_saved_text_classifier_writes_json_outputs(tmp_path):
    """lstmkit stream replay takes any streamable model file: a TextClassifier's events are words
    or chunks of text, and its outputs are one JSON column equal to predict_proba on the text so far."""
    import csv
    import json

    from typer.testing import CliRunner

    from lstmkit.cli import app

    clf = _text_classifier(pooling="last")
    path = tmp_path / "clf.lstmkit"
    clf.save(path)
    events = tmp_path / "events.csv"
    with open(events, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["stream_id", "seq", "text"])
        w.writerows([["a", 1, "the film"], ["b", 1, "bad"], ["a", 2, "was great, and good"], ["b", "", "story"]])
    out = tmp_path / "out.csv"
    r = CliRunner().invoke(app, ["stream", "replay", str(path), str(events), "-o", str(out), "--store", "memory://"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(open(out)))
    assert [(row["stream_id"], row["seq"]) for row in rows] == [("a", "1"), ("b", "1"), ("a", "2"), ("b", "2")]
    so_far = {"a": "the film was great, and good", "b": "bad story"}
    for row in rows[2:]:
        got = json.loads(row["output"])
        ref = clf.predict_proba([so_far[row["stream_id"]]])[0]
        np.testing.assert_allclose([got["probabilities"][c] for c in clf.classes_], ref, atol=1e-5)
