"""Keras 3 attention layers: ``Attention``, ``AdditiveAttention``, ``MultiHeadAttention``.

Each is checked against the same layer in Keras 3 (torch backend) on identical weights and inputs
(to 1e-5, equal parameter counts and weight shapes): outputs and attention scores, with and without
query/value/key masks, ``attention_mask``, ``use_causal_mask``, both of MultiHeadAttention's paths
(Keras's fused one, and the explicit softmax it takes with ``return_attention_scores``), rows that may
attend to nothing. Also: dropout (training only, reproducible with ``seed``), config round trips,
shape inference (``compute_output_shape``, the Functional protocol), masks passed on, and one-line
errors naming the argument.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmkit import layers as lk
from lstmkit.errors import ConfigError, ShapeError
from lstmkit.layers.base import layer_from_config, layer_to_config

from keras_peer import KERAS_MISSING, keras, needs_keras  # noqa: E402,F401  (real Keras 3, or why not)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
TOL = 1e-5


def _x(shape: tuple, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.0, shape).astype("float32")


def _np(t) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(t))


def _t(a):
    return None if a is None else torch.as_tensor(a)


def _copy_random_weights(keras_layer, ours, seed: int = 1, scale: float = 0.5) -> None:
    """Random weights into the Keras layer, then Keras's get_weights() into ours (same order and shapes)."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0.0, scale, w.shape).astype("float32") for w in keras_layer.get_weights()]
    keras_layer.set_weights(weights)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in weights]
    ours.set_weights(weights)
    assert ours.count_params() == keras_layer.count_params()


# Query masks: row 2 fully masked; value masks: row 1 fully masked (rows that attend to nothing).
Q_MASK = np.array([[1, 1, 1, 0], [1, 0, 1, 1], [0, 0, 0, 0]], bool)
V_MASK = np.array([[1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0], [1, 0, 1, 0, 1, 0]], bool)


# ------------------------------------------------------------------ Attention / AdditiveAttention parity
@needs_keras
@pytest.mark.parametrize("cls,kwargs", [
    ("Attention", {}),
    ("Attention", {"use_scale": True}),
    ("Attention", {"score_mode": "concat"}),
    ("Attention", {"score_mode": "concat", "use_scale": True}),
    ("AdditiveAttention", {}),
    ("AdditiveAttention", {"use_scale": False}),
])
@pytest.mark.parametrize("with_key", [False, True])
def test_dense_attention_matches_keras(cls, kwargs, with_key):
    q, v, k = _x((3, 4, 5), 0), _x((3, 6, 5), 1), _x((3, 6, 5), 2)
    inputs = [q, v, k] if with_key else [q, v]
    kl, ours = getattr(keras.layers, cls)(**kwargs), getattr(lk, cls)(**kwargs)
    kl.build([a.shape for a in inputs])
    ours.build([a.shape[1:] for a in inputs])
    _copy_random_weights(kl, ours)
    for mask in (None, [Q_MASK, V_MASK], [None, V_MASK], [Q_MASK, None]):
        for causal in (False, True):
            k_out, k_scores = kl(inputs, mask=mask, return_attention_scores=True, use_causal_mask=causal)
            out, scores = ours([_t(a) for a in inputs], mask=None if mask is None else [_t(m) for m in mask],
                               return_attention_scores=True, use_causal_mask=causal)
            np.testing.assert_allclose(out.detach().numpy(), _np(k_out), atol=TOL, rtol=TOL)
            np.testing.assert_allclose(scores.detach().numpy(), _np(k_scores), atol=TOL, rtol=TOL)
            plain = ours([_t(a) for a in inputs], mask=None if mask is None else [_t(m) for m in mask],
                         use_causal_mask=causal)
            torch.testing.assert_close(plain, out)
    # masked value steps get weight 0; a masked query row outputs zeros
    out, scores = ours([_t(a) for a in inputs], mask=[_t(Q_MASK), _t(V_MASK)], return_attention_scores=True)
    assert scores[0, :, 4:].abs().max().item() < 1e-30
    assert out[2].abs().max().item() == 0.0 and out[0, 3].abs().max().item() == 0.0


@needs_keras
def test_dense_attention_shapes_match_keras():
    for cls in ("Attention", "AdditiveAttention"):
        ours = getattr(lk, cls)()
        shapes = [(4, 5), (6, 3), (6, 5)]
        assert ours.compute_output_shape(shapes) == (4, 3)
        assert ours.compute_output_shape(shapes, return_attention_scores=True) == [(4, 3), (4, 6)]
        kl = getattr(keras.layers, cls)()
        assert tuple(kl.compute_output_shape([(None, *s) for s in shapes])) == (None, 4, 3)
        out = ours([torch.randn(2, 4, 5), torch.randn(2, 6, 3), torch.randn(2, 6, 5)])
        assert out.shape == (2, 4, 3)


# ------------------------------------------------------------------ MultiHeadAttention parity
MHA_CASES = [
    {"num_heads": 2, "key_dim": 3},
    {"num_heads": 3, "key_dim": 2, "value_dim": 4, "output_shape": 7},
    {"num_heads": 2, "key_dim": 3, "use_bias": False},
    {"num_heads": 2, "key_dim": 3, "use_gate": True},
    {"num_heads": 2, "key_dim": 3, "output_shape": (2, 3)},
]


@needs_keras
@pytest.mark.parametrize("kwargs", MHA_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_multi_head_attention_matches_keras(kwargs):
    q, v, k = _x((3, 4, 5), 0), _x((3, 6, 7), 1), _x((3, 6, 2), 2)
    kl, ours = keras.layers.MultiHeadAttention(**kwargs), lk.MultiHeadAttention(**kwargs)
    kl.build(q.shape, v.shape, k.shape)
    ours.build(q.shape[1:], v.shape[1:], k.shape[1:])
    _copy_random_weights(kl, ours)
    attention_mask = np.random.default_rng(3).random((3, 4, 6)) > 0.3
    cases = [{}, {"value_mask": V_MASK}, {"query_mask": Q_MASK, "value_mask": V_MASK}, {"key_mask": V_MASK},
             {"attention_mask": attention_mask}, {"query_mask": Q_MASK}]
    for masks in cases:
        for causal in (False, True):
            for scores_too in (False, True):  # Keras's fused path, then its explicit softmax
                kq = keras.ops.convert_to_tensor(q)
                if "query_mask" in masks:  # Keras 3 reads the query's mask from the tensor only
                    kq._keras_mask = keras.ops.convert_to_tensor(masks["query_mask"])
                k_masks = {n: m for n, m in masks.items() if n != "query_mask"}
                expected = kl(kq, v, k, return_attention_scores=scores_too, use_causal_mask=causal, **k_masks)
                got = ours(_t(q), _t(v), _t(k), return_attention_scores=scores_too, use_causal_mask=causal,
                           **{n: _t(m) for n, m in masks.items()})
                if scores_too:
                    np.testing.assert_allclose(got[0].detach().numpy(), _np(expected[0]), atol=TOL, rtol=TOL)
                    np.testing.assert_allclose(got[1].detach().numpy(), _np(expected[1]), atol=TOL, rtol=TOL)
                else:
                    np.testing.assert_allclose(got.detach().numpy(), _np(expected), atol=TOL, rtol=TOL)


@needs_keras
def test_multi_head_self_attention_with_dropout_at_inference_matches_keras():
    # dropout > 0 makes Keras take its explicit softmax even at inference; no dropout is applied there.
    x = _x((2, 5, 6))
    kl, ours = keras.layers.MultiHeadAttention(2, 4, dropout=0.3), lk.MultiHeadAttention(2, 4, dropout=0.3)
    kl.build(x.shape, x.shape)
    ours.build(x.shape[1:], x.shape[1:])
    _copy_random_weights(kl, ours)
    ours.eval()
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    kx = keras.ops.convert_to_tensor(x)
    kx._keras_mask = keras.ops.convert_to_tensor(mask)
    expected = kl(kx, x, value_mask=mask, training=False)
    got = ours(_t(x), _t(x), query_mask=_t(mask), value_mask=_t(mask))
    np.testing.assert_allclose(got.detach().numpy(), _np(expected), atol=TOL, rtol=TOL)


@needs_keras
def test_multi_head_attention_output_shapes_match_keras():
    kl, ours = keras.layers.MultiHeadAttention(2, 3, output_shape=(2, 5)), lk.MultiHeadAttention(2, 3, output_shape=(2, 5))
    assert tuple(kl.compute_output_shape((None, 4, 6), (None, 7, 3))) == (None, *ours.compute_output_shape((4, 6), (7, 3)))
    assert ours.compute_output_shape((4, 6), (7, 3)) == (4, 2, 5)
    assert ours.compute_output_shape((None, 6), (None, 3), (None, 9), return_attention_scores=True) == \
        [(None, 2, 5), (2, None, None)]
    out, scores = ours(torch.randn(2, 4, 6), torch.randn(2, 7, 3), return_attention_scores=True)
    assert out.shape == (2, 4, 2, 5) and scores.shape == (2, 2, 4, 7)


# ------------------------------------------------------------------ behaviour without Keras
def test_rows_with_nothing_to_attend_follow_keras_paths():
    """A masked query row: uniform weights on the fused path, zero weights (output = output bias) when
    the scores are returned, as Keras 3 computes them."""
    layer = lk.MultiHeadAttention(1, 2, output_shape=3)
    x = torch.randn(1, 3, 4)
    layer.build((3, 4), (3, 4))
    query_mask = torch.tensor([[True, True, False]])
    with torch.no_grad():
        layer.output_dense.bias.copy_(torch.tensor([1.0, 2.0, 3.0]))
    out, scores = layer(x, x, query_mask=query_mask, return_attention_scores=True)
    assert scores[0, 0, 2].abs().sum().item() == 0.0
    torch.testing.assert_close(out[0, 2], torch.tensor([1.0, 2.0, 3.0]))
    fused = layer(x, x, query_mask=query_mask)
    torch.testing.assert_close(fused[0, :2], out[0, :2])
    v = layer.value_dense(x).mean(dim=1)                           # uniform weights over the 3 steps
    torch.testing.assert_close(fused[0, 2], layer.output_dense(v)[0])


def test_causal_attention_sees_no_future():
    x = torch.randn(2, 6, 4)
    for layer, call in ((lk.Attention(), lambda l, a: l([a, a], use_causal_mask=True)),
                        (lk.AdditiveAttention(), lambda l, a: l([a, a], use_causal_mask=True)),
                        (lk.MultiHeadAttention(2, 3), lambda l, a: l(a, a, use_causal_mask=True))):
        y = call(layer, x)
        x2 = x.clone()
        x2[:, 4:] += 3.0
        y2 = call(layer, x2)
        torch.testing.assert_close(y[:, :4], y2[:, :4])
        assert not torch.allclose(y[:, 4:], y2[:, 4:])


def test_dropout_only_in_training_and_seeded():
    q, v = torch.randn(2, 4, 3), torch.randn(2, 5, 3)
    a = lk.Attention(dropout=0.5, seed=7)
    a.build([(4, 3), (5, 3)])
    a.eval()
    plain = lk.Attention()([q, v])
    torch.testing.assert_close(a([q, v]), plain)
    a.train()
    _, w1 = a([q, v], return_attention_scores=True)
    assert (w1 == 0).any() and not torch.allclose(w1.sum(-1), torch.ones(2, 4))  # the weights after dropout
    b = lk.Attention(dropout=0.5, seed=7)
    b.build([(4, 3), (5, 3)])
    torch.testing.assert_close(b([q, v], return_attention_scores=True)[1], w1)   # same seed, same dropout
    m = lk.MultiHeadAttention(2, 2, dropout=0.5, seed=3)
    x = torch.randn(2, 4, 6)
    m.train()
    out, scores = m(x, x, return_attention_scores=True)
    torch.testing.assert_close(scores.sum(-1), torch.ones(2, 2, 4))                # scores before dropout
    m.eval()
    assert not torch.allclose(m(x, x), out)


def test_gradients_reach_every_weight():
    x = torch.randn(2, 5, 4)
    for layer, run in ((lk.Attention(use_scale=True, score_mode="concat"), lambda l: l([x, x])),
                       (lk.AdditiveAttention(), lambda l: l([x, x])),
                       (lk.MultiHeadAttention(2, 3, use_gate=True), lambda l: l(x, x))):
        run(layer).square().sum().backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())


def test_config_round_trip_and_same_outputs():
    q, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    for layer, run in ((lk.Attention(use_scale=True, score_mode="concat", dropout=0.1, seed=1, name="att"),
                        lambda l: l([q, v])),
                       (lk.AdditiveAttention(use_scale=False, name="add"), lambda l: l([q, v])),
                       (lk.MultiHeadAttention(3, 2, value_dim=5, output_shape=(2, 3), use_gate=True, seed=4,
                                              name="mha", kernel_initializer="he_normal"), lambda l: l(q, v))):
        layer.eval()
        expected = run(layer)
        clone = layer_from_config(layer_to_config(layer))
        assert clone.get_config() == layer.get_config()
        clone.eval()
        run(clone)  # builds
        clone.load_state_dict(layer.state_dict())
        torch.testing.assert_close(run(clone), expected)
    assert lk.MultiHeadAttention(2, 4).get_config()["value_dim"] == 4          # resolved, as Keras stores it


def test_masks_passed_on_like_keras():
    q, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    qm = torch.tensor([[True, True, False], [True, False, False]])
    assert lk.Attention().compute_mask([q, v], [qm, None]) is qm
    assert lk.AdditiveAttention().compute_mask([q, v], None) is None
    assert lk.Attention().compute_mask([q, v], [None, torch.ones(2, 5, dtype=torch.bool)]) is None
    assert lk.MultiHeadAttention(2, 2).compute_mask(q, qm) is qm


def test_functional_protocol_shapes():
    """The signatures the Functional API calls: build(*shapes), compute_output_shape(*shapes, **flags)."""
    q, v = lk.Input(shape=(4, 8)), lk.Input(shape=(None, 6))
    assert lk.Attention()([q, q]).shape == (None, 4, 8)
    out, scores = lk.AdditiveAttention()([q, q], return_attention_scores=True)
    assert out.shape == (None, 4, 8) and scores.shape == (None, 4, 4)
    out, scores = lk.MultiHeadAttention(2, 4)(q, v, return_attention_scores=True)
    assert out.shape == (None, 4, 8) and scores.shape == (None, 2, 4, None)
    assert lk.MultiHeadAttention(2, 4, output_shape=3)(q, v, v).shape == (None, 4, 3)


def test_functional_model_runs_saves_and_loads(tmp_path):
    """In a Functional model the masks reach the layers as in Keras (list mask, ``query_mask``/``value_mask``),
    the outputs equal the layers called by hand, and a saved model predicts the same."""
    from lstmkit.models import Model, load_model

    torch.manual_seed(0)
    tokens = lk.Input(shape=(None,), dtype="int64")
    e = lk.Embedding(20, 6, mask_zero=True)(tokens)
    a, scores = lk.Attention(use_scale=True)([e, e], return_attention_scores=True)
    m = lk.MultiHeadAttention(2, 3)(a, e)
    out = lk.Dense(2)(lk.GlobalAveragePooling1D()(lk.AdditiveAttention()([m, e])))
    model = Model(tokens, [out, scores])
    ids = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0]])
    y, s = model.predict(ids, verbose=0)
    assert s[1, :, 2:].max() < 1e-30                                  # padding steps get no weight
    by_type = {type(layer).__name__: layer for layer in model.layers}
    with torch.no_grad():
        x = torch.as_tensor(ids)
        mk = x != 0
        emb = by_type["Embedding"](x)
        att = by_type["Attention"]([emb, emb], mask=[mk, mk])
        mha = by_type["MultiHeadAttention"](att, emb, query_mask=mk, value_mask=mk)
        add = by_type["AdditiveAttention"]([mha, emb], mask=[mk, mk])
        expected = by_type["Dense"](by_type["GlobalAveragePooling1D"](add, mk))
    np.testing.assert_allclose(y, expected.numpy(), atol=1e-6)
    model.save(tmp_path / "f.lstmkit")
    y2, s2 = load_model(tmp_path / "f.lstmkit").predict(ids, verbose=0)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(s2, s)


@pytest.mark.parametrize("make,argument", [
    (lambda: lk.Attention(score_mode="general"), "score_mode"),
    (lambda: lk.Attention(dropout=1.0), "dropout"),
    (lambda: lk.Attention(seed="x"), "seed"),
    (lambda: lk.Attention(use_scale=1), "use_scale"),
    (lambda: lk.Attention(foo=1), "foo"),
    (lambda: lk.AdditiveAttention(score_mode="dot"), "score_mode"),
    (lambda: lk.MultiHeadAttention(0, 4), "num_heads"),
    (lambda: lk.MultiHeadAttention(2, 0), "key_dim"),
    (lambda: lk.MultiHeadAttention(2, 4, value_dim=-1), "value_dim"),
    (lambda: lk.MultiHeadAttention(2, 4, attention_axes=(1,)), "attention_axes"),
    (lambda: lk.MultiHeadAttention(2, 4, output_shape="x"), "output_shape"),
    (lambda: lk.MultiHeadAttention(2, 4, kernel_regularizer="l2"), "kernel_regularizer"),
    (lambda: lk.MultiHeadAttention(2, 4, bias_constraint="non_neg"), "bias_constraint"),
    (lambda: lk.MultiHeadAttention(2, 4, sliding_window=3), "sliding_window"),
    (lambda: lk.MultiHeadAttention(2, 4, flash_attention=True), "flash_attention"),
    (lambda: lk.MultiHeadAttention(2, 4, kernel_initializer="variance_scaling"), "kernel_initializer"),
    (lambda: lk.MultiHeadAttention(2, 4, activity_regularizer="l1"), "activity_regularizer"),
])
def test_bad_arguments_are_one_line_config_errors(make, argument):
    with pytest.raises(ConfigError) as info:
        make()
    message = str(info.value)
    assert message.startswith(f"{argument}:") and "\n" not in message


def test_keras_default_values_are_accepted():
    lk.Attention(use_scale=False, score_mode="dot", dropout=0.0, seed=None, dtype=None)
    lk.MultiHeadAttention(2, 4, kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                          bias_constraint=None, sliding_window=None, flash_attention=None, attention_axes=None,
                          activity_regularizer=None)
    lk.MultiHeadAttention(2, 4, flash_attention=False)


def test_shape_errors_are_one_line():
    for run in (lambda: lk.Attention()([torch.randn(2, 3, 4), torch.randn(2, 5, 6)]),          # dot: dims differ
                lambda: lk.Attention().build([(3, 4)]),
                lambda: lk.Attention()([torch.randn(2, 3, 4), torch.randn(2, 5, 4)], mask=[None, torch.ones(2, 4)]),
                lambda: lk.MultiHeadAttention(2, 2).build((3, 4), (5,)),
                lambda: lk.MultiHeadAttention(2, 2)(torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 6, 4)),
                lambda: lk.MultiHeadAttention(2, 2)(torch.randn(2, 3, 4), torch.randn(2, 5, 4),
                                                    attention_mask=torch.ones(2, 3, 4, dtype=torch.bool))):
        with pytest.raises(ShapeError) as info:
            run()
        assert "\n" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        lk.Attention()(torch.randn(2, 3, 4))
    assert str(info.value).startswith("inputs:")


@pytest.mark.parametrize("module", ["attention_layers"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"lstmkit.layers.{module}"),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
