"""The ONNX Runtime backend: predict(backend=...), its cache, the auto rule, and loading exported files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from lstmkit.errors import ConfigError, ModelFileError  # noqa: E402
from lstmkit.export import runtime  # noqa: E402
from lstmkit.export.core import to_onnx  # noqa: E402
from lstmkit.layers import LSTM, Bidirectional, Dense, Embedding, GlobalAveragePooling1D, Input  # noqa: E402
from lstmkit.models import Sequential  # noqa: E402


def _text_model():
    torch.manual_seed(0)
    return Sequential([Embedding(40, 8, mask_zero=True), Bidirectional(LSTM(6, return_sequences=True)),
                       GlobalAveragePooling1D(), Dense(3, activation="softmax")])


def _ids(n=10, T=9, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 40, size=(n, T))
    ids[1, 4:] = 0
    ids[2, :5] = 0
    ids[3] = 0
    return ids


def test_predict_onnxruntime_equals_torch():
    model = _text_model()
    x = _ids()
    want = model.predict(x, batch_size=4)
    got = model.predict(x, batch_size=4, backend="onnxruntime")
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(model.predict(x, backend="auto"), want, atol=1e-5)
    features = Sequential([Input((None, 3)), LSTM(5, return_sequences=True), LSTM(2)])
    xf = np.random.default_rng(1).normal(size=(6, 7, 3))  # float64 in: float32 in both backends
    np.testing.assert_allclose(features.predict(xf, backend="onnxruntime"), features.predict(xf), atol=1e-5)


def test_the_export_is_cached_until_a_weight_changes(monkeypatch):
    model = _text_model()
    x = _ids()
    calls = []
    real = runtime.make_session
    monkeypatch.setattr(runtime, "make_session", lambda *a, **k: calls.append(1) or real(*a, **k))
    model.predict(x, backend="onnxruntime")
    model.predict(x[:3], backend="onnxruntime")
    assert len(calls) == 1
    # an optimizer-like in-place step, then set_weights: each makes the next call export again
    with torch.no_grad():
        model.layers[-1].bias.add_(1.0)
    np.testing.assert_allclose(model.predict(x, backend="onnxruntime"), model.predict(x), atol=1e-5)
    assert len(calls) == 2
    weights = model.layers[0].get_weights()
    model.layers[0].set_weights([w * 2 for w in weights])
    np.testing.assert_allclose(model.predict(x, backend="onnxruntime"), model.predict(x), atol=1e-5)
    assert len(calls) == 3


def test_auto_rule_and_bad_backend():
    assert runtime.choose_backend(1, 100) == "onnxruntime"
    assert runtime.choose_backend(16, 100) == "onnxruntime"
    assert runtime.choose_backend(64, 100) == "torch"
    assert runtime.choose_backend(128, 16) == "onnxruntime" and runtime.choose_backend(8, 400) == "torch"
    model = _text_model()
    with pytest.raises(ConfigError, match="backend: expected one of 'torch', 'onnxruntime', 'auto', found 'tf'"):
        model.predict(_ids(), backend="tf")
    dense = Sequential([Input((4,)), Dense(2)])
    x = np.ones((3, 4), np.float32)
    np.testing.assert_allclose(dense.predict(x, backend="auto"), dense.predict(x))  # no state: torch runs it
    with pytest.raises(ConfigError, match="no recurrent layer"):
        dense.predict(x, backend="onnxruntime")
    with pytest.raises(Exception, match="out of range"):  # the same input checks as torch
        model.predict(np.full((2, 3), 99), backend="onnxruntime")


def test_load_onnx_runs_with_state(tmp_path):
    model = _text_model()
    path = to_onnx(model, tmp_path / "m.onnx")
    m = runtime.load_onnx(path)
    assert m.kind == "sequential" and m.state_names == ["h0_0", "c0_0"]
    assert m.metadata["check"]["max_abs_diff"] <= 1e-5
    y, state = m.run(_ids())
    np.testing.assert_allclose(y, model.predict(_ids()), atol=1e-5)
    assert state["h0_0"].shape == (2, 10, 6)
    with pytest.raises(ConfigError, match="state: unknown part 'h0_9'"):
        m.run(_ids(), {"h0_9": state["h0_0"]})


def test_load_onnx_bad_files(tmp_path):
    model = _text_model()
    path = to_onnx(model, tmp_path / "m.onnx")
    data = path.read_bytes()
    cases = {
        "missing.onnx": None,
        "empty.onnx": b"",
        "truncated.onnx": data[: len(data) // 2],
        "garbage.onnx": b"\x00\x01not an onnx file at all" * 10,
    }
    for name, content in cases.items():
        p = tmp_path / name
        if content is not None:
            p.write_bytes(content)
        with pytest.raises(ModelFileError) as info:
            runtime.load_onnx(p)
        assert "\n" not in str(info.value) and name in str(info.value)
    # an lstmkit model file given as ONNX
    model.save(tmp_path / "m.lstmkit")
    with pytest.raises(ModelFileError, match="is an lstmkit \\(safetensors\\) model file, not ONNX"):
        runtime.load_onnx(tmp_path / "m.lstmkit")
    # a weight edited after export: the graph no longer matches its checksum
    import onnx

    edited = onnx.load(str(path))
    raw = bytearray(edited.graph.initializer[-1].raw_data)
    raw[0] ^= 0xFF
    edited.graph.initializer[-1].raw_data = bytes(raw)
    onnx.save(edited, str(tmp_path / "edited.onnx"))
    with pytest.raises(ModelFileError, match="does not match the graph_sha256"):
        runtime.load_onnx(tmp_path / "edited.onnx")
    # a valid ONNX graph that lstmkit did not write
    foreign = onnx.load(str(path))
    del foreign.metadata_props[:]
    onnx.save(foreign, str(tmp_path / "foreign.onnx"))
    with pytest.raises(ModelFileError, match="not an lstmkit export"):
        runtime.load_onnx(tmp_path / "foreign.onnx")


def test_text_classifier_predicts_through_onnxruntime():
    """TextClassifier.predict_proba(backend="onnxruntime" | "auto") equals the torch path."""
    import random

    from lstmkit.tasks.text.classifier import TextClassifier

    rng = random.Random(0)
    words = {"pos": ["good", "great", "fine"], "neg": ["bad", "awful", "dull"]}
    texts, labels = [], []
    for i in range(40):
        y = ("pos", "neg")[i % 2]
        texts.append(" ".join(rng.choice(["the", "film", "was", "a"]) for _ in range(rng.randint(1, 6))) + " "
                     + rng.choice(words[y]))
        labels.append(y)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = TextClassifier(units=8, embedding_dim=8, epochs=2, batch_size=8, valid_fraction=0.0, min_count=1,
                             verbose=False).fit(texts, labels)
    want = clf.predict_proba(texts[:9])
    for backend in ("onnxruntime", "auto"):
        np.testing.assert_allclose(clf.predict_proba(texts[:9], backend=backend), want, atol=1e-5)
    assert clf.predict(texts[:3], backend="onnxruntime") == clf.predict(texts[:3])
    with pytest.raises(Exception, match="backend: expected"):
        clf.predict_proba(texts[:2], backend="tflite")


def test_out_of_range_token_ids_are_one_line(tmp_path):
    from lstmkit.errors import InputValueError
    from lstmkit.export import load_onnx

    torch.manual_seed(0)
    m = Sequential([Embedding(50, 4, mask_zero=True), LSTM(3), Dense(1)])
    m.build((None, 5))
    runner = load_onnx(to_onnx(m, tmp_path / "m.onnx"))
    for bad in (50, 150, -1):
        with pytest.raises(InputValueError, match=f"token id {bad} is out of range; expected ids in 0..49"):
            runner.run(np.array([[1, 2, bad]]))


def test_lstmkit_load_imports_a_keras_file(tmp_path):
    import lstmkit
    from lstmkit.interop.keras import save_keras

    torch.manual_seed(0)
    m = Sequential([Embedding(20, 4), LSTM(3), Dense(2, activation="softmax")])
    m.build((None, 6))
    save_keras(m, tmp_path / "m.keras")
    back = lstmkit.load(tmp_path / "m.keras")
    x = np.random.default_rng(0).integers(0, 20, size=(3, 6))
    np.testing.assert_allclose(back.predict(x), m.predict(x), atol=1e-6)
