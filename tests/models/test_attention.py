"""AttentionPooling: shapes, masking, config / save-load round trip, and that it learns a tiny task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmkit.errors import ShapeError
from lstmkit.layers import LSTM, AttentionPooling, Dense, Embedding
from lstmkit.layers.base import layer_from_config, layer_to_config
from lstmkit.models import Sequential, load


def test_shapes_and_weights_sum_to_one():
    pool = AttentionPooling(4)
    x = torch.randn(3, 6, 5)
    y = pool(x)
    assert y.shape == (3, 5)
    assert pool.last_attention.shape == (3, 6)
    torch.testing.assert_close(pool.last_attention.sum(1), torch.ones(3))
    assert pool.count_params() == 5 * 4 + 4 + 4


def test_masked_steps_get_zero_weight_and_do_not_change_the_output():
    pool = AttentionPooling(4)
    x = torch.randn(2, 5, 3)
    mask = torch.tensor([[True, True, True, False, False], [False] * 5])
    y = pool(x, mask)
    w = pool.last_attention
    assert torch.all(w[0, 3:] == 0) and torch.all(w[1] == 0)
    torch.testing.assert_close(w[0].sum(), torch.tensor(1.0))
    torch.testing.assert_close(y[1], torch.zeros(3))  # an all-padding row: zeros, no NaN
    x2 = x.clone()
    x2[0, 3:] = 100.0  # whatever sits in the padding does not matter
    torch.testing.assert_close(pool(x2, mask)[0], y[0])
    torch.testing.assert_close(y[0], pool(x[:1, :3])[0])  # same as the unpadded row


def test_bad_input_rank_is_shape_error():
    with pytest.raises(ShapeError, match="AttentionPooling"):
        AttentionPooling(4)(torch.randn(2, 3))


def test_config_round_trip():
    pool = AttentionPooling(7, name="att")
    again = layer_from_config(layer_to_config(pool))
    assert isinstance(again, AttentionPooling) and again.units == 7 and again.name == "att"


def _model():
    model = Sequential([Embedding(12, 8, mask_zero=True), LSTM(8, return_sequences=True), AttentionPooling(8),
                        Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _task(n=200, length=8, seed=0):
    """Class 1 iff token 2 occurs anywhere in the (post-padded) row."""
    rng = np.random.default_rng(seed)
    x = rng.integers(3, 12, size=(n, length))
    y = rng.integers(0, 2, size=n)
    for i in range(n):
        if y[i]:
            x[i, rng.integers(0, length)] = 2
        x[i, rng.integers(3, length + 1):] = 0  # padding at the end
        if y[i] and not (x[i] == 2).any():
            x[i, 0] = 2
    return x, y


def test_learns_a_tiny_task_and_saves(tmp_path):
    x, y = _task()
    model = _model()
    model.fit(x, y, epochs=25, batch_size=32, verbose=0)
    acc = model.evaluate(x, y, verbose=0)
    acc = acc["accuracy"] if isinstance(acc, dict) else acc[1]
    assert acc > 0.9
    path = tmp_path / "att.lstmkit"
    model.save(path)
    again = load(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_docstring_example_runs():
    import doctest

    import lstmkit.layers.attention as mod

    assert doctest.testmod(mod).failed == 0
