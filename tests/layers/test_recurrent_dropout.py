"""Keras's ``recurrent_dropout`` on ``GRU`` (``reset_after=True`` and ``False``) and ``SimpleRNN``.

In eval mode the rate changes nothing (bit for bit the fast path). In training the layers run a
per-step loop (``recurrent._dropout_loop``) that, with its masks all ones, equals the fast path (masks,
go_backwards, initial_state, return_state, stateful); its masks are one per sequence, shared by all
steps, dropping ``rate`` of the units, and unbiased; each step follows Keras's equations (checked by
hand and against Keras 3 with the same masks); gradients flow (a float64 gradcheck). Keras parity in
inference, ``.keras`` files keep the rate both ways, and the ONNX export and the stream engine run a
model with recurrent dropout exactly like the same model without it.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lstmkit import layers as lk
from lstmkit.errors import ConfigError, LstmkitWarning
from lstmkit.layers import recurrent
from lstmkit.models import Sequential, load_model

from keras_peer import KERAS_MISSING, keras, needs_keras  # noqa: E402,F401  (real Keras 3, or why not)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
TOL = 1e-5
TINY = 1e-9  # a rate whose masks are all ones (1 - 1e-9 rounds to 1 in float32): the loop without dropout

#: name -> (constructor of a layer with the given rate, _dropout_loop kind)
KINDS = {
    "gru": (lambda r, **kw: lk.GRU(5, recurrent_dropout=r, **kw), "gru"),
    "gru_before": (lambda r, **kw: lk.GRU(5, reset_after=False, recurrent_dropout=r, **kw), "gru_before"),
    "simple_rnn": (lambda r, **kw: lk.SimpleRNN(5, recurrent_dropout=r, **kw), "rnn"),
}
FEATURES = 4


def _x(shape: tuple, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).normal(0.0, 1.0, shape).astype("float32"))


def _jitter(module: torch.nn.Module, seed: int = 0, scale: float = 0.3) -> None:
    """Non-zero biases and irregular weights, so a misplaced bias or gate shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))


def _pair(name: str, rate: float, **kwargs):
    """(layer with recurrent_dropout=rate, the same layer with 0.0), same weights."""
    make, _ = KINDS[name]
    a, b = make(rate, **kwargs), make(0.0, **kwargs)
    a.build((None, FEATURES))
    b.build((None, FEATURES))
    _jitter(a)
    b.load_state_dict(a.state_dict())
    return a, b


def _mask() -> torch.Tensor:
    m = torch.ones(4, 7, dtype=torch.bool)
    m[0, 5:] = False    # padding after
    m[1, :3] = False    # padding before
    m[2, 2] = False     # a hole
    m[2, 4] = False
    m[3] = False        # no real step
    return m


def _outputs(y) -> list[torch.Tensor]:
    return list(y) if isinstance(y, list) else [y]


# =============================================================================== config, validation
@pytest.mark.parametrize("name", sorted(KINDS))
def test_rate_is_validated_and_saved(name, tmp_path):
    make, _ = KINDS[name]
    layer = make(0.25)
    assert layer.get_config()["recurrent_dropout"] == 0.25
    assert type(layer).from_config(layer.get_config()).recurrent_dropout == 0.25
    for bad in (1.0, -0.1, "0.2", True):
        with pytest.raises(ConfigError, match="recurrent_dropout: expected a float in \\[0, 1\\)"):
            make(bad)
    model = Sequential([lk.Input((None, FEATURES)), make(0.25), lk.Dense(1)])
    model.save(tmp_path / "m.lstmkit")
    assert load_model(tmp_path / "m.lstmkit").layers[0].recurrent_dropout == 0.25


# =============================================================================== (a) eval: unchanged
@pytest.mark.parametrize("name", sorted(KINDS))
@pytest.mark.parametrize("kwargs", [{}, {"return_sequences": True, "return_state": True}, {"go_backwards": True}])
def test_eval_mode_is_bit_for_bit_the_rate_zero_layer(name, kwargs):
    a, b = _pair(name, 0.4, dropout=0.3, **kwargs)
    a.eval()
    b.eval()
    x, h0 = _x((4, 7, FEATURES)), _x((4, 5), 1)
    for mask in (None, _mask()):
        for init in (None, [h0]):
            for ya, yb in zip(_outputs(a(x, mask, initial_state=init)), _outputs(b(x, mask, initial_state=init))):
                assert torch.equal(ya, yb)
    assert a._loop_keeps(x) is None  # eval: the fast path, no masks drawn


def test_eval_mode_inside_bidirectional_and_sequential():
    torch.manual_seed(3)
    model = Sequential([lk.Input((None, FEATURES)),
                        lk.Bidirectional(lk.GRU(4, recurrent_dropout=0.5, return_sequences=True)),
                        lk.SimpleRNN(3, recurrent_dropout=0.5), lk.Dense(2)])
    twin = Sequential([lk.Input((None, FEATURES)), lk.Bidirectional(lk.GRU(4, return_sequences=True)),
                       lk.SimpleRNN(3), lk.Dense(2)])
    twin.load_state_dict(model.state_dict())
    x = _x((3, 6, FEATURES)).numpy()
    np.testing.assert_array_equal(model.predict(x, verbose=0), twin.predict(x, verbose=0))
    model.train()
    assert not torch.allclose(model(torch.from_numpy(x)), twin(torch.from_numpy(x)))


# ======================================================= (b) the loop with all-ones masks = the fast path
CASES = {
    "plain": ({}, False, False),
    "sequences": ({"return_sequences": True}, False, False),
    "mask": ({}, True, False),
    "mask_sequences": ({"return_sequences": True}, True, False),
    "backwards_mask": ({"go_backwards": True, "return_sequences": True}, True, False),
    "state": ({"return_state": True}, True, True),
    "state_sequences_backwards": ({"return_state": True, "return_sequences": True, "go_backwards": True}, True, True),
    "initial_no_mask": ({"return_sequences": True}, False, True),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", sorted(KINDS))
def test_loop_without_dropout_equals_fast_path(name, case):
    kwargs, use_mask, use_init = CASES[case]
    loop, fast = _pair(name, TINY, **kwargs)
    loop.train()
    fast.train()
    x = _x((4, 7, FEATURES)).requires_grad_(True)
    h0 = _x((4, 5), 2) if use_init else None
    mask = _mask() if use_mask else None
    keeps = loop._loop_keeps(x)
    assert keeps is not None and keeps[0] is None and bool((keeps[1] == 1.0).all())  # the loop runs, masks all ones
    got = _outputs(loop(x, mask, initial_state=None if h0 is None else [h0]))
    want = _outputs(fast(x, mask, initial_state=None if h0 is None else [h0]))
    assert len(got) == len(want) == (2 if kwargs.get("return_state") else 1)
    for a, b in zip(got, want):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=TOL, rtol=TOL)
    if use_mask and kwargs.get("return_sequences"):  # masked steps output zeros in both
        order = _mask().flip(1) if kwargs.get("go_backwards") else _mask()
        assert not got[0][~order].any()
    if use_mask and use_init and kwargs.get("return_state"):  # the row without a real step keeps its state
        torch.testing.assert_close(got[-1][3], h0[3], atol=0, rtol=0)
    # and the gradients of the two paths agree too
    gx_loop, = torch.autograd.grad(sum(g.sum() for g in got), x)
    gx_fast, = torch.autograd.grad(sum(w.sum() for w in want), x)
    torch.testing.assert_close(gx_loop, gx_fast, atol=TOL, rtol=TOL)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_stateful_loop_equals_fast_path(name):
    loop, fast = _pair(name, TINY, stateful=True, return_sequences=True)
    loop.train()
    fast.train()
    x = _x((3, 8, FEATURES), 4)
    for chunk in (x[:, :3], x[:, 3:]):
        torch.testing.assert_close(loop(chunk), fast(chunk), atol=TOL, rtol=TOL)
    torch.testing.assert_close(loop._kept_states[0], fast._kept_states[0], atol=TOL, rtol=TOL)
    assert not loop._kept_states[0].requires_grad  # detached, as the fast path's
    loop.reset_states()
    fast.reset_states()
    torch.testing.assert_close(loop(x[:, :3]), fast(x[:, :3]), atol=TOL, rtol=TOL)


# ======================================================== the step equations, by hand (Keras's GRUCell)
@pytest.mark.parametrize("name", sorted(KINDS))
def test_one_step_by_hand_with_masks(name):
    """h_1 from h_0 with explicit input masks m_g and recurrent masks u_g (gates r, z, n)."""
    layer, _ = _pair(name, 0.5)
    kind = KINDS[name][1]
    cell = layer.cell
    gen = torch.Generator().manual_seed(5)
    gates = 1 if kind == "rnn" else 3
    m = torch.bernoulli(torch.full((gates, 3, 1, FEATURES), 0.7), generator=gen) / 0.7
    u = torch.bernoulli(torch.full((gates, 3, 5), 0.6), generator=gen) / 0.6
    x, h = _x((3, 1, FEATURES), 6), _x((3, 5), 7)
    out, h_n = recurrent._dropout_loop(kind, cell, x, h.unsqueeze(0), input_keep=m, recurrent_keep=u)
    w_ih, w_hh = cell.weight_ih_l0, cell.weight_hh_l0
    b_ih = cell.bias_ih_l0
    b_hh = getattr(cell, "bias_hh_l0", None)
    if b_hh is None:
        b_hh = torch.zeros_like(b_ih)
    xt = x[:, 0]

    def gate(g):  # the input and recurrent parts of gate g, each with its own masks
        s = slice(5 * g, 5 * (g + 1))
        return (m[g, :, 0] * xt) @ w_ih[s].T + b_ih[s], (u[g] * h) @ w_hh[s].T + b_hh[s], s

    if kind == "rnn":
        xi, hi, _ = gate(0)
        want = torch.tanh(xi + hi)
    else:
        (xr, hr, _), (xz, hz, _), (xn, hn, s) = gate(0), gate(1), gate(2)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        if kind == "gru":
            n = torch.tanh(xn + r * hn)
        else:
            n = torch.tanh(xn + (r * (u[2] * h)) @ w_hh[s].T)
        want = z * h + (1 - z) * n  # the carried h is not dropped
    torch.testing.assert_close(out[:, 0], want, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(h_n[0], want, atol=1e-6, rtol=1e-6)


# ======================================== (c) training: one mask per sequence, the rate, unbiased
def test_masks_are_per_sequence_shared_by_all_steps_at_the_rate():
    """SimpleRNN with U = 0.5 I, W x_t = c: a dropped unit gives h_t = tanh(c) at every step, a kept unit
    never after the first step. So the dropped units are the same at every step of a row (one mask per
    sequence), differ between rows, and are about ``rate`` of them."""
    rate, n, steps, units = 0.3, 400, 5, 8
    layer = lk.SimpleRNN(units, recurrent_dropout=rate, return_sequences=True)
    layer.build((None, 1))
    with torch.no_grad():
        layer.cell.weight_ih_l0.fill_(1.0)
        layer.cell.bias_ih_l0.zero_()
        layer.cell.weight_hh_l0.copy_(0.5 * torch.eye(units))
    layer.train()
    torch.manual_seed(11)
    out = layer(torch.full((n, steps, 1), 0.4))
    at_c = out[:, 1:] == torch.tanh(torch.tensor(0.4))       # (N, L-1, units): "this unit was dropped"
    dropped = at_c[:, 0]
    assert torch.equal(at_c, dropped.unsqueeze(1).expand_as(at_c))  # the same units at every step
    assert abs(dropped.float().mean().item() - rate) < 0.03          # 3200 draws: 4 standard errors
    assert len({tuple(row.tolist()) for row in dropped}) > 50          # rows draw their own masks
    layer.eval()
    assert not (layer(torch.full((n, steps, 1), 0.4))[:, 1:] == torch.tanh(torch.tensor(0.4))).any()


def test_dropped_recurrent_contribution_is_unbiased():
    """One step of SimpleRNN from h_0: atanh(h_1) - (W x + b) = U (u * h_0); over many rows its mean is
    U h_0 (inverted dropout: masks of 0 and 1/(1 - rate))."""
    rate, n = 0.4, 20000
    layer = lk.SimpleRNN(6, recurrent_dropout=rate, return_state=True).double()
    layer.build((None, 3))
    layer.double()
    _jitter(layer, 8, scale=0.1)
    with torch.no_grad():
        layer.cell.weight_hh_l0.mul_(0.3)
    x, h0 = torch.randn(1, 1, 3, dtype=torch.float64), 0.5 * torch.randn(1, 6, dtype=torch.float64)
    cell = layer.cell
    inner = x[0, 0] @ cell.weight_ih_l0.T + cell.bias_ih_l0
    layer.train()
    torch.manual_seed(12)
    _, h1 = layer(x.expand(n, 1, 3), initial_state=[h0.expand(n, 6)])
    contribution = torch.atanh(h1) - inner                                  # (N, 6): U (u * h_0) per row
    expected = h0[0] @ cell.weight_hh_l0.T
    per_row_sd = torch.sqrt(rate / (1 - rate) * (cell.weight_hh_l0 ** 2) @ (h0[0] ** 2))
    assert contribution.std(0).min() > 0.5 * per_row_sd.min()             # it is random ...
    assert ((contribution.mean(0) - expected).abs() < 4 * per_row_sd / n ** 0.5).all()  # ... and unbiased
    layer.eval()
    torch.testing.assert_close(torch.atanh(layer(x, initial_state=[h0])[1]) - inner, expected.unsqueeze(0))


@pytest.mark.parametrize("name", sorted(KINDS))
def test_training_differs_from_eval_and_draws_new_masks(name):
    layer, _ = _pair(name, 0.5, return_sequences=True)
    x = _x((4, 7, FEATURES))
    layer.eval()
    ref = layer(x)
    layer.train()
    first, second = layer(x), layer(x)
    assert not torch.allclose(first, ref) and not torch.allclose(first, second)
    assert first.shape == ref.shape
    keeps = layer._loop_keeps(x)
    gates = 1 if name == "simple_rnn" else 3
    assert keeps[0] is None and keeps[1].shape == (gates, 4, 5)
    assert set(keeps[1].unique().tolist()) <= {0.0, 2.0}
    layer.dropout = 0.2  # with input dropout too: one input mask per gate (Keras's implementation=1)
    in_keep, rec_keep = layer._loop_keeps(x)
    assert in_keep.shape == (gates, 4, 1, FEATURES) and rec_keep.shape == (gates, 4, 5)


# ========================================================================== (d) gradients
@pytest.mark.parametrize("name", sorted(KINDS))
def test_backward_in_training_with_a_mask(name):
    layer, _ = _pair(name, 0.5, dropout=0.2, return_sequences=True)
    layer.train()
    x = _x((4, 7, FEATURES)).requires_grad_(True)
    layer(x, _mask()).pow(2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert not x.grad[3].any()  # the row without a real step
    for p in layer.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(KINDS))
@pytest.mark.parametrize("with_masks", [False, True])
def test_loop_gradcheck_float64(name, with_masks):
    layer, _ = _pair(name, 0.5)
    kind = KINDS[name][1]
    layer.double()
    cell = layer.cell
    gates = 1 if kind == "rnn" else 3
    x = torch.randn(2, 4, FEATURES, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 5, dtype=torch.float64, requires_grad=True)
    keeps = {}
    if with_masks:  # fixed masks: the loop is then a deterministic function
        gen = torch.Generator().manual_seed(9)
        keeps = {"input_keep": torch.bernoulli(torch.full((gates, 2, 1, FEATURES), 0.7), generator=gen).double() / 0.7,
                 "recurrent_keep": torch.bernoulli(torch.full((gates, 2, 5), 0.6), generator=gen).double() / 0.6}
    names = [n for n, _ in cell.named_parameters()]
    weights = tuple(p.detach().clone().requires_grad_(True) for _, p in cell.named_parameters())

    def run(a, h, *w):
        params = dict(zip(names, w))
        weights_only = SimpleNamespace(hidden_size=5, **params)  # the loop only reads these attributes
        return recurrent._dropout_loop(kind, weights_only, a, h, lengths=torch.tensor([4, 2]), **keeps)

    assert torch.autograd.gradcheck(run, (x, h0, *weights))


# ================================================================ (e) Keras 3: inference and files
def _keras_copy(keras_layer, ours) -> None:
    from lstmkit.interop.keras import _from_keras_weights

    _from_keras_weights(ours, [np.asarray(keras.ops.convert_to_numpy(w)) for w in keras_layer.weights])


def _keras_randomize(model, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(0.0, 0.5, tuple(w.shape)).astype("float32"))


def _keras_layer(name: str, **kwargs):
    if name == "simple_rnn":
        return keras.layers.SimpleRNN(5, **kwargs)
    return keras.layers.GRU(5, reset_after=(name == "gru"), **kwargs)


def _np(t) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(t))


@needs_keras
@pytest.mark.parametrize("name", sorted(KINDS))
@pytest.mark.parametrize("return_sequences", [False, True])
def test_inference_matches_keras(name, return_sequences):
    kl = _keras_layer(name, recurrent_dropout=0.3, dropout=0.2, return_sequences=return_sequences,
                      zero_output_for_mask=return_sequences)
    km = keras.Sequential([keras.Input((7, FEATURES)), keras.layers.Masking(0.0), kl])
    _keras_randomize(km)
    rec = KINDS[name][0](0.3, dropout=0.2, return_sequences=return_sequences)
    ours = Sequential([lk.Input(shape=(7, FEATURES)), lk.Masking(0.0), rec])
    _keras_copy(kl, rec)
    x = _x((4, 7, FEATURES)).numpy()
    x[0, 5:] = 0.0
    x[1, :3] = 0.0
    x[2, 2] = 0.0
    np.testing.assert_allclose(ours.predict(x, verbose=0), _np(km(x, training=False)), atol=TOL, rtol=TOL)


@needs_keras
@pytest.mark.parametrize("name", sorted(KINDS))
def test_training_step_matches_keras_with_the_same_masks(name):
    """Keras's cell in training, its dropout masks replaced by ours (Keras's gate order z, r, h; ours
    r, z, n): the loop gives Keras's outputs, so every mask sits where Keras applies it."""
    kind = KINDS[name][1]
    gates = 1 if kind == "rnn" else 3
    kl = _keras_layer(name, recurrent_dropout=0.4, dropout=0.3, return_sequences=True)
    km = keras.Sequential([keras.Input((6, FEATURES)), kl])
    _keras_randomize(km, 3)
    rec = KINDS[name][0](0.4, dropout=0.3, return_sequences=True)
    rec.build((None, FEATURES))
    _keras_copy(kl, rec)
    gen = torch.Generator().manual_seed(4)
    m = torch.bernoulli(torch.full((gates, 3, FEATURES), 0.7), generator=gen) / 0.7
    u = torch.bernoulli(torch.full((gates, 3, 5), 0.6), generator=gen) / 0.6
    to_keras = [0] if gates == 1 else [1, 0, 2]  # Keras's z, r, h are our gates 1, 0, 2

    def as_keras(masks):
        arrays = [keras.ops.convert_to_tensor(masks[g].numpy()) for g in to_keras]
        return arrays[0] if gates == 1 else arrays

    kl.cell.get_dropout_mask = lambda _: as_keras(m)
    kl.cell.get_recurrent_dropout_mask = lambda _: as_keras(u)
    x = _x((3, 6, FEATURES), 8)
    want = _np(kl(x.numpy(), training=True))
    got, _ = recurrent._dropout_loop(kind, rec.cell, x, input_keep=m.unsqueeze(2), recurrent_keep=u)
    np.testing.assert_allclose(got.detach().numpy(), want, atol=TOL, rtol=TOL)


@needs_keras
def test_keras_files_keep_recurrent_dropout_both_ways(tmp_path):
    from lstmkit.interop.keras import load_keras, save_keras

    L = keras.layers
    kmodel = keras.Sequential([keras.Input((None,), dtype="int32"), L.Embedding(30, 6, mask_zero=True),
                               L.GRU(5, recurrent_dropout=0.2, return_sequences=True),
                               L.GRU(4, reset_after=False, recurrent_dropout=0.1, return_sequences=True),
                               L.SimpleRNN(3, recurrent_dropout=0.3, dropout=0.1), L.Dense(2)])
    _keras_randomize(kmodel, 2)
    kmodel.save(tmp_path / "k.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error", LstmkitWarning)  # nothing dropped any more
        model = load_keras(tmp_path / "k.keras")
    rates = [(layer.dropout, layer.recurrent_dropout) for layer in model.layers[1:4]]
    assert rates == [(0.0, 0.2), (0.0, 0.1), (0.1, 0.3)]
    x = np.random.default_rng(3).integers(1, 30, (5, 8)).astype("int32")
    x[1, :3] = 0
    x[2, 5:] = 0
    np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(kmodel.predict(x, verbose=0)), atol=TOL)
    save_keras(model, tmp_path / "back.keras")
    back = keras.saving.load_model(tmp_path / "back.keras")
    configs = [layer.get_config() for layer in back.layers[1:4]]
    assert [(c["dropout"], c["recurrent_dropout"]) for c in configs] == rates
    assert [c.get("reset_after") for c in configs] == [True, False, None]
    np.testing.assert_allclose(np.asarray(back.predict(x, verbose=0)), model.predict(x, verbose=0), atol=TOL)
    again = load_keras(tmp_path / "back.keras")
    assert [layer.recurrent_dropout for layer in again.layers[1:4]] == [0.2, 0.1, 0.3]


# ============================================================ export and streaming: inference only
def _model_pair(rates: tuple[float, float], seed: int = 0) -> tuple[Sequential, Sequential]:
    def build(r1: float, r2: float) -> Sequential:
        return Sequential([lk.Input((None, 3)), lk.GRU(6, recurrent_dropout=r1, return_sequences=True, name="gru"),
                           lk.SimpleRNN(4, recurrent_dropout=r2, name="rnn"), lk.Dense(2, name="dense")], name="m")

    torch.manual_seed(seed)
    a, b = build(*rates), build(0.0, 0.0)
    _jitter(a, seed, scale=0.2)
    b.load_state_dict(a.state_dict())
    return a, b


def test_onnx_export_is_the_same_as_without_recurrent_dropout():
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from lstmkit.export.core import check_exported, export_model, make_session

    model, twin = _model_pair((0.3, 0.2))
    model.train()  # a model left in training mode still exports its inference graph
    exported, plain = export_model(model), export_model(twin)
    assert exported.model.graph.SerializeToString() == plain.model.graph.SerializeToString()
    worst, cases = check_exported(exported, make_session(exported.model))
    assert worst <= TOL and "state carried over two calls" in cases
    assert model.training  # the export put it back


def test_stream_engine_steps_like_without_recurrent_dropout():
    from lstmkit.stream.engine import StreamEngine

    model, twin = _model_pair((0.3, 0.2), seed=1)
    model.train()
    x = _x((3, 5, 3), 9).numpy()
    events = [(f"s{n}", x[n, t], t + 1) for t in range(5) for n in range(3)]
    got = np.stack(StreamEngine(model).step_many(events))
    want = np.stack(StreamEngine(twin).step_many(events))
    np.testing.assert_array_equal(got, want)
    prefix = np.stack([twin.predict(x[:, : t + 1], verbose=0) for t in range(5)], axis=1)  # (N, T, 2)
    np.testing.assert_allclose(got.reshape(5, 3, 2).transpose(1, 0, 2), prefix, atol=TOL)
