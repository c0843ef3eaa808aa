"""Keras 3 recurrent flags (issue 19, part 2): ``Masking`` and ``stateful=True`` on LSTM/GRU/SimpleRNN.

``Masking`` zeroes the timesteps whose features all equal ``mask_value`` and its mask reaches the
recurrent layers (checked against Keras 3 on copied weights, to 1e-5). A stateful layer carries its
final state into the next call: two calls on the halves of a sequence equal one call on the whole
(and Keras's stateful layer on the same halves); ``reset_states()`` gives the fresh behaviour back;
another batch size is a one-line ConfigError; training detaches the state between batches. A saved
model keeps ``stateful`` and ``Masking`` in its config, but not the state itself.
"""

from __future__ import annotations


import numpy as np
import pytest
import torch

from lstmkit import layers as lk
from lstmkit.errors import ConfigError
from lstmkit.models import Sequential, load_model

from keras_peer import KERAS_MISSING, keras, needs_keras  # noqa: E402,F401  (real Keras 3, or why not)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
TOL = 1e-5
RECURRENT = {"LSTM": (lk.LSTM, "LSTM"), "GRU": (lk.GRU, "GRU"), "SimpleRNN": (lk.SimpleRNN, "SimpleRNN")}


def _x(shape: tuple, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.0, shape).astype("float32")


def _copy(keras_layer, ours) -> None:
    from lstmkit.interop.keras import _from_keras_weights

    _from_keras_weights(ours, [np.asarray(keras.ops.convert_to_numpy(w)) for w in keras_layer.weights])


def _np(t) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(t))


# ---------------------------------------------------------------------------------------- Masking
def test_masking_output_and_mask():
    x = torch.tensor([[[1.0, 2.0], [5.0, 5.0], [0.0, 5.0], [5.0, 5.0]]])
    layer = lk.Masking(mask_value=5.0)
    assert layer(x).tolist() == [[[1.0, 2.0], [0.0, 0.0], [0.0, 5.0], [0.0, 0.0]]]
    assert layer.compute_mask(x, None).tolist() == [[True, False, True, False]]
    assert lk.Masking().get_config()["mask_value"] == 0.0


@needs_keras
@pytest.mark.parametrize("name", sorted(RECURRENT))
@pytest.mark.parametrize("return_sequences", [False, True])
def test_masking_then_recurrent_matches_keras(name, return_sequences):
    ours_cls, keras_name = RECURRENT[name]
    x = _x((4, 7, 3))
    x[0, 5:] = 0.0      # padding after
    x[1, :3] = 0.0      # padding before
    x[2, 2] = 0.0       # a hole
    x[3, 4, 0] = 0.0    # one zero feature only: not masked
    # lstmkit zeroes the masked steps' outputs with return_sequences: Keras's zero_output_for_mask=True
    # (its default False repeats the previous output there).
    kl = getattr(keras.layers, keras_name)(5, return_sequences=return_sequences, zero_output_for_mask=return_sequences)
    km = keras.Sequential([keras.Input((7, 3)), keras.layers.Masking(0.0), kl])
    rng = np.random.default_rng(1)
    for w in km.weights:
        w.assign(rng.normal(0.0, 0.5, tuple(w.shape)).astype("float32"))
    rec = ours_cls(5, return_sequences=return_sequences)
    ours = Sequential([lk.Input(shape=(7, 3)), lk.Masking(0.0), rec])
    _copy(kl, rec)
    assert ours.count_params() == km.count_params()
    np.testing.assert_allclose(ours.predict(x), _np(km(x)), atol=TOL, rtol=TOL)


@needs_keras
def test_masking_value_other_than_zero_matches_keras():
    x = _x((3, 6, 2))
    x[0, 4:] = -1.0
    x[1, :2] = -1.0
    kl = keras.layers.LSTM(4)
    km = keras.Sequential([keras.Input((6, 2)), keras.layers.Masking(-1.0), kl])
    rec = lk.LSTM(4)
    ours = Sequential([lk.Input(shape=(6, 2)), lk.Masking(-1.0), rec])
    _copy(kl, rec)
    np.testing.assert_allclose(ours.predict(x), _np(km(x)), atol=TOL, rtol=TOL)


# ---------------------------------------------------------------------------------------- stateful
@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_stateful_halves_equal_whole(name):
    cls = RECURRENT[name][0]
    torch.manual_seed(0)
    whole_layer = cls(6, return_sequences=True)
    x = torch.from_numpy(_x((3, 8, 4)))
    whole = whole_layer(x)
    stateful = cls(6, return_sequences=True, stateful=True)
    stateful.build((None, 4))
    stateful.load_state_dict(whole_layer.state_dict())
    with torch.no_grad():
        halves = torch.cat([stateful(x[:, :4]), stateful(x[:, 4:])], dim=1)
    torch.testing.assert_close(halves, whole.detach(), atol=TOL, rtol=TOL)
    stateful.reset_states()
    with torch.no_grad():
        torch.testing.assert_close(stateful(x[:, :4]), whole[:, :4].detach(), atol=TOL, rtol=TOL)
    stateful.reset_state()  # Keras 3's name
    with torch.no_grad():
        torch.testing.assert_close(stateful(x[:, :4]), whole[:, :4].detach(), atol=TOL, rtol=TOL)


@needs_keras
@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_stateful_predict_matches_keras(name):
    ours_cls, keras_name = RECURRENT[name]
    x = _x((2, 10, 3), seed=3)
    kl = getattr(keras.layers, keras_name)(5, stateful=True)
    km = keras.Sequential([keras.Input(batch_shape=(2, 5, 3)), kl])
    rng = np.random.default_rng(2)
    for w in km.weights:
        if w.trainable:
            w.assign(rng.normal(0.0, 0.5, tuple(w.shape)).astype("float32"))
    rec = ours_cls(5, stateful=True)
    ours = Sequential([lk.Input(shape=(5, 3)), rec])
    _copy(kl, rec)
    fresh = Sequential([lk.Input(shape=(10, 3)), ours_cls(5)])
    _copy(kl, fresh.layers[-1])
    whole = fresh.predict(x)
    first, second = ours.predict(x[:, :5]), ours.predict(x[:, 5:])
    np.testing.assert_allclose(second, whole, atol=TOL, rtol=TOL)  # halves == one call on the whole
    np.testing.assert_allclose(first, _np(km.predict(x[:, :5], verbose=0)), atol=TOL, rtol=TOL)
    np.testing.assert_allclose(second, _np(km.predict(x[:, 5:], verbose=0)), atol=TOL, rtol=TOL)
    ours.reset_states()
    kl.reset_state()
    np.testing.assert_allclose(ours.predict(x[:, :5]), first, atol=TOL, rtol=TOL)
    np.testing.assert_allclose(_np(km.predict(x[:, :5], verbose=0)), first, atol=TOL, rtol=TOL)


@needs_keras
def test_stateful_with_masking_matches_keras():
    x = _x((2, 8, 3), seed=4)
    x[0, 2:4] = 0.0
    x[1, 5] = 0.0
    x[0, 4:] = 0.0  # row 0's second chunk is all padding: its state carries through unchanged
    kl = keras.layers.LSTM(4, stateful=True, return_sequences=True, zero_output_for_mask=True)
    km = keras.Sequential([keras.Input(batch_shape=(2, 4, 3)), keras.layers.Masking(), kl])
    rec = lk.LSTM(4, stateful=True, return_sequences=True)
    ours = Sequential([lk.Input(shape=(4, 3)), lk.Masking(), rec])
    _copy(kl, rec)
    for part in (x[:, :4], x[:, 4:]):
        np.testing.assert_allclose(ours.predict(part), _np(km.predict(part, verbose=0)), atol=TOL, rtol=TOL)


def test_model_reset_states_resets_every_stateful_layer():
    torch.manual_seed(0)
    model = Sequential([lk.Input(shape=(4, 3)), lk.LSTM(5, return_sequences=True, stateful=True),
                        lk.GRU(3, stateful=True), lk.Dense(1)])
    x = _x((2, 4, 3))
    first = model.predict(x)
    assert not np.allclose(model.predict(x), first)
    model.reset_states()
    assert all(layer._kept_states is None for layer in model.layers if getattr(layer, "stateful", False))
    np.testing.assert_allclose(model.predict(x), first, atol=TOL, rtol=TOL)


def test_other_batch_size_is_a_one_line_config_error():
    layer = lk.LSTM(3, stateful=True)
    layer(torch.zeros(2, 4, 3))
    with pytest.raises(ConfigError) as info:
        layer(torch.zeros(3, 4, 3))
    message = str(info.value)
    assert "\n" not in message and "batch size 2" in message and "reset_states()" in message
    layer.reset_states()
    assert layer(torch.zeros(3, 4, 3)).shape == (3, 3)  # any batch size after a reset
    with pytest.raises(ConfigError, match="stateful: expected True or False"):
        lk.GRU(2, stateful="yes")
    with pytest.raises(ConfigError, match="mask_value: expected a number"):
        lk.Masking(mask_value="0")


def test_stateless_layers_keep_nothing():
    layer = lk.LSTM(3)
    layer(torch.zeros(2, 4, 3))
    assert layer._kept_states is None
    assert layer(torch.zeros(5, 4, 3)).shape == (5, 3)


def test_stateful_training_detaches_between_batches():
    torch.manual_seed(0)
    model = Sequential([lk.Input(shape=(4, 2)), lk.LSTM(3, stateful=True), lk.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x, y = _x((8, 4, 2)), _x((8, 1), seed=1)
    history = model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    assert all(np.isfinite(v) for v in history.history["loss"])
    kept = model.layers[0]._kept_states
    assert kept is not None and all(not s.requires_grad and s.grad_fn is None for s in kept)
    # Two backward passes through consecutive batches: the second does not reach into the first graph.
    layer = lk.LSTM(3, stateful=True)
    layer(torch.randn(2, 4, 2)).sum().backward()
    layer(torch.randn(2, 4, 2)).sum().backward()


def test_save_and_load_with_masking_and_stateful(tmp_path):
    torch.manual_seed(0)
    model = Sequential([lk.Input(shape=(5, 3)), lk.Masking(mask_value=-1.0), lk.LSTM(4, stateful=True),
                        lk.Dense(2, activation="softmax")])
    x = _x((2, 5, 3))
    x[0, 3:] = -1.0
    fresh = model.predict(x)
    second = model.predict(x)  # the state is now non-zero; it is not saved
    model.save(tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert isinstance(loaded.layers[0], lk.Masking) and loaded.layers[0].mask_value == -1.0
    assert loaded.layers[1].stateful is True
    np.testing.assert_allclose(loaded.predict(x), fresh, atol=TOL, rtol=TOL)  # starts from zeros
    np.testing.assert_allclose(loaded.predict(x), second, atol=TOL, rtol=TOL)  # then carries on alike


def test_docstring_examples_run():
    import doctest

    from lstmkit.layers import masking, recurrent

    for module in (masking, recurrent):
        assert doctest.testmod(module).failed == 0
