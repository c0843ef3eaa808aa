"""Keras 3 layers added for Sequential (issue 19, part 2): RepeatVector, TimeDistributed,
LayerNormalization, Flatten, Reshape, Permute, Conv1D, MaxPooling1D, AveragePooling1D.

Each is checked against the same layer in Keras 3 (torch backend) on identical weights and inputs
(to 1e-5, equal parameter counts); Sequential models using them train a step, save and load with
identical predictions; unsupported arguments are one-line ConfigErrors naming the argument.
"""

from __future__ import annotations


import numpy as np
import pytest
import torch

from lstmkit import layers as lk
from lstmkit.errors import ConfigError, ShapeError
from lstmkit.models import Sequential, load_model

from keras_peer import KERAS_MISSING, keras, needs_keras  # noqa: E402,F401  (real Keras 3, or why not)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
TOL = 1e-5


def _batch(shape: tuple, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.0, shape).astype("float32")


def compare(keras_layer, our_layer, input_shape: tuple, n: int = 4, seed: int = 0) -> np.ndarray:
    """Build both layers on ``input_shape``, copy random weights Keras -> lstmkit, compare outputs and counts."""
    km = keras.Sequential([keras.Input(input_shape), keras_layer])
    rng = np.random.default_rng(seed + 1)
    for w in km.weights:
        w.assign(rng.normal(0.0, 0.5, tuple(w.shape)).astype("float32"))
    ours = Sequential([lk.Input(shape=input_shape), our_layer])
    weights = [np.asarray(keras.ops.convert_to_numpy(w)) for w in km.weights]
    assert [tuple(w.shape) for w in weights] == [tuple(w.shape) for w in our_layer.get_weights()]
    our_layer.set_weights(weights)
    assert our_layer.count_params() == keras_layer.count_params()
    assert ours.count_params() == km.count_params()
    x = _batch((n, *input_shape), seed)
    expected = np.asarray(keras.ops.convert_to_numpy(km(x)))
    got = ours.predict(x, verbose=0)
    assert got.shape == expected.shape
    assert ours.output_shape == tuple(km.output_shape)
    np.testing.assert_allclose(got, expected, atol=TOL, rtol=TOL)
    return got


# ------------------------------------------------------------------ parity with Keras
@needs_keras
def test_repeat_vector_matches_keras():
    compare(keras.layers.RepeatVector(3), lk.RepeatVector(3), (5,))


@needs_keras
@pytest.mark.parametrize("activation", [None, "relu", "softmax"])
def test_time_distributed_dense_matches_keras(activation):
    compare(keras.layers.TimeDistributed(keras.layers.Dense(3, activation=activation)),
            lk.TimeDistributed(lk.Dense(3, activation=activation)), (6, 4))


@needs_keras
def test_time_distributed_conv1d_matches_keras():
    compare(keras.layers.TimeDistributed(keras.layers.Conv1D(2, 2)), lk.TimeDistributed(lk.Conv1D(2, 2)), (3, 5, 4))


@needs_keras
@pytest.mark.parametrize("kwargs,shape", [
    ({}, (6, 4)),
    ({"epsilon": 1e-5, "center": False}, (6, 4)),
    ({"scale": False}, (4,)),
    ({"axis": [1, 2]}, (3, 4)),
])
def test_layer_normalization_matches_keras(kwargs, shape):
    compare(keras.layers.LayerNormalization(**kwargs), lk.LayerNormalization(**kwargs), shape)


@needs_keras
def test_flatten_reshape_permute_match_keras():
    compare(keras.layers.Flatten(), lk.Flatten(), (3, 4))
    compare(keras.layers.Reshape((2, 6)), lk.Reshape((2, 6)), (3, 4))
    compare(keras.layers.Reshape((-1, 2)), lk.Reshape((-1, 2)), (3, 4))
    compare(keras.layers.Permute((2, 1)), lk.Permute((2, 1)), (3, 4))
    compare(keras.layers.Permute((3, 1, 2)), lk.Permute((3, 1, 2)), (2, 3, 4))


@needs_keras
@pytest.mark.parametrize("kwargs", [
    {},
    {"padding": "same"},
    {"padding": "same", "strides": 2},
    {"padding": "causal", "dilation_rate": 2},
    {"padding": "valid", "strides": 3, "activation": "tanh"},
    {"use_bias": False, "padding": "same", "dilation_rate": 3},
])
def test_conv1d_matches_keras(kwargs):
    compare(keras.layers.Conv1D(5, 3, **kwargs), lk.Conv1D(5, 3, **kwargs), (11, 4))


@needs_keras
@pytest.mark.parametrize("cls", ["MaxPooling1D", "AveragePooling1D"])
@pytest.mark.parametrize("kwargs", [{}, {"pool_size": 3}, {"pool_size": 3, "strides": 1},
                                    {"padding": "same"}, {"pool_size": 3, "strides": 2, "padding": "same"},
                                    {"pool_size": 2, "strides": 1, "padding": "same"}])
def test_pooling_matches_keras(cls, kwargs):
    if cls == "AveragePooling1D":
        kwargs = {"pool_size": 2, **kwargs}  # required by Keras 3's AveragePooling1D (MaxPooling1D defaults to 2)
    compare(getattr(keras.layers, cls)(**kwargs), getattr(lk, cls)(**kwargs), (11, 4))


# ------------------------------------------------------------------ behaviour without Keras
def test_layer_normalization_over_a_middle_axis():
    # Keras 3.15's torch backend fails on axis=1 of (N, L, F) (torch.layer_norm wants the last axes),
    # so this one is checked against the formula.
    layer = lk.LayerNormalization(axis=1, epsilon=1e-3)
    x = torch.randn(2, 3, 4)
    layer.build((3, 4))
    with torch.no_grad():
        layer.gamma.copy_(torch.tensor([1.0, 2.0, 3.0]))
        layer.beta.copy_(torch.tensor([0.5, 0.0, -0.5]))
    mean, var = x.mean(1, keepdim=True), x.var(1, unbiased=False, keepdim=True)
    expected = (x - mean) / torch.sqrt(var + 1e-3) * layer.gamma.view(1, 3, 1) + layer.beta.view(1, 3, 1)
    torch.testing.assert_close(layer(x), expected, atol=1e-6, rtol=1e-6)
    assert layer.count_params() == 6


def test_causal_conv_sees_no_future():
    conv = lk.Conv1D(2, 3, padding="causal", dilation_rate=2)
    x = torch.randn(1, 10, 3)
    y = conv(x)
    x2 = x.clone()
    x2[:, 6:] += 5.0
    y2 = conv(x2)
    assert torch.equal(y[:, :6], y2[:, :6]) and not torch.allclose(y[:, 6:], y2[:, 6:])


def test_average_pooling_same_excludes_padding():
    x = torch.arange(5.0).reshape(1, 5, 1)
    y = lk.AveragePooling1D(4, strides=1, padding="same")(x)
    # total padding 3: one step left, two right; windows hold only real steps in the mean
    assert y[0, :, 0].tolist() == pytest.approx([1.0, 1.5, 2.5, 3.0, 3.5])


def test_masks_pass_or_drop_like_keras():
    x = torch.tensor([[1, 2, 0, 0], [3, 0, 0, 0]])
    mask = x != 0
    h = torch.randn(2, 4, 6)
    assert lk.TimeDistributed(lk.Dense(2)).compute_mask(h, mask) is mask
    assert lk.LayerNormalization().compute_mask(h, mask) is mask
    for layer in (lk.Flatten(), lk.Conv1D(2, 2), lk.MaxPooling1D(), lk.AveragePooling1D(2), lk.Reshape((24,)),
                  lk.Permute((2, 1))):
        assert layer.compute_mask(h, mask) is None
    # in a model: padding steps do not change the last state after TimeDistributed / LayerNormalization
    model = Sequential([lk.Embedding(10, 6, mask_zero=True), lk.TimeDistributed(lk.Dense(5)),
                        lk.LayerNormalization(), lk.LSTM(4)])
    a = model.predict(np.array([[1, 2, 3, 0, 0]]), verbose=0)
    b = model.predict(np.array([[1, 2, 3, 0, 0, 0, 0, 0]]), verbose=0)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_shapes_and_summary():
    model = Sequential([lk.Input(shape=(20, 3)), lk.Conv1D(8, 3, padding="same"), lk.MaxPooling1D(),
                        lk.Conv1D(4, 3), lk.AveragePooling1D(2, padding="same"), lk.Flatten(),
                        lk.RepeatVector(2), lk.Permute((2, 1)), lk.Reshape((-1,)), lk.Dense(1)])
    assert model.output_shape == (None, 1)
    shapes = [r[1] for r in model.summary_rows()]
    assert shapes[:6] == ["(None, 20, 8)", "(None, 10, 8)", "(None, 8, 4)", "(None, 4, 4)", "(None, 16)",
                          "(None, 2, 16)"]
    assert model(torch.zeros(2, 20, 3)).shape == (2, 1)
    # unknown length: Conv1D and pooling keep it unknown
    model = Sequential([lk.Input(shape=(None, 3)), lk.Conv1D(4, 3, padding="causal"), lk.MaxPooling1D(),
                        lk.TimeDistributed(lk.Dense(2))])
    assert model.output_shape == (None, None, 2)
    assert model(torch.zeros(2, 9, 3)).shape == (2, 4, 2)


def test_built_from_first_batch():
    assert Sequential([lk.Flatten(), lk.Dense(2)])(torch.zeros(3, 4, 5)).shape == (3, 2)
    assert Sequential([lk.Reshape((2, 10)), lk.LSTM(2)])(torch.zeros(3, 4, 5)).shape == (3, 2)
    assert Sequential([lk.LayerNormalization(axis=[1, 2])])(torch.zeros(3, 4, 5)).shape == (3, 4, 5)


def test_shape_errors_are_one_line():
    for build in (lambda: Sequential([lk.Input(shape=(3, 4)), lk.RepeatVector(2)]),
                  lambda: Sequential([lk.Input(shape=(2, 4)), lk.Conv1D(2, 3)]),
                  lambda: Sequential([lk.Input(shape=(12,)), lk.Reshape((5, -1))]),
                  lambda: Sequential([lk.Input(shape=(4,)), lk.MaxPooling1D()]),
                  lambda: Sequential([lk.Input(shape=(3, 4)), lk.Permute((1,))]),
                  lambda: Sequential([lk.Input(shape=(3, 4)), lk.LayerNormalization(axis=0)]),
                  lambda: Sequential([lk.Input(shape=(4,)), lk.TimeDistributed(lk.Dense(2))])):
        with pytest.raises(ShapeError) as info:
            build()
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("make,argument", [
    (lambda: lk.Conv1D(4, 3, groups=2), "groups"),
    (lambda: lk.Conv1D(4, 3, data_format="channels_first"), "data_format"),
    (lambda: lk.Conv1D(4, 3, kernel_regularizer="l2"), "kernel_regularizer"),
    (lambda: lk.Conv1D(4, 3, padding="full"), "padding"),
    (lambda: lk.Conv1D(0, 3), "filters"),
    (lambda: lk.Conv1D(4, 3, strides=2, dilation_rate=2), "strides"),
    (lambda: lk.MaxPooling1D(padding="causal"), "padding"),
    (lambda: lk.AveragePooling1D(pool_size=0), "pool_size"),
    (lambda: lk.AveragePooling1D(2, data_format="channels_first"), "data_format"),
    (lambda: lk.LayerNormalization(rms_scaling=True), "rms_scaling"),
    (lambda: lk.LayerNormalization(gamma_regularizer="l2"), "gamma_regularizer"),
    (lambda: lk.LayerNormalization(epsilon=0), "epsilon"),
    (lambda: lk.LayerNormalization(axis="last"), "axis"),
    (lambda: lk.RepeatVector(0), "n"),
    (lambda: lk.RepeatVector(2, foo=1), "foo"),
    (lambda: lk.Reshape((2, -1, -1)), "target_shape"),
    (lambda: lk.Reshape("ab"), "target_shape"),
    (lambda: lk.Permute((1, 3)), "dims"),
    (lambda: lk.Flatten(data_format="channels_first"), "data_format"),
    (lambda: lk.TimeDistributed("dense"), "layer"),
    (lambda: lk.TimeDistributed(lk.LSTM(2, return_state=True)), "layer"),
])
def test_bad_arguments_are_one_line_config_errors(make, argument):
    with pytest.raises(ConfigError) as info:
        make()
    message = str(info.value)
    assert message.startswith(f"{argument}:") and "\n" not in message


def test_keras_default_values_are_accepted():
    lk.Conv1D(4, (3,), strides=(1,), dilation_rate=[1], groups=1, data_format="channels_last", kernel_regularizer=None)
    lk.MaxPooling1D(pool_size=(2,), data_format=None)
    lk.LayerNormalization(rms_scaling=False, beta_constraint=None)
    lk.Flatten(data_format="channels_last")


# ------------------------------------------------------------------ Sequential: fit, save, load
MODELS = {
    "conv_pool_lstm": (lambda: Sequential([lk.Input(shape=(12, 3)), lk.Conv1D(6, 3, padding="causal", activation="relu"),
                                           lk.MaxPooling1D(), lk.LSTM(5), lk.Dense(2, activation="softmax")]),
                       (16, 12, 3), "categorical_crossentropy", (16, 2)),
    "lstm_time_distributed": (lambda: Sequential([lk.Input(shape=(7, 3)), lk.LSTM(5, return_sequences=True),
                                                  lk.LayerNormalization(), lk.TimeDistributed(lk.Dense(2))]),
                              (16, 7, 3), "mse", (16, 7, 2)),
    "repeat_vector_seq2seq": (lambda: Sequential([lk.Input(shape=(4,)), lk.Dense(6, activation="tanh"), lk.RepeatVector(5),
                                                  lk.LSTM(4, return_sequences=True),
                                                  lk.TimeDistributed(lk.Dense(3, activation="softmax"))]),
                              (16, 4), "categorical_crossentropy", (16, 5, 3)),
    "conv_avg_flatten": (lambda: Sequential([lk.Input(shape=(10, 2)), lk.Conv1D(4, 2, strides=2, padding="same"),
                                             lk.AveragePooling1D(2, strides=1, padding="same"), lk.Permute((2, 1)),
                                             lk.Reshape((4, 5)), lk.Flatten(), lk.Dense(1)]),
                         (16, 10, 2), "mse", (16, 1)),
}


@pytest.mark.parametrize("key", sorted(MODELS))
def test_sequential_fits_saves_and_loads(key, tmp_path):
    make, x_shape, loss, y_shape = MODELS[key]
    model = make()
    x = _batch(x_shape, 1)
    if loss == "categorical_crossentropy":
        labels = np.random.default_rng(2).integers(0, y_shape[-1], y_shape[:-1])
        y = np.eye(y_shape[-1], dtype="float32")[labels]
    else:
        y = _batch(y_shape, 2)
    model.compile(optimizer="adam", loss=loss)
    before = [p.detach().clone() for p in model.parameters()]
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    path = tmp_path / "m.lstmkit"
    model.save(path)
    loaded = load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    assert loaded.count_params() == model.count_params()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.get_config() == model.get_config()


def test_file_with_a_bad_layer_keyword_is_one_line(tmp_path):
    from lstmkit.errors import ModelFileError
    from lstmkit.models.serialization import _check_layer_specs

    good = {"class_name": "TimeDistributed", "config": {"layer": {"class_name": "Conv1D",
                                                                  "config": {"filters": 2, "kernel_size": 3}}}}
    _check_layer_specs(tmp_path / "m.lstmkit", {"layers": [good]})
    for config in ({"filters": 2, "kernel_size": 3, "groups": 4}, {"filters": 2, "kernel_size": 3, "bogus": 1}):
        with pytest.raises(ModelFileError) as info:
            _check_layer_specs(tmp_path / "m.lstmkit", {"layers": [good, {"class_name": "Conv1D", "config": config}]})
        assert "layers[1]" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("module", ["reshaping", "wrappers", "normalization", "convolutional", "keras_args"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"lstmkit.layers.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
