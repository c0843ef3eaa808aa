"""StreamEngine: stepping event by event equals running the model at once, on every store; ordered,
idempotent, never crossing streams; the state survives a restart and refuses another model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stream_stores import store  # noqa: F401  (the fixture: every store kind)

from lstmkit.errors import ConfigError, InputValueError
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
    with pytest.raises(InputValueError, match="NaN or infinite"):
        eng.step("c", [np.nan, 0.0, 0.0])
    with pytest.raises(Exception, match=r"expected 3 number\(s\) per step"):
        eng.step("c", [1.0, 2.0])
    with pytest.raises(ConfigError, match="Bidirectional layer reads the future"):
        StreamEngine(Sequential([Input(shape=(None, 3)), Bidirectional(LSTM(4)), Dense(1)]))
    with pytest.raises(ConfigError, match="max_streams"):
        StreamEngine(model, max_streams=0)
    assert isinstance(open_store("memory://").ids(), list)
