"""GlobalAveragePooling1D / GlobalMaxPooling1D: masked steps never count, config round trip, bad input."""

from __future__ import annotations

import pytest
import torch

from lstmkit.errors import ShapeError
from lstmkit.layers import LSTM, Dense, Embedding, GlobalAveragePooling1D, GlobalMaxPooling1D
from lstmkit.layers.base import layer_from_config, layer_to_config
from lstmkit.models import Sequential, load


@pytest.mark.parametrize("cls, reduce", [(GlobalAveragePooling1D, lambda t: t.mean(0)),
                                         (GlobalMaxPooling1D, lambda t: t.max(0).values)])
def test_masked_pooling_equals_pooling_the_real_steps(cls, reduce):
    x = torch.randn(3, 6, 4)
    mask = torch.tensor([[True] * 6, [True, True, False, False, False, False], [False] * 6])
    y = cls()(x, mask)
    torch.testing.assert_close(y[0], reduce(x[0]))
    torch.testing.assert_close(y[1], reduce(x[1, :2]))
    assert torch.equal(y[2], torch.zeros(4))  # an all-padding row: zeros, no NaN or -inf
    x2 = x.clone()
    x2[1, 2:] = 1e6  # whatever sits in the padding does not matter
    torch.testing.assert_close(cls()(x2, mask)[1], y[1])
    torch.testing.assert_close(cls()(x), torch.stack([reduce(r) for r in x]))  # no mask: every step


def test_bad_rank_and_mask_shape_are_shape_errors():
    with pytest.raises(ShapeError, match="GlobalMaxPooling1D"):
        GlobalMaxPooling1D()(torch.randn(2, 3))
    with pytest.raises(ShapeError, match=r"mask: expected shape \(2, 3\)"):
        GlobalAveragePooling1D()(torch.randn(2, 3, 4), torch.ones(2, 4, dtype=torch.bool))


def test_config_round_trip_and_model_save_load(tmp_path):
    again = layer_from_config(layer_to_config(GlobalAveragePooling1D(name="avg")))
    assert isinstance(again, GlobalAveragePooling1D) and again.name == "avg"
    model = Sequential([Embedding(12, 8, mask_zero=True), LSTM(8, return_sequences=True), GlobalMaxPooling1D(),
                        Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = torch.tensor([[3, 4, 5, 0, 0], [6, 7, 0, 0, 0]])
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m.lstmkit")
    assert (load(tmp_path / "m.lstmkit").predict(x, verbose=0) == before).all()
