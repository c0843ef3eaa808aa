"""Keras's names for losses, metrics and callbacks (issue 19, part 3), masked losses in ``Sequential`` (as in
Keras, a per-step output after ``Embedding(mask_zero=True)`` counts real steps only), and callbacks on a
Functional model with several outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmkit import keras as lk
from lstmkit.models import load_model

from keras_peer import keras, needs_keras  # noqa: E402  (real Keras 3, or why not)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def _np(t) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(t))


def test_keras_loss_metric_callback_and_optimizer_names_exist():
    for name in ("SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy", "MeanSquaredError",
                 "MeanAbsoluteError", "Huber", "sparse_categorical_crossentropy", "categorical_crossentropy",
                 "binary_crossentropy", "mse", "mae", "huber", "mean_squared_error", "mean_absolute_error"):
        assert hasattr(lk.losses, name), name
    for name in ("AUC", "Precision", "Recall", "SparseCategoricalAccuracy", "CategoricalAccuracy", "BinaryAccuracy",
                 "MeanAbsoluteError", "MeanSquaredError"):
        assert hasattr(lk.metrics, name), name
    assert [lk.metrics.AUC().name, lk.metrics.MeanAbsoluteError().name] == ["auc", "mean_absolute_error"]
    for name in ("EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau", "CSVLogger", "LearningRateScheduler"):
        assert hasattr(lk.callbacks, name), name


@needs_keras
@pytest.mark.parametrize("name", ["sparse_categorical_crossentropy", "binary_crossentropy", "mean_squared_error",
                                  "mean_absolute_error", "huber"])
def test_function_form_losses_equal_keras(name):
    rng = np.random.default_rng(0)
    if name == "sparse_categorical_crossentropy":
        y, p = rng.integers(0, 3, 5), rng.dirichlet(np.ones(3), 5).astype("float32")
    elif name == "binary_crossentropy":
        y, p = rng.integers(0, 2, (5, 1)).astype("float32"), rng.uniform(0.05, 0.95, (5, 1)).astype("float32")
    else:
        y, p = rng.normal(size=(5, 2)).astype("float32"), rng.normal(size=(5, 2)).astype("float32")
    ours = getattr(lk.losses, name)(y, p).numpy()
    theirs = _np(getattr(keras.losses, name)(y, p))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    model = lk.Sequential([lk.layers.Dense(1, input_shape=(2,))])
    model.compile(loss=getattr(lk.losses, name))
    assert type(model.loss).__name__ != "FunctionLoss"


@needs_keras
def test_sparse_crossentropy_from_logits_matches_keras():
    rng = np.random.default_rng(1)
    y, logits = rng.integers(0, 4, 6), rng.normal(size=(6, 4)).astype("float32")
    ours = lk.losses.SparseCategoricalCrossentropy(from_logits=True)(torch.tensor(y), torch.tensor(logits))
    theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits)
    assert float(ours) == pytest.approx(float(_np(theirs)), abs=1e-5)


@needs_keras
def test_sequential_masked_sequence_loss_and_accuracy_match_keras():
    def build(ns):
        return ns.Sequential([ns.Input(shape=(6,)), ns.layers.Embedding(12, 4, mask_zero=True, name="emb"),
                              ns.layers.LSTM(5, return_sequences=True, name="lstm"),
                              ns.layers.Dense(3, activation="softmax", name="out")])

    kmodel, ours = build(keras), build(lk)
    from lstmkit.interop.keras import _from_keras_weights

    for layer in ours.layers:
        _from_keras_weights(layer, [_np(w) for w in kmodel.get_layer(layer.name).weights])
    x = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 9], [0, 0, 1, 1, 2, 0]])
    y = np.random.default_rng(2).integers(0, 3, (3, 6))
    for m in (kmodel, ours):
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    theirs = kmodel.evaluate(x, y, verbose=0, return_dict=True)
    mine = ours.evaluate(x, y, verbose=0, return_dict=True)
    assert mine["loss"] == pytest.approx(theirs["loss"], abs=1e-5)
    assert mine["accuracy"] == pytest.approx(theirs["accuracy"], abs=1e-6)
    # Padding targets do not count: changing them leaves the loss alone.
    y2 = y.copy()
    y2[x == 0] = (y2[x == 0] + 1) % 3
    assert ours.evaluate(x, y2, verbose=0) [0] == pytest.approx(mine["loss"], abs=1e-6)


def test_callbacks_on_a_functional_model_with_two_outputs(tmp_path):
    torch.manual_seed(0)
    a = lk.Input(shape=(5, 2), name="a")
    h = lk.layers.LSTM(6)(a)
    model = lk.Model(a, {"cls": lk.layers.Dense(2, activation="softmax", name="cls")(h),
                         "reg": lk.layers.Dense(1, name="reg")(h)})
    model.compile(optimizer=lk.optimizers.Adam(learning_rate=0.01),
                  loss={"cls": "sparse_categorical_crossentropy", "reg": "huber"},
                  metrics={"cls": ["accuracy", lk.metrics.AUC()], "reg": ["mae"]})
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5, 2)).astype("float32")
    y = {"cls": (x[:, :, 0].sum(1) > 0).astype("int64"), "reg": x[:, :, 1].sum(1, keepdims=True)}
    path = tmp_path / "best.lstmkit"
    seen = []
    history = model.fit(x, y, epochs=6, batch_size=8, verbose=0, validation_split=0.25, callbacks=[
        lk.callbacks.EarlyStopping(monitor="val_cls_loss", patience=10, restore_best_weights=True),
        lk.callbacks.ModelCheckpoint(str(path), monitor="val_reg_loss", save_best_only=True),
        lk.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5),
        lk.callbacks.LearningRateScheduler(lambda epoch, lr: seen.append(lr) or lr),
    ], initial_epoch=1)
    assert len(history.history["loss"]) == 5 and len(seen) == 5
    assert {"cls_auc", "cls_accuracy", "reg_mae", "val_cls_auc"} <= set(history.history)
    again = load_model(path)
    assert set(again.predict(x[:3])) == {"cls", "reg"}


def test_default_names_keras_namespace_extras_and_seeding():
    L = lk.layers
    assert [L.Conv1D(2, 3).name, L.MaxPooling1D().name, L.SimpleRNN(2).name, L.GlobalAveragePooling1D().name,
            L.MultiHeadAttention(2, 2).name, L.LSTM(2).name] == [
        "conv1d", "max_pooling1d", "simple_rnn", "global_average_pooling1d", "multi_head_attention", "lstm"]
    assert lk.layers.TextVectorization is lk.utils.TextVectorization
    assert lk.preprocessing.sequence.pad_sequences([[1, 2]], maxlen=3).tolist() == [[0, 1, 2]]
    lk.utils.set_random_seed(3)
    a = (np.random.rand(), torch.rand(1).item())
    lk.utils.set_random_seed(3)
    assert (np.random.rand(), torch.rand(1).item()) == a


def test_adam_uses_the_fused_kernel_with_the_same_updates():
    torch.manual_seed(0)
    model = lk.Sequential([lk.Input(shape=(5, 3)), lk.layers.LSTM(4), lk.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x, y = np.random.default_rng(0).normal(size=(16, 5, 3)), np.random.default_rng(1).normal(size=(16, 1))
    start = {k: v.clone() for k, v in model.state_dict().items()}
    model.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    assert model.optimizer.torch_optimizer.defaults.get("fused") is True
    fused = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(start)
    plain = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7, foreach=False)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    for _ in range(3):
        for i in range(0, 16, 4):
            plain.zero_grad()
            torch.nn.functional.mse_loss(model(xt[i:i + 4]), yt[i:i + 4]).backward()
            plain.step()
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, fused[k], atol=1e-6, rtol=1e-5)


def test_stacked_lstms_train_under_bf16_autocast():
    from lstmkit.train.precision import bf16_available

    if not bf16_available("cpu"):
        pytest.skip("this CPU has no bfloat16 units: bf16 is refused here (tested elsewhere)")
    torch.manual_seed(0)
    model = lk.Sequential([lk.Input(shape=(7, 12)), lk.layers.LSTM(16), lk.layers.RepeatVector(4),
                           lk.layers.LSTM(16, return_sequences=True), lk.layers.Dense(12, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x = np.eye(12, dtype="float32")[np.random.default_rng(0).integers(0, 12, (32, 7))]
    y = np.eye(12, dtype="float32")[np.random.default_rng(1).integers(0, 12, (32, 4))]
    history = model.fit(x, y, epochs=2, verbose=0, precision="bf16")
    assert history.train_result.precision == "bf16" and np.isfinite(history.history["loss"]).all()
