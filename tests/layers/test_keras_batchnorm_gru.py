"""Keras 3 ``BatchNormalization`` and ``GRU(reset_after=False)``.

BatchNormalization: outputs in training and inference mode and the moving statistics after one
training call equal Keras 3's (torch backend) on copied weights (to 1e-5), with and without a mask,
over other axes; the moving statistics are buffers saved and loaded with a Sequential model.

GRU(reset_after=False) (the reset gate before the recurrent product, one bias): equal to Keras's
with copied weights (return_sequences, go_backwards, no bias, masks, initial_state, return_state,
stateful, Bidirectional), same parameter counts, a float64 gradcheck; ``.keras`` files import and
export; the ONNX export (linear_before_reset=0) is checked against lstmkit; the stream engine refuses it
in one line.
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


def _x(shape: tuple, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.0, shape).astype("float32")


def _np(t) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(t))


# ============================================================================ BatchNormalization
def _bn_pair(kwargs: dict, shape: tuple, seed: int = 1):
    kl, ours = keras.layers.BatchNormalization(**kwargs), lk.BatchNormalization(**kwargs)
    kl.build((None, *shape))
    ours.build(shape)
    rng = np.random.default_rng(seed)
    weights = []
    for w in kl.weights:  # gamma, beta, moving_mean, moving_variance (those configured)
        value = rng.normal(0.0, 0.5, tuple(w.shape))
        if "variance" in w.path:
            value = rng.uniform(0.5, 2.0, tuple(w.shape))
        weights.append(value.astype("float32"))
    kl.set_weights(weights)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in weights]
    ours.set_weights(weights)
    assert ours.count_params() == kl.count_params()
    return kl, ours


@needs_keras
@pytest.mark.parametrize("kwargs,shape", [
    ({}, (6, 4)),
    ({"momentum": 0.9, "epsilon": 1e-5}, (6, 4)),
    ({"center": False}, (6, 4)),
    ({"scale": False}, (5,)),
    ({"axis": 1}, (6, 4)),
    ({"axis": -2, "momentum": 0.5}, (3, 5, 2)),
])
def test_batch_normalization_matches_keras(kwargs, shape):
    kl, ours = _bn_pair(kwargs, shape)
    x = _x((8, *shape)) * 3.0 + 1.5
    ours.eval()
    np.testing.assert_allclose(ours(torch.from_numpy(x)).detach().numpy(), _np(kl(x, training=False)),
                               atol=TOL, rtol=TOL)
    ours.train()
    got = ours(torch.from_numpy(x))
    expected = kl(x, training=True)
    np.testing.assert_allclose(got.detach().numpy(), _np(expected), atol=TOL, rtol=TOL)
    np.testing.assert_allclose(ours.moving_mean.numpy(), _np(kl.moving_mean), atol=TOL, rtol=TOL)
    np.testing.assert_allclose(ours.moving_variance.numpy(), _np(kl.moving_variance), atol=TOL, rtol=TOL)
    for a, b in zip(ours.get_weights(), kl.get_weights()):
        np.testing.assert_allclose(a, b, atol=TOL, rtol=TOL)
    ours.eval()  # inference now uses the updated moving statistics
    np.testing.assert_allclose(ours(torch.from_numpy(x)).detach().numpy(), _np(kl(x, training=False)),
                               atol=TOL, rtol=TOL)


@needs_keras
@pytest.mark.parametrize("axis", [-1, 1])
def test_batch_normalization_with_a_mask_matches_keras(axis):
    kl, ours = _bn_pair({"axis": axis, "momentum": 0.8}, (6, 4))
    x = _x((5, 6, 4)) * 2.0 - 1.0
    mask = np.ones((5, 6), bool)
    mask[0, 4:] = False
    mask[1, :2] = False
    mask[3] = False  # a row with no real step
    ours.train()
    got = ours(torch.from_numpy(x), torch.from_numpy(mask))
    np.testing.assert_allclose(got.detach().numpy(), _np(kl(x, training=True, mask=mask)), atol=TOL, rtol=TOL)
    np.testing.assert_allclose(ours.moving_mean.numpy(), _np(kl.moving_mean), atol=TOL, rtol=TOL)
    np.testing.assert_allclose(ours.moving_variance.numpy(), _np(kl.moving_variance), atol=TOL, rtol=TOL)
    assert ours.compute_mask(torch.from_numpy(x), torch.from_numpy(mask)).tolist() == mask.tolist()


def test_batch_normalization_masked_statistics_ignore_padding():
    torch.manual_seed(0)
    model = Sequential([lk.Embedding(10, 4, mask_zero=True), lk.BatchNormalization(momentum=0.0)])
    model.train()
    short = model(torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]]))
    mean_short = model.layers[1].moving_mean.clone()
    long = model(torch.tensor([[1, 2, 3, 0, 0, 0, 0], [4, 5, 0, 0, 0, 0, 0]]))
    torch.testing.assert_close(long[0, :3], short[0, :3])
    torch.testing.assert_close(long[1, :2], short[1, :2])
    torch.testing.assert_close(model.layers[1].moving_mean, mean_short)


def test_batch_normalization_frozen_runs_in_inference_mode():
    """Keras 3: trainable=False makes BatchNormalization use (and keep) its moving statistics."""
    layer = lk.BatchNormalization(trainable=False)
    x = torch.randn(6, 3) * 4 + 2
    layer.build((3,))
    layer.train()
    torch.testing.assert_close(layer(x), x / torch.sqrt(torch.tensor(1.0 + 1e-3)))
    assert layer.moving_mean.tolist() == [0.0, 0.0, 0.0] and layer.moving_variance.tolist() == [1.0, 1.0, 1.0]


def test_batch_normalization_trains_saves_and_loads(tmp_path):
    torch.manual_seed(0)
    model = Sequential([lk.Input(shape=(7, 3)), lk.LSTM(5, return_sequences=True), lk.BatchNormalization(),
                        lk.GRU(4, reset_after=False), lk.BatchNormalization(center=False), lk.Dense(2)])
    bn = model.layers[1]
    assert "layers.1.moving_mean" in model.state_dict() and "layers.1.moving_variance" in model.state_dict()
    assert [name for name, _ in bn.named_parameters()] == ["gamma", "beta"]
    x, y = _x((16, 7, 3)) + 2.0, _x((16, 2), 1)
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert bn.moving_mean.abs().sum() > 0 and not torch.allclose(bn.moving_variance, torch.ones(5))
    path = tmp_path / "m.lstmkit"
    model.save(path)
    loaded = load_model(path)
    assert loaded.get_config() == model.get_config()
    torch.testing.assert_close(loaded.layers[1].moving_mean, bn.moving_mean)
    torch.testing.assert_close(loaded.layers[1].moving_variance, bn.moving_variance)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.layers[2].get_config()["reset_after"] is False


@pytest.mark.parametrize("make,argument", [
    (lambda: lk.BatchNormalization(renorm=True), "renorm"),
    (lambda: lk.BatchNormalization(renorm_clipping={"rmax": 3}), "renorm_clipping"),
    (lambda: lk.BatchNormalization(renorm_momentum=0.9), "renorm_momentum"),
    (lambda: lk.BatchNormalization(synchronized=True), "synchronized"),
    (lambda: lk.BatchNormalization(beta_regularizer="l2"), "beta_regularizer"),
    (lambda: lk.BatchNormalization(gamma_constraint="non_neg"), "gamma_constraint"),
    (lambda: lk.BatchNormalization(axis=[1, 2]), "axis"),
    (lambda: lk.BatchNormalization(momentum=1.5), "momentum"),
    (lambda: lk.BatchNormalization(epsilon=0.0), "epsilon"),
    (lambda: lk.BatchNormalization(center="yes"), "center"),
    (lambda: lk.BatchNormalization(moving_variance_initializer="twos"), "moving_variance_initializer"),
    (lambda: lk.BatchNormalization(fused=True), "fused"),
    (lambda: lk.GRU(4, reset_after="no"), "reset_after"),
])
def test_bad_arguments_are_one_line_config_errors(make, argument):
    with pytest.raises(ConfigError) as info:
        make()
    message = str(info.value)
    assert message.startswith(f"{argument}:") and "\n" not in message


def test_batch_normalization_shape_errors_are_one_line():
    lk.BatchNormalization(renorm=False, synchronized=False, beta_regularizer=None, renorm_momentum=0.99)
    for run in (lambda: Sequential([lk.Input(shape=(3, 4)), lk.BatchNormalization(axis=0)]),
                lambda: Sequential([lk.Input(shape=(3, 4)), lk.BatchNormalization(axis=3)]),
                lambda: Sequential([lk.Input(shape=(None, 4)), lk.BatchNormalization(axis=1)]),
                lambda: lk.BatchNormalization()(torch.randn(2, 3, 4), torch.ones(2, 4, dtype=torch.bool)),
                lambda: lk.BatchNormalization().set_weights([np.ones(3)] * 3)):
        with pytest.raises(ShapeError) as info:
            run()
        assert "\n" not in str(info.value)
    layer = lk.BatchNormalization()
    layer.build((4,))
    with pytest.raises(ShapeError):
        layer(torch.randn(2, 5))


# ============================================================================ GRU(reset_after=False)
def _copy(keras_layer, ours) -> None:
    from lstmkit.interop.keras import _from_keras_weights

    _from_keras_weights(ours, [np.asarray(keras.ops.convert_to_numpy(w)) for w in keras_layer.weights])


def _randomize(keras_model, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    for w in keras_model.weights:
        if w.trainable:
            w.assign(rng.normal(0.0, 0.5, tuple(w.shape)).astype("float32"))


def test_gru_reset_before_counts_and_layout():
    assert Sequential([lk.Input((10, 128)), lk.GRU(64, reset_after=False)]).count_params() == 37_056
    assert Sequential([lk.Input((10, 128)), lk.GRU(64)]).count_params() == 37_248
    layer = lk.GRU(4, reset_after=False)
    layer.build((None, 3))
    assert {n: tuple(p.shape) for n, p in layer.named_parameters()} == {
        "cell.weight_ih_l0": (12, 3), "cell.weight_hh_l0": (12, 4), "cell.bias_ih_l0": (12,)}
    assert not lk.GRU(4, reset_after=False, use_bias=False)(torch.zeros(1, 2, 3)).any()
    assert lk.GRU(4, reset_after=False).get_config()["reset_after"] is False
    assert lk.GRU(4).get_config()["reset_after"] is True


@needs_keras
@pytest.mark.parametrize("kwargs", [
    {}, {"return_sequences": True}, {"go_backwards": True}, {"go_backwards": True, "return_sequences": True},
    {"use_bias": False},
])
def test_gru_reset_before_matches_keras(kwargs):
    kl = keras.layers.GRU(5, reset_after=False, **kwargs)
    km = keras.Sequential([keras.Input((7, 3)), kl])
    _randomize(km)
    rec = lk.GRU(5, reset_after=False, **kwargs)
    ours = Sequential([lk.Input(shape=(7, 3)), rec])
    _copy(kl, rec)
    assert ours.count_params() == km.count_params() and rec.count_params() == kl.count_params()
    x = _x((4, 7, 3))
    np.testing.assert_allclose(ours.predict(x, verbose=0), _np(km(x)), atol=TOL, rtol=TOL)


@needs_keras
@pytest.mark.parametrize("return_sequences", [False, True])
def test_gru_reset_before_with_masking_matches_keras(return_sequences):
    x = _x((4, 7, 3))
    x[0, 5:] = 0.0      # padding after
    x[1, :3] = 0.0      # padding before
    x[2, 2] = 0.0       # a hole
    x[3] = 0.0          # no real step
    kl = keras.layers.GRU(5, reset_after=False, return_sequences=return_sequences,
                          zero_output_for_mask=return_sequences)
    km = keras.Sequential([keras.Input((7, 3)), keras.layers.Masking(0.0), kl])
    _randomize(km)
    rec = lk.GRU(5, reset_after=False, return_sequences=return_sequences)
    ours = Sequential([lk.Input(shape=(7, 3)), lk.Masking(0.0), rec])
    _copy(kl, rec)
    np.testing.assert_allclose(ours.predict(x, verbose=0), _np(km(x)), atol=TOL, rtol=TOL)


@needs_keras
def test_gru_reset_before_initial_and_returned_state_match_keras():
    x, h0 = _x((3, 6, 4)), _x((3, 5), 7)
    mask = np.ones((3, 6), bool)
    mask[0, 4:] = False
    mask[2] = False  # no real step: the state stays h0
    kl = keras.layers.GRU(5, reset_after=False, return_state=True, return_sequences=True, zero_output_for_mask=True)
    kl.build((None, 6, 4))
    _randomize(kl)
    rec = lk.GRU(5, reset_after=False, return_state=True, return_sequences=True)
    rec.build((None, 4))
    _copy(kl, rec)
    for m in (None, mask):
        expected = kl(x, initial_state=[h0], mask=m)
        got = rec(torch.from_numpy(x), None if m is None else torch.from_numpy(m), initial_state=[torch.from_numpy(h0)])
        assert len(got) == len(expected) == 2
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a.detach().numpy(), _np(b), atol=TOL, rtol=TOL)
    assert np.allclose(got[1][2].detach().numpy(), h0[2])


@needs_keras
def test_gru_reset_before_stateful_matches_keras():
    x = _x((2, 10, 3), seed=3)
    kl = keras.layers.GRU(5, reset_after=False, stateful=True)
    km = keras.Sequential([keras.Input(batch_shape=(2, 5, 3)), kl])
    _randomize(km, 2)
    rec = lk.GRU(5, reset_after=False, stateful=True)
    ours = Sequential([lk.Input(shape=(5, 3)), rec])
    _copy(kl, rec)
    fresh = Sequential([lk.Input(shape=(10, 3)), lk.GRU(5, reset_after=False)])
    _copy(kl, fresh.layers[-1])
    first, second = ours.predict(x[:, :5], verbose=0), ours.predict(x[:, 5:], verbose=0)
    np.testing.assert_allclose(second, fresh.predict(x, verbose=0), atol=TOL, rtol=TOL)
    np.testing.assert_allclose(first, _np(km.predict(x[:, :5], verbose=0)), atol=TOL, rtol=TOL)
    np.testing.assert_allclose(second, _np(km.predict(x[:, 5:], verbose=0)), atol=TOL, rtol=TOL)
    ours.reset_states()
    np.testing.assert_allclose(ours.predict(x[:, :5], verbose=0), first, atol=TOL, rtol=TOL)


@needs_keras
@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
def test_gru_reset_before_bidirectional_matches_keras(merge_mode):
    kl = keras.layers.Bidirectional(keras.layers.GRU(4, reset_after=False, return_sequences=True), merge_mode=merge_mode)
    km = keras.Sequential([keras.Input((6, 3)), kl])
    _randomize(km)
    rec = lk.Bidirectional(lk.GRU(4, reset_after=False, return_sequences=True), merge_mode=merge_mode)
    ours = Sequential([lk.Input(shape=(6, 3)), rec])
    _copy(kl.forward_layer, rec.forward_layer)
    _copy(kl.backward_layer, rec.backward_layer)
    assert ours.count_params() == km.count_params()
    x = _x((3, 6, 3))
    np.testing.assert_allclose(ours.predict(x, verbose=0), _np(km(x)), atol=TOL, rtol=TOL)


def test_gru_reset_before_gradcheck_float64():
    torch.manual_seed(0)
    layer = lk.GRU(3, reset_after=False, return_sequences=True).double()
    layer.build((None, 2))
    layer.double()
    cell = layer.cell
    x = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, h: layer(a, initial_state=[h]), (x, h0))
    names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0"]
    weights = tuple(getattr(cell, n).detach().clone().requires_grad_(True) for n in names)

    def run(a, *w):
        out, h = torch.func.functional_call(cell, dict(zip(names, w)), (a,), {"lengths": torch.tensor([4, 2])})
        return out, h

    assert torch.autograd.gradcheck(run, (x, *weights))


def test_gru_reset_before_equations():
    """One step by hand: n = tanh(W_in x + b_n + W_hn (r * h)), h' = z h + (1 - z) n (gates r, z, n)."""
    torch.manual_seed(0)
    layer = lk.GRU(3, reset_after=False, return_state=True)
    layer.build((None, 2))
    with torch.no_grad():
        layer.cell.bias_ih_l0.normal_()
    x, h = torch.randn(4, 1, 2), torch.randn(4, 3)
    w_ih, w_hh, b = layer.cell.weight_ih_l0, layer.cell.weight_hh_l0, layer.cell.bias_ih_l0
    gx = x[:, 0] @ w_ih.T + b
    r = torch.sigmoid(gx[:, :3] + h @ w_hh[:3].T)
    z = torch.sigmoid(gx[:, 3:6] + h @ w_hh[3:6].T)
    n = torch.tanh(gx[:, 6:] + (r * h) @ w_hh[6:].T)
    out, state = layer(x, initial_state=[h])
    torch.testing.assert_close(out, z * h + (1 - z) * n)
    torch.testing.assert_close(state, out)


# ------------------------------------------------------------------ .keras files, ONNX, stream
@needs_keras
def test_keras_file_with_reset_after_false_imports_and_exports(tmp_path):
    from lstmkit.interop.keras import load_keras, save_keras

    km = keras.Sequential([keras.Input((None, 3)), keras.layers.GRU(5, reset_after=False, return_sequences=True),
                           keras.layers.Bidirectional(keras.layers.GRU(4, reset_after=False)), keras.layers.Dense(2)])
    _randomize(km)
    km.save(tmp_path / "m.keras")
    model = load_keras(tmp_path / "m.keras")
    assert [getattr(layer, "reset_after", None) for layer in model.layers[:1]] == [False]
    assert model.layers[1].forward_layer.reset_after is False and model.layers[1].backward_layer.reset_after is False
    x = _x((3, 6, 3))
    np.testing.assert_allclose(model.predict(x, verbose=0), _np(km(x)), atol=TOL, rtol=TOL)
    assert model.count_params() == km.count_params()
    save_keras(model, tmp_path / "back.keras")
    back = keras.saving.load_model(tmp_path / "back.keras")
    assert back.layers[0].reset_after is False
    np.testing.assert_allclose(_np(back(x)), model.predict(x, verbose=0), atol=TOL, rtol=TOL)


def test_onnx_export_of_reset_before_gru(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from lstmkit.export import to_onnx

    torch.manual_seed(0)
    model = Sequential([lk.Embedding(20, 4, mask_zero=True),
                        lk.Bidirectional(lk.GRU(5, reset_after=False, return_sequences=True)),
                        lk.GRU(3, reset_after=False, go_backwards=True), lk.Dense(2)])
    model.build((None, 6))
    with torch.no_grad():
        for cell in (model.layers[1].forward_layer.cell, model.layers[1].backward_layer.cell, model.layers[2].cell):
            cell.bias_ih_l0.normal_()
    path = to_onnx(model, tmp_path / "m.onnx")  # checked against lstmkit on the spot
    ids = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 9], [3, 0, 0, 0, 0, 0]], dtype=np.int64)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: (ids if i.name == "input" else np.zeros((int(i.shape[0]), 3, int(i.shape[2])), np.float32))
             for i in session.get_inputs()}
    out = session.run(None, feeds)[0]
    np.testing.assert_allclose(out, model.predict(ids, verbose=0), atol=TOL, rtol=TOL)
    mixed = Sequential([lk.Input((6, 3)), lk.Bidirectional(lk.GRU(3, reset_after=False),
                                                           backward_layer=lk.GRU(3, go_backwards=True))])
    with pytest.raises(ConfigError, match="same reset_after") as info:
        to_onnx(mixed, tmp_path / "mixed.onnx")
    assert "\n" not in str(info.value)


def test_stream_engine_refuses_reset_before_gru():
    from lstmkit.stream.programs import SequentialProgram

    model = Sequential([lk.Embedding(20, 4), lk.GRU(5, reset_after=False), lk.Dense(2)])
    model.build((None, 6))
    with pytest.raises(ConfigError) as info:
        SequentialProgram(model)
    assert "reset_after=False" in str(info.value) and "\n" not in str(info.value)


def test_docstring_examples_run():
    import doctest

    from lstmkit.layers import normalization, recurrent

    for module in (normalization, recurrent):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0
