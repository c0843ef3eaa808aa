"""The Functional API (issue 19, part 1): ``Input``, ``Model(inputs, outputs)``, merge layers, shared layers,
``return_state``/``initial_state`` in a graph, masks, multi-input/multi-output training, generators and
DataLoaders in ``fit``, save/load, ``get_layer`` and ``summary()``.

Every graph is built twice, in lstmkit and in real Keras 3 (torch backend), with the same layer names;
the weights are copied across by name and outputs, parameter counts, per-layer output shapes and losses
are compared to 1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmkit import keras as lk
from lstmkit.errors import ConfigError, DataError, LstmkitError, ShapeError
from lstmkit.models import Functional, Model, load_model

from keras_peer import keras, needs_keras  # noqa: E402  (real Keras 3, or why not)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
TOL = 1e-5


def _x(shape: tuple, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.0, shape).astype("float32")


def _np(t) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(t))


def _copy_by_name(kmodel, ours) -> None:
    from lstmkit.interop.keras import _from_keras_weights

    for layer in ours.layers:
        if layer.count_params():
            _from_keras_weights(layer, [_np(w) for w in kmodel.get_layer(layer.name).weights])


def _both(build):
    """``build(ns)`` with ns = keras and ns = lstmkit.keras; weights copied from Keras into lstmkit."""
    kmodel = build(keras)
    ours = build(lk)
    _copy_by_name(kmodel, ours)
    return kmodel, ours


def _close(a, b) -> None:
    a = a if isinstance(a, (list, tuple)) else [a]
    b = b if isinstance(b, (list, tuple)) else [b]
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_allclose(np.asarray(u), _np(v) if not isinstance(v, np.ndarray) else v, atol=TOL, rtol=TOL)


def _two_in_two_out(ns):
    L = ns.layers
    seq = ns.Input(shape=(6, 3), name="seq")
    meta = ns.Input(shape=(2,), name="meta")
    h = L.LSTM(8, name="encoder")(seq)
    z = L.Concatenate(name="join")([h, meta])
    cls = L.Dense(3, activation="softmax", name="cls")(z)
    reg = L.Dense(1, name="reg")(z)
    return ns.Model([seq, meta], [cls, reg])


# ------------------------------------------------------------------------------------------- graphs
@needs_keras
def test_two_inputs_two_outputs_match_keras():
    kmodel, ours = _both(_two_in_two_out)
    assert isinstance(ours, Functional) and isinstance(ours, Model)
    assert ours.count_params() == kmodel.count_params()
    x = [_x((4, 6, 3)), _x((4, 2), 1)]
    _close(ours.predict(x), kmodel.predict(x, verbose=0))
    assert [layer.name for layer in ours.layers] == [layer.name for layer in kmodel.layers]
    for layer in ours.layers[2:]:
        assert ours.summary_rows()[[l.name for l in ours.layers].index(layer.name)][1] == \
            str(tuple(kmodel.get_layer(layer.name).output.shape))


@needs_keras
def test_encoder_decoder_with_return_state_and_initial_state_matches_keras():
    def build(ns):
        L = ns.layers
        enc_in = ns.Input(shape=(None, 5), name="enc_in")
        dec_in = ns.Input(shape=(None, 7), name="dec_in")
        _, h, c = L.LSTM(16, return_state=True, name="enc")(enc_in)
        dec, dh, dc = L.LSTM(16, return_sequences=True, return_state=True, name="dec")(dec_in, initial_state=[h, c])
        out = L.Dense(7, activation="softmax", name="out")(dec)
        return ns.Model([enc_in, dec_in], [out, dh, dc])

    kmodel, ours = _both(build)
    x = [_x((3, 4, 5)), _x((3, 6, 7), 1)]
    _close(ours.predict(x), kmodel.predict(x, verbose=0))
    assert ours.count_params() == kmodel.count_params()
    for kind in ("GRU", "SimpleRNN"):
        def build_one(ns, kind=kind):
            L = ns.layers
            a = ns.Input(shape=(None, 4), name="a")
            b = ns.Input(shape=(None, 4), name="b")
            _, s = getattr(L, kind)(6, return_state=True, name="enc")(a)
            out = getattr(L, kind)(6, go_backwards=True, name="dec")(b, initial_state=[s])
            return ns.Model([a, b], out)

        km, om = _both(build_one)
        xs = [_x((2, 5, 4), 2), _x((2, 3, 4), 3)]
        _close(om.predict(xs), km.predict(xs, verbose=0))


@needs_keras
def test_shared_layers_and_every_merge_layer_match_keras():
    def build(ns):
        L = ns.layers
        a = ns.Input(shape=(5, 4), name="a")
        b = ns.Input(shape=(5, 4), name="b")
        shared = L.LSTM(6, return_sequences=True, name="shared")
        ha, hb = shared(a), shared(b)
        merged = [L.Add(name="add")([ha, hb]), L.Subtract(name="sub")([ha, hb]), L.Multiply(name="mul")([ha, hb]),
                  L.Average(name="avg")([ha, hb]), L.Maximum(name="max")([ha, hb]), L.Minimum(name="min")([ha, hb])]
        cat = L.Concatenate(axis=1, name="cat_time")(merged)
        dot = L.Dot(axes=2, name="dot")([ha, hb])
        cos = L.Dot(axes=(1, 1), normalize=True, name="cos")([ha, hb])
        return ns.Model([a, b], [cat, dot, cos])

    kmodel, ours = _both(build)
    assert ours.count_params() == kmodel.count_params() == 4 * 6 * (4 + 6 + 1)  # one LSTM's weights
    assert len([layer for layer in ours.layers if layer.name == "shared"]) == 1
    x = [_x((2, 5, 4)), _x((2, 5, 4), 1)]
    _close(ours.predict(x), kmodel.predict(x, verbose=0))
    assert ours.output_shape == [(None, 30, 6), (None, 5, 5), (None, 6, 6)]


@needs_keras
def test_masks_travel_through_the_graph_and_the_loss_counts_real_steps_only():
    def build(ns):
        L = ns.layers
        ids = ns.Input(shape=(7,), dtype="int32", name="ids")
        e = L.Embedding(20, 5, mask_zero=True, name="emb")(ids)
        h = L.LSTM(6, return_sequences=True, name="lstm")(e)
        h2 = L.Bidirectional(L.GRU(4, return_sequences=True, name="gru"), name="bi")(h)
        out = L.Dense(3, activation="softmax", name="out")(h2)
        return ns.Model(ids, out)

    kmodel, ours = _both(build)
    x = np.array([[3, 4, 5, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7], [0, 0, 9, 9, 0, 1, 0]], dtype="int64")
    y = np.random.default_rng(0).integers(0, 3, (3, 7))
    _close(ours.predict(x), kmodel.predict(x, verbose=0))
    for m in (kmodel, ours):
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    theirs = kmodel.evaluate(x, y, verbose=0, return_dict=True)
    mine = ours.evaluate(x, y, verbose=0, return_dict=True)
    assert mine["loss"] == pytest.approx(theirs["loss"], abs=1e-5)
    assert mine["accuracy"] == pytest.approx(theirs["accuracy"], abs=1e-6)


@needs_keras
def test_multi_output_training_logs_and_losses_match_keras():
    kmodel, ours = _both(_two_in_two_out)
    x = [_x((8, 6, 3)), _x((8, 2), 1)]
    y = [np.random.default_rng(2).integers(0, 3, 8), _x((8, 1), 3)]
    for m in (kmodel, ours):
        m.compile(optimizer="sgd", loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"], "reg": ["mae"]})
    theirs = kmodel.evaluate(x, y, verbose=0, return_dict=True)
    mine = ours.evaluate(x, y, verbose=0, return_dict=True)
    assert set(mine) == set(theirs)
    for key in theirs:
        assert mine[key] == pytest.approx(theirs[key], abs=1e-5), key
    history = ours.fit(x, {"cls": y[0], "reg": y[1]}, epochs=2, batch_size=4, verbose=0, validation_split=0.25)
    assert set(history.history) == {"loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae", "val_loss",
                                    "val_cls_loss", "val_reg_loss", "val_cls_accuracy", "val_reg_mae"}
    preds = ours.predict({"seq": x[0], "meta": x[1]})
    assert isinstance(preds, list) and [p.shape for p in preds] == [(8, 3), (8, 1)]


# ------------------------------------------------------------------------------------------- training sources
def _tiny():
    torch.manual_seed(0)
    a = lk.Input(shape=(6, 3), name="seq")
    b = lk.Input(shape=(2,), name="meta")
    z = lk.layers.Concatenate()([lk.layers.LSTM(8)(a), b])
    model = lk.Model([a, b], lk.layers.Dense(3, activation="softmax")(z))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_fit_takes_a_generator_a_dataloader_and_a_keras_style_dataset():
    rng = np.random.default_rng(0)
    X1, X2, Y = _x((32, 6, 3)), _x((32, 2), 1), rng.integers(0, 3, 32)

    def gen():
        while True:
            i = rng.integers(0, 32, 8)
            yield [X1[i], X2[i]], Y[i]

    model = _tiny()
    h = model.fit(gen(), steps_per_epoch=3, epochs=2, verbose=0, validation_data=gen(), validation_steps=2)
    assert len(h.history["loss"]) == 2 and "val_accuracy" in h.history

    ds = torch.utils.data.TensorDataset(torch.tensor(X1), torch.tensor(X2), torch.tensor(Y))
    loader = torch.utils.data.DataLoader(ds, batch_size=8, collate_fn=lambda items: (
        [torch.stack([i[0] for i in items]), torch.stack([i[1] for i in items])], torch.stack([i[2] for i in items])))
    h = model.fit(loader, epochs=2, verbose=0)
    assert all(np.isfinite(h.history["loss"]))
    by_arrays = model.evaluate([X1, X2], Y, verbose=0, batch_size=8)
    by_loader = model.evaluate(loader, verbose=0)
    assert by_loader == pytest.approx(by_arrays, abs=1e-5)
    np.testing.assert_allclose(model.predict(loader), model.predict([X1, X2]), atol=1e-6)

    class Batches:  # keras.utils.PyDataset-like: __len__ and __getitem__
        def __len__(self):
            return 4

        def __getitem__(self, i):
            s = slice(8 * i, 8 * i + 8)
            return [X1[s], X2[s]], Y[s]

    assert len(model.fit(Batches(), epochs=1, verbose=0).history["loss"]) == 1


def test_generator_mistakes_are_one_line():
    model = _tiny()

    def endless():
        while True:
            yield [_x((4, 6, 3)), _x((4, 2))], np.zeros(4, dtype="int64")

    with pytest.raises(ConfigError, match="steps_per_epoch"):
        model.fit(endless(), epochs=1, verbose=0)

    def short():
        yield [_x((4, 6, 3)), _x((4, 2))], np.zeros(4, dtype="int64")

    with pytest.raises(DataError, match="ran out after 1 batches"):
        model.fit(short(), steps_per_epoch=3, epochs=1, verbose=0)

    def bad():
        while True:
            yield [_x((4, 6, 4)), _x((4, 2))], np.zeros(4, dtype="int64")

    with pytest.raises(ShapeError, match=r"x batch 0 x\['seq'\]: expected \(N, 6, 3\)"):
        model.fit(bad(), steps_per_epoch=2, epochs=1, verbose=0)


# ------------------------------------------------------------------------------------------- files, names, summary
def test_save_and_load_keep_the_graph_and_the_weights(tmp_path):
    def build(ns):
        L = ns.layers
        a = ns.Input(shape=(None, 3), name="a")
        b = ns.Input(shape=(None, 3), name="b")
        shared = L.LSTM(5, return_state=True, name="shared")
        _, h, c = shared(a)
        out = L.LSTM(5, name="dec")(b, initial_state=[h, c])
        return ns.Model({"a": a, "b": b}, {"y": L.Dense(2, name="y")(L.Add()([out, shared(b)[0]]))})

    model = build(lk)
    model.compile(optimizer="adam", loss="mse")
    path = tmp_path / "f.lstmkit"
    model.save(path)
    again = load_model(path)
    x = {"a": _x((2, 4, 3)), "b": _x((2, 3, 3), 1)}
    np.testing.assert_allclose(again.predict(x)["y"], model.predict(x)["y"], atol=1e-6)
    assert [layer.name for layer in again.layers] == [layer.name for layer in model.layers]
    assert again.compiled and again.count_params() == model.count_params()


def test_get_layer_and_summary():
    model = _two_in_two_out(lk)
    assert [layer.name for layer in model.layers] == ["seq", "encoder", "meta", "join", "cls", "reg"]  # Keras's order
    assert model.get_layer("encoder") is model.layers[1] is model.get_layer(index=1)
    with pytest.raises(ConfigError, match="no layer named 'nope'"):
        model.get_layer("nope")
    text = str(model.summary(print_fn=lambda line: None))
    assert "Connected to" in text and "encoder[0][0]" in text and "seq[0][0]" in text
    assert "Total params: 428" in text  # LSTM 384 + Dense(3) 33 + Dense(1) 11


@needs_keras
def test_summary_shapes_and_counts_equal_keras_for_an_article_style_graph():
    def build(ns):
        L = ns.layers
        ids = ns.Input(shape=(100,), name="ids")
        x = L.Embedding(10000, 128, name="emb")(ids)
        x = L.Conv1D(32, 5, activation="relu", name="conv")(x)
        x = L.MaxPooling1D(2, name="pool")(x)
        x = L.Bidirectional(L.LSTM(64, return_sequences=True), name="bi")(x)
        x = L.GlobalMaxPooling1D(name="gmp")(x)
        return ns.Model(ids, L.Dense(2, activation="softmax", name="out")(x))

    kmodel, ours = build(keras), build(lk)
    assert ours.count_params() == kmodel.count_params()
    for name, shape, params, *_ in ours.summary_rows():
        layer = kmodel.get_layer(name.split(" ")[0])
        assert shape == str(tuple(layer.output.shape)), name
        assert params == layer.count_params(), name


# ------------------------------------------------------------------------------------------- bad graphs
def test_shape_mismatch_names_both_layers_and_both_shapes():
    a = lk.Input(shape=(5, 3), name="a")
    h = lk.layers.LSTM(4, name="enc")(a)
    with pytest.raises(ShapeError) as err:
        lk.layers.LSTM(4, name="dec")(h)
    msg = str(err.value)
    assert "'dec' (LSTM)" in msg and "'enc' (LSTM)" in msg and "(None, 4)" in msg and "(N, L, features)" in msg
    b = lk.Input(shape=(6,), name="b")
    with pytest.raises(ShapeError, match=r"'add' \(Add\).*\(None, 4\) and \(None, 6\)"):
        lk.layers.Add(name="add")([h, lk.layers.Dense(6)(b)])
    dense = lk.layers.Dense(2, name="d")
    dense(h)
    with pytest.raises(ShapeError, match=r"'d' \(Dense\) cannot take the output of 'b' \(InputLayer\) with output "
                                         r"shape \(None, 6\): it was built for inputs \(None, 4\)"):
        dense(b)


def test_graph_mistakes_are_one_line():
    a = lk.Input(shape=(3,), name="a")
    b = lk.Input(shape=(3,), name="b")
    out = lk.layers.Add()([a, b])
    with pytest.raises(ConfigError, match="Graph disconnected.*'b'"):
        lk.Model(a, out)
    with pytest.raises(ConfigError, match="expected Input"):
        lk.Model(out, out)
    x = lk.layers.Dense(2, name="same")(a)
    with pytest.raises(ConfigError, match="unique.*'same'"):
        lk.Model(a, lk.layers.Dense(2, name="same")(x))
    with pytest.raises(ConfigError, match="no symbolic ops"):
        a + b  # noqa: B018
    with pytest.raises(ConfigError, match="stateful=True.*batch size must be static"):
        lk.layers.LSTM(2, stateful=True)(lk.Input(shape=(4, 3)))
    ok = lk.layers.LSTM(2, stateful=True)(lk.Input(shape=(4, 3), batch_size=2))
    assert ok.shape == (2, 2)
    model = lk.Model([a, b], out)
    with pytest.raises(DataError, match=r"x: expected a list of 2 arrays .*found ndarray"):
        model.predict(np.zeros((2, 3)))
    with pytest.raises(LstmkitError, match=r"x\['b'\]: expected \(N, 3\), found \(N, 4\)"):
        model.predict([np.zeros((2, 3)), np.zeros((2, 4))])


def test_sequential_keeps_taking_input_and_keras_namespace_runs_the_article_model():
    model = lk.Sequential([lk.Input(shape=(100,)), lk.layers.Embedding(10000, 128), lk.layers.LSTM(64),
                           lk.layers.Dense(2, activation="softmax")])
    assert model.count_params() == 1329538 and model.output_shape == (None, 2)
    inputs = lk.Input(shape=(100,), dtype="int32")
    x = lk.layers.Embedding(10000, 128)(inputs)
    x = lk.layers.LSTM(64)(x)
    functional = lk.Model(inputs=inputs, outputs=lk.layers.Dense(2, activation="softmax")(x))
    assert functional.count_params() == 1329538
    functional.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    ids = np.random.default_rng(0).integers(1, 10000, (16, 100))
    y = np.eye(2)[np.arange(16) % 2]
    assert np.isfinite(functional.fit(ids, y, epochs=1, verbose=0).history["loss"][0])


@needs_keras
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_every_merge_mode_with_return_state_and_initial_state_matches_keras(merge_mode):
    def build(ns):
        L = ns.layers
        enc_in = ns.Input(shape=(None, 3), name="enc_in")
        dec_in = ns.Input(shape=(None, 3), name="dec_in")
        outs = L.Bidirectional(L.LSTM(4, return_sequences=True, return_state=True), merge_mode=merge_mode,
                               name="bi_enc")(enc_in)
        states = outs[-4:]
        dec = L.Bidirectional(L.LSTM(4), merge_mode=merge_mode, name="bi_dec")(dec_in, initial_state=states)
        return ns.Model([enc_in, dec_in], [*outs, *(dec if isinstance(dec, (list, tuple)) else [dec])])

    kmodel, ours = _both(build)
    x = [_x((2, 5, 3)), _x((2, 4, 3), 1)]
    _close(ours.predict(x), kmodel.predict(x, verbose=0))
    assert ours.count_params() == kmodel.count_params()
    assert len(ours.outputs) == len(kmodel.outputs)
    assert [tuple(t.shape) for t in ours.outputs] == [tuple(t.shape) for t in kmodel.outputs]


@needs_keras
def test_attention_layers_in_a_graph_match_keras():
    def build(ns):
        L = ns.layers
        q_in = ns.Input(shape=(4,), name="q_ids", dtype="int32")
        v_in = ns.Input(shape=(6, 5), name="v")
        q = L.Embedding(9, 5, mask_zero=True, name="emb")(q_in)
        k = L.Dense(3, name="key_proj")(v_in)
        dot = L.Attention(name="luong")([q, v_in])
        add = L.AdditiveAttention(name="bahdanau")([q, v_in])
        mha = L.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")(q, v_in, key=k)
        x = L.Concatenate(name="cat")([dot, add, mha])
        x = L.BatchNormalization(name="bn")(L.LayerNormalization(name="ln")(x))
        return ns.Model([q_in, v_in], L.GlobalAveragePooling1D(name="gap")(x))

    kmodel, ours = build(keras), build(lk)
    from lstmkit.interop.keras import _from_keras_weights

    for layer in ours.layers:
        weights = [_np(w) for w in kmodel.get_layer(layer.name).weights]
        if not weights:
            continue
        if type(layer).__name__ in ("Embedding", "Dense"):
            _from_keras_weights(layer, weights)
        else:
            layer.set_weights(weights)
    assert ours.count_params() == kmodel.count_params()
    x = [np.array([[1, 2, 3, 0], [4, 0, 0, 0]]), _x((2, 6, 5))]
    _close(ours.predict(x), kmodel.predict(x, verbose=0))
    rows = {name.split(" ")[0]: (shape, params) for name, shape, params, *_ in ours.summary_rows()}
    for layer in kmodel.layers:
        assert rows[layer.name] == (str(tuple(layer.output.shape)), layer.count_params()), layer.name


@needs_keras
def test_layer_order_input_and_output_attributes_follow_keras():
    def build(ns):
        L = ns.layers
        ei = ns.Input(shape=(None, 5), name="enc_in")
        di = ns.Input(shape=(None, 7), name="dec_in")
        _, h, c = L.LSTM(8, return_state=True, name="enc")(ei)
        d, _, _ = L.LSTM(8, return_sequences=True, return_state=True, name="dec")(di, initial_state=[h, c])
        return ns.Model([ei, di], L.Dense(7, name="out")(d))

    kmodel, ours = build(keras), build(lk)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in kmodel.layers]
    assert [t.shape for t in ours.input] == [tuple(t.shape) for t in kmodel.input]
    enc_states = ours.layers[2].output[1:]
    encoder = lk.Model(ours.input[0], enc_states)  # keras.io's lstm_seq2seq inference models
    assert encoder.output_shape == [(None, 8), (None, 8)]
    assert ours.output.shape == (None, None, 7)
    with pytest.raises(ConfigError, match="has not been called"):
        lk.layers.Dense(2).output  # noqa: B018


@needs_keras
def test_activation_layer_and_missing_keras_layers():
    def build(ns):
        L = ns.layers
        x = ns.Input(shape=(3,), name="x")
        return ns.Model(x, L.Activation("softmax", name="act")(L.Dense(4, name="d")(x)))

    kmodel, ours = _both(build)
    v = _x((2, 3))
    _close(ours.predict(v), kmodel.predict(v, verbose=0))
    assert ours.logits_activation() == "softmax"
    with pytest.raises(AttributeError, match="no Keras layer 'ConvLSTM2D': it comes with video support"):
        lk.layers.ConvLSTM2D  # noqa: B018
