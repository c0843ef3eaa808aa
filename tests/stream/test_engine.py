"""StreamEngine: stepping event by event equals running the model at once, on every store; ordered,
idempotent, never crossing streams; the state survives a restart and refuses another model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stream_stores import store  # noqa: F401  (the fixture: every store kind)

from lstmkit.errors import ConfigError, InputValueError, LstmkitError
from lstmkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, Input, SimpleRNN
from lstmkit.models import Sequential
from lstmkit.stream.engine import SequenceError, StreamEngine
from lstmkit.stream.stores import StateMismatchError, StoreUnavailableError, open_store


def _float_model(seed: int = 0) -> Sequential:
    torch.manual_seed(seed)
    return Sequential([Input(shape=(None, 3)), LSTM(8, return_sequences=True), GRU(6, return_sequences=True),
                       SimpleRNN(4, return_sequences=True), LSTM(5), Dense(2, activation="softmax")])


def _prefix_outputs(model, x):
    """(N, T, out): the model's output on the first t steps of each row, run at once."""
    return np.stack([model.predict(x[:, : t + 1], verbose=0) for t in range(x.shape[1])], axis=1)


def test_stepping_equals_the_whole_sequence_on_every_store(store):
    model = _float_model()
    x = np.random.default_rng(1).standard_normal((5, 6, 3)).astype(np.float32)
    eng = StreamEngine(model, store)
    out = eng.step_many([(f"s{n}", x[n, t], t + 1) for t in range(6) for n in range(5)])
    ref = _prefix_outputs(model, x)
    got = np.stack(out).reshape(6, 5, 2).transpose(1, 0, 2)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    assert eng.state("s3").seq == 6 and eng.streams() == [f"s{n}" for n in range(5)]


def test_token_models_step_one_token_at_a_time():
    torch.manual_seed(0)
    model = Sequential([Embedding(50, 8, mask_zero=True), LSTM(6, return_sequences=True), LSTM(4), Dense(3, activation="softmax")])
    ids = np.random.default_rng(2).integers(1, 50, size=(3, 9))
    eng = StreamEngine(model)
    out = [[eng.step(f"c{n}", int(ids[n, t])) for t in range(9)] for n in range(3)]
    np.testing.assert_allclose(np.array(out), _prefix_outputs(model, ids), atol=1e-5)
    with pytest.raises(InputValueError, match="token id 0 is padding"):
        eng.step("c0", 0)
    with pytest.raises(InputValueError, match=r"token id must be in 0\.\.49, found 50"):
        eng.step("c0", 50)


def test_thousands_of_interleaved_streams_never_cross():
    model = _float_model(3)
    rng = np.random.default_rng(4)
    n, steps = 1500, 3
    x = rng.standard_normal((n, steps, 3)).astype(np.float32)
    events = [(f"u{i}", x[i, t], t + 1) for t in range(steps) for i in range(n)]
    order = rng.permutation(len(events))
    # shuffle across streams but keep each stream's own order (stable by step index)
    events = sorted((events[k] for k in order), key=lambda e: e[2])
    eng = StreamEngine(model)
    out = eng.step_many(events)
    ref = _prefix_outputs(model, x)
    for (sid, _, seq), y in zip(events, out):
        np.testing.assert_allclose(y, ref[int(sid[1:]), seq - 1], atol=1e-5)


def test_repeats_are_answered_gaps_and_old_numbers_refused():
    model = _float_model()
    x = np.random.default_rng(5).standard_normal((4, 3)).astype(np.float32)
    eng = StreamEngine(model)
    y1 = eng.step("a", x[0], 1)
    y2 = eng.step("a", x[1], 2)
    before = eng.state("a")
    again = eng.step("a", x[3], 2)          # a repeat: the recorded result, no second step
    np.testing.assert_array_equal(again, y2)
    after = eng.state("a")
    assert after.seq == 2 and all(np.array_equal(before.tensors[k], after.tensors[k]) for k in before.tensors)
    with pytest.raises(SequenceError, match=r"stream 'a': seq 4 refused; the next is 3 \(last applied 2\)"):
        eng.step("a", x[2], 4)
    with pytest.raises(SequenceError, match="seq 1 refused"):
        eng.step("a", x[2], 1)
    # a call with one bad event applies none of its events
    with pytest.raises(SequenceError):
        eng.step_many([("a", x[2], 3), ("b", x[0], 1), ("a", x[3], 9)])
    assert eng.state("a").seq == 2 and eng.state("b").seq == 0
    assert eng.step("a", x[2]).shape == (2,) and eng.state("a").seq == 3   # seq None: the next number
    assert not np.array_equal(y1, y2)


def test_state_survives_a_restart_and_refuses_another_model(tmp_path):
    model = _float_model()
    x = np.random.default_rng(6).standard_normal((1, 5, 3)).astype(np.float32)
    url = f"sqlite:///{tmp_path / 'streams.db'}"
    first = StreamEngine(model, url)
    for t in range(3):
        first.step("m1", x[0, t], t + 1)
    first.store.close()
    second = StreamEngine(model, url)      # a new process would do the same
    ys = [second.step("m1", x[0, t], t + 1) for t in (3, 4)]
    np.testing.assert_allclose(np.stack(ys), _prefix_outputs(model, x)[0, 3:], atol=1e-5)
    with pytest.raises(StoreUnavailableError, match="in use by another process or connection"):
        StreamEngine(model, url)           # SQLite is one process's store at a time
    second.store.close()
    other = StreamEngine(_float_model(seed=9), url)
    with pytest.raises(StateMismatchError, match="written by another model"):
        other.step("m1", x[0, 0], 6)


def test_limits_and_unsupported_models():
    model = _float_model()
    eng = StreamEngine(model, max_streams=2, ttl=60)
    eng.step("a", [0.0, 0.0, 0.0])
    eng.step("b", [0.0, 0.0, 0.0])
    with pytest.raises(InputValueError, match="max_streams=2 reached"):
        eng.step("c", [0.0, 0.0, 0.0])
    assert eng.evict_idle(now=eng.state("a").updated + 61) == ["a", "b"] and eng.streams() == []
    eng.step("c", [1.0, 2.0, 3.0])
    eng.reset("c")
    assert eng.state("c").seq == 0
    with pytest.raises(InputValueError, match="NaN, infinite"):
        eng.step("c", [np.nan, 0.0, 0.0])
    with pytest.raises(Exception, match=r"expected 3 number\(s\) per step"):
        eng.step("c", [1.0, 2.0])
    with pytest.raises(ConfigError, match="Bidirectional layer reads the future"):
        StreamEngine(Sequential([Input(shape=(None, 3)), Bidirectional(LSTM(4)), Dense(1)]))
    with pytest.raises(ConfigError, match="max_streams"):
        StreamEngine(model, max_streams=0)
    assert isinstance(open_store("memory://").ids(), list)


def test_step_groups_apply_or_refuse_each_group_alone():
    model = _float_model()
    x = np.random.default_rng(7).standard_normal((4, 3)).astype(np.float32)
    eng = StreamEngine(model)
    got = eng.step_groups([
        [("a", x[0], 1), ("a", x[1], 2)],          # fine
        [("b", x[0], 1), ("b", x[1], 3)],          # a gap: refused whole
        [("a", x[2], None), ("c", [1.0, 2.0], 1)],  # a bad shape: refused whole
        [("a", x[2], 3), ("b", x[3], 1)],          # sees the first group's numbers
    ])
    assert isinstance(got[1], SequenceError) and "seq 3 refused" in str(got[1])
    assert isinstance(got[2], LstmkitError) and "expected 3 number(s)" in str(got[2])
    assert eng.group_seqs == [[1, 2], [], [], [3, 1]]
    ref = _prefix_outputs(model, x[None, :3])[0]
    np.testing.assert_allclose(np.stack(got[0] + [got[3][0]]), ref, atol=1e-5)
    assert eng.state("a").seq == 3 and eng.state("b").seq == 1 and eng.state("c").seq == 0


def test_the_gate_trace_equals_the_reference_gates():
    from lstmkit.nn.reference import lstm_step

    torch.manual_seed(0)
    model = Sequential([Input(shape=(None, 3)), LSTM(5), Dense(2)])
    x = np.random.default_rng(8).standard_normal((3, 3)).astype(np.float32)
    eng = StreamEngine(model)
    w = model.layers[0].cell.direction_weights(0)
    h = c = torch.zeros(1, 5)
    for t in range(3):
        y, gates = eng.step("g", x[t], trace=True)
        ref = lstm_step(torch.from_numpy(x[t:t + 1]), h, c, w)
        h, c = ref.hidden_state, ref.cell_state
        layer = gates[model.layers[0].name]
        for name in ("input_gate", "forget_gate", "candidate", "output_gate", "cell_state", "hidden_state"):
            np.testing.assert_allclose(layer[name], getattr(ref, name)[0].detach().numpy(), atol=1e-5)
    y_again, none = eng.step("g", x[2], 3, trace=True)   # a repeat: the recorded output, no gates
    np.testing.assert_array_equal(y_again, y) and none == {}


def test_a_state_saved_by_the_first_version_still_loads(tmp_path):
    """Records written before the compact format (safetensors by name, the output as JSON) continue."""
    import json as _json

    from lstmkit.stream.programs import model_signature
    from lstmkit.stream.stores import StreamState

    model = _float_model()
    x = np.random.default_rng(9).standard_normal((4, 3)).astype(np.float32)
    ref = StreamEngine(model)
    outs = [ref.step("old", x[t]) for t in range(4)]
    tensors = ref.state("old")  # the state after 4 steps, by name
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = open_store(url)
    after2 = StreamEngine(model)
    [after2.step("old", x[t]) for t in range(2)]
    store.save([StreamState("old", model_signature(model), 2, after2.state("old").tensors,
                            output=_json.dumps(outs[1].tolist()))])
    store.close()
    eng = StreamEngine(model, url)
    np.testing.assert_allclose(eng.step("old", x[1], 2), outs[1], atol=1e-6)   # the recorded answer
    np.testing.assert_allclose(np.stack([eng.step("old", x[t]) for t in (2, 3)]), np.stack(outs[2:]), atol=1e-5)
    for k, v in tensors.tensors.items():
        np.testing.assert_allclose(eng.state("old").tensors[k], v, atol=1e-5)


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_two_engines_on_one_shared_store_never_lose_an_event(kind, tmp_path):
    """Two engines (two connections, as two processes would have) step the same streams from two
    threads at once with seq=None: every event is applied exactly once (compare-and-set saves)."""
    import threading

    from stream_stores import _open

    model = _float_model()
    first, cleanup = _open(kind, tmp_path)
    second = open_store(first.url)
    engines = [StreamEngine(model, first), StreamEngine(model, second)]
    x = np.full(3, 0.25, np.float32)   # one input for every event: the state depends only on the count
    per_thread, streams = 25, ["shared-1", "shared-2"]
    errors: list[BaseException] = []

    def work(eng):
        try:
            for _ in range(per_thread):
                eng.step_many([(sid, x, None) for sid in streams])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(e,)) for e in engines]
    [t.start() for t in threads]
    [t.join() for t in threads]
    try:
        assert not errors, errors
        solo = StreamEngine(model)
        want = [solo.step("one", x) for _ in range(2 * per_thread)][-1]
        for sid in streams:
            assert engines[0].state(sid).seq == 2 * per_thread
            np.testing.assert_allclose(engines[1].step(sid, x, 2 * per_thread), want, atol=1e-5)
    finally:
        if cleanup is not None:
            cleanup()
        second.close()
        first.close()


@pytest.mark.parametrize("token", [False, True])
def test_the_onnxruntime_step_backend_equals_the_kernels(token):
    """StreamEngine(backend="onnxruntime") steps the model's ONNX export with the state fed in and out:
    the same outputs as lstmkit's kernels and as predict on every prefix; "auto" picks the kernels."""
    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    if token:
        model = Sequential([Embedding(30, 6, mask_zero=True), LSTM(5, return_sequences=True), GRU(4),
                            Dense(3, activation="softmax")])
        xs = np.random.default_rng(3).integers(1, 30, size=(2, 5))
        events = [(f"t{n}", int(xs[n, t]), t + 1) for t in range(5) for n in range(2)]
    else:
        model = _float_model()
        xs = np.random.default_rng(3).standard_normal((2, 5, 3)).astype(np.float32)
        events = [(f"t{n}", xs[n, t], t + 1) for t in range(5) for n in range(2)]
    ort_engine = StreamEngine(model, backend="onnxruntime")
    kernel_engine = StreamEngine(model, backend="auto")
    assert ort_engine.info()["backend"] == "onnxruntime" and kernel_engine.info()["backend"] == "lstmkit"
    got = np.stack(ort_engine.step_many(events))
    np.testing.assert_allclose(got, np.stack(kernel_engine.step_many(events)), atol=1e-5)
    ref = _prefix_outputs(model, xs)
    np.testing.assert_allclose(got.reshape(5, 2, -1).transpose(1, 0, 2), ref, atol=1e-5)
    with pytest.raises(ConfigError, match="backend: expected one of auto, lstmkit, onnxruntime"):
        StreamEngine(model, backend="tensorrt")


def test_gru_model_signature_is_unchanged_by_the_reset_after_option():
    """GRU configs gained ``reset_after`` (issue 19); at its default the stream signature is the one the
    version before computed, so states that version saved for a GRU model still load."""
    import torch

    from lstmkit.layers import GRU, Bidirectional, Dense, Input
    from lstmkit.models import Sequential
    from lstmkit.stream.programs import model_signature

    torch.manual_seed(0)
    m = Sequential([Input(shape=(None, 3)), GRU(4, return_sequences=True), Bidirectional(GRU(2)), Dense(2)])
    assert model_signature(m) == "46beaf6a4cb9331568ae32f9534dc662e814c31dfb21d3c63cec4fe0d12a1e08"
