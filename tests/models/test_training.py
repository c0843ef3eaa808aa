"""compile/fit/evaluate/predict details: optimizers, losses from logits, metrics, callbacks, output."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from lstmkit.layers import LSTM, Dense, Embedding, Input
from lstmkit.models import (
    SGD,
    Adam,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    RMSprop,
    Sequential,
    load,
)
from lstmkit.models.losses import get_loss
from lstmkit.models.optimizers import get_optimizer


def regression_data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5], dtype=np.float32)
    return x, y


def linear_model(**compile_kwargs):
    m = Sequential([Input((3,)), Dense(1)])
    m.compile(**{"optimizer": SGD(learning_rate=0.1), "loss": "mse", **compile_kwargs})
    return m


@pytest.mark.parametrize(
    "name,cls,lr", [("adam", torch.optim.Adam, 1e-3), ("sgd", torch.optim.SGD, 1e-2), ("rmsprop", torch.optim.RMSprop, 1e-3),
                    ("adagrad", torch.optim.Adagrad, 1e-3), ("adamw", torch.optim.AdamW, 1e-3)]
)
def test_optimizer_names_use_keras_defaults(name, cls, lr):
    m = linear_model(optimizer=name)
    x, y = regression_data(8)
    m.fit(x, y, verbose=0)
    assert type(m.optimizer.torch_optimizer) is cls
    assert m.optimizer.learning_rate == pytest.approx(lr)


def test_torch_optimizer_class_and_factory():
    x, y = regression_data()
    m = linear_model(optimizer=torch.optim.SGD)
    m.fit(x, y, verbose=0)
    assert isinstance(m.optimizer.torch_optimizer, torch.optim.SGD)
    m = linear_model(optimizer=functools.partial(torch.optim.SGD, lr=0.1))
    h = m.fit(x, y, epochs=20, verbose=0)
    assert h.history["loss"][-1] < 0.01


def test_regression_learns_and_metrics():
    x, y = regression_data()
    m = linear_model(metrics=["mae", "mse"])
    h = m.fit(x, y, epochs=30, batch_size=8, verbose=0)
    assert h.history["loss"][-1] < 1e-3
    loss, mae, mse = m.evaluate(x, y, verbose=0)
    assert mse == pytest.approx(loss, rel=1e-4) and mae < 0.05
    assert m.evaluate(x, y, verbose=0, return_dict=True).keys() == {"loss", "mae", "mse"}
    assert isinstance(linear_model().evaluate(x, y, verbose=0), float)


def test_gradient_clipping_on_compile():
    x, y = regression_data()
    m = linear_model(clipvalue=1e-4)
    before = m.layers[0].kernel.detach().clone()
    m.fit(x[:8], y[:8], batch_size=8, verbose=0)
    # one SGD step of lr 0.1 with every gradient element clipped to 1e-4
    assert (m.layers[0].kernel.detach() - before).abs().max() <= 1e-5 + 1e-7
    m = linear_model(optimizer=SGD(learning_rate=0.1, clipnorm=1e-3))
    before = m.layers[0].kernel.detach().clone()
    m.fit(x[:8], y[:8], batch_size=8, verbose=0)
    assert (m.layers[0].kernel.detach() - before).norm() <= 1e-4 + 1e-7
    opt = get_optimizer("adam", global_clipnorm=1.0)
    assert opt.global_clipnorm == 1.0


def test_crossentropy_from_logits_equals_from_probabilities():
    torch.manual_seed(0)
    for loss_name, act, units, y in [
        ("categorical_crossentropy", "softmax", 3, torch.eye(3)[torch.tensor([0, 2, 1, 1])]),
        ("sparse_categorical_crossentropy", "softmax", 3, torch.tensor([0, 2, 1, 1])),
        ("binary_crossentropy", "sigmoid", 1, torch.tensor([[0.0], [1.0], [1.0], [0.0]])),
    ]:
        m = Sequential([Input((5,)), Dense(units, activation=act)])
        x = torch.randn(4, 5)
        loss = get_loss(loss_name)
        from_probs = loss(y, m(x))
        from_logits = loss.compute(y, m.call_with_logits(x), True)
        torch.testing.assert_close(from_probs, from_logits, rtol=1e-4, atol=1e-5)


def test_logits_path_is_stable_for_saturated_softmax():
    m = Sequential([Input((2,)), Dense(2, activation="softmax")])
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    with torch.no_grad():
        m.layers[0].kernel.copy_(torch.tensor([[200.0, -200.0], [0.0, 0.0]]))
    h = m.fit(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), verbose=0)
    assert h.history["loss"][0] == pytest.approx(400.0, rel=1e-3)  # exact, not clipped at -log(1e-7)
    assert np.allclose(m.predict(np.array([[1.0, 0.0]])).sum(), 1.0)


def test_binary_model_with_auc_and_accuracy():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 10, size=(128, 6))
    y = (x[:, 0] > 5).astype(np.float32)
    m = Sequential([Embedding(10, 8), LSTM(8), Dense(1, activation="sigmoid")])
    m.compile(optimizer=Adam(learning_rate=0.05), loss="binary_crossentropy", metrics=["accuracy", "auc"])
    h = m.fit(x, y, epochs=8, verbose=0, validation_data=(x[:32], y[:32]))
    assert {"accuracy", "auc", "val_accuracy", "val_auc"} <= set(h.history)
    assert h.history["auc"][-1] > 0.9 and h.history["val_accuracy"][-1] > 0.8
    assert m.predict(x).shape == (128, 1)


def test_early_stopping_restores_best_weights():
    x, y = regression_data()
    m = linear_model(optimizer=SGD(learning_rate=0.01))
    snapshots = []
    cb = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append((logs["loss"], m.state_dict()["layers.0.kernel"].clone())))
    # monitor a fixed quantity that never improves after epoch 0 -> stops after patience epochs
    stop = EarlyStopping(monitor="loss", mode="max", patience=2, restore_best_weights=True)
    h = m.fit(x, y, epochs=20, verbose=0, callbacks=[cb, stop])
    assert len(h.history["loss"]) == 3 and stop.stopped_epoch == 2
    torch.testing.assert_close(m.state_dict()["layers.0.kernel"], snapshots[0][1])


def test_early_stopping_missing_monitor_is_clear():
    x, y = regression_data()
    from lstmkit.errors import ConfigError

    with pytest.raises(ConfigError, match="val_loss.*validation"):
        linear_model().fit(x, y, verbose=0, callbacks=[EarlyStopping()])


def test_model_checkpoint_save_best_only(tmp_path):
    x, y = regression_data()
    path = tmp_path / "best.lstmkit"
    m = linear_model()
    m.fit(x, y, epochs=3, verbose=0, validation_split=0.25, callbacks=[ModelCheckpoint(path, save_best_only=True)])
    assert path.exists()
    np.testing.assert_allclose(load(path).predict(x), m.predict(x), atol=1e-6)  # val_loss kept falling
    m.fit(x, y, epochs=2, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "e{epoch:02d}-{loss:.3f}.lstmkit"), monitor="loss")])
    assert len(list(tmp_path.glob("e0*.lstmkit"))) == 2


def test_learning_rate_callbacks():
    x, y = regression_data()
    m = linear_model(optimizer=RMSprop(learning_rate=0.01))
    h = m.fit(x, y, epochs=3, verbose=0, callbacks=[LearningRateScheduler(lambda epoch, lr: 0.01 * 0.5**epoch)])
    assert h.history["learning_rate"] == pytest.approx([0.01, 0.005, 0.0025])
    assert m.optimizer.torch_optimizer.param_groups[0]["lr"] == pytest.approx(0.0025)
    m = linear_model(optimizer=SGD(learning_rate=0.1))
    plateau = ReduceLROnPlateau(monitor="loss", mode="max", factor=0.5, patience=1)
    h = m.fit(x, y, epochs=3, verbose=0, callbacks=[plateau])
    assert h.history["learning_rate"][-1] < 0.1


def test_verbose_levels(capsys):
    x, y = regression_data(16)
    m = linear_model(metrics=["mae"])
    m.fit(x, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    m.fit(x, y, epochs=2, verbose=2)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.strip()]
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2") and "loss:" in lines[1] and "mae:" in lines[1]
    m.fit(x, y, epochs=1, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/1" in out and "loss:" in out


def test_predict_and_call_accept_numpy_and_lists():
    m = Sequential([Embedding(10, 4, input_length=3), LSTM(2), Dense(2, activation="softmax")])
    assert m.predict([[1, 2, 3], [4, 5, 6]]).shape == (2, 2)
    assert m(np.array([[1, 2, 3]])).shape == (1, 2)


def test_fit_does_not_shuffle_when_asked():
    seen = []
    m = linear_model()

    class Spy(LambdaCallback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(batch)

    x, y = regression_data(20)
    m.fit(x, y, batch_size=8, shuffle=False, verbose=0, callbacks=[Spy()])
    assert seen == [0, 1, 2]


def test_progress_bar_on_a_terminal_and_plain_lines_elsewhere():
    import io

    from rich.console import Console

    from lstmkit.models.progress import ProgressReporter

    piped = ProgressReporter(1, epochs=3, steps=5, console=Console(file=io.StringIO()))
    assert piped.verbose == 2  # no bar in a log file
    tty = ProgressReporter(1, epochs=3, steps=5, console=Console(file=io.StringIO(), force_terminal=True))
    assert tty.verbose == 1


def test_integer_features_feed_float_models():
    """Integer or bool feature arrays are cast to float (only an Embedding takes ids), as in Keras."""
    torch.manual_seed(0)
    m = Sequential([Dense(1, input_shape=(2,), activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
    m.fit(x, np.array([1, 1, 0, 0]), verbose=0)
    np.testing.assert_array_equal(m.predict(x), m.predict(x.astype(np.float32)))
    assert isinstance(m.evaluate(x, np.array([1, 1, 0, 0]), verbose=0), list)
    r = Sequential([Input(shape=(5, 3)), LSTM(2), Dense(1)])
    r.compile(optimizer="sgd", loss="mse")
    xi = np.ones((4, 5, 3), dtype=np.int32)
    r.fit(xi, np.zeros((4, 1)), verbose=0)
    np.testing.assert_array_equal(r.predict(xi), r.predict(xi.astype(np.float32)))


def test_float64_model_takes_any_float_input():
    torch.manual_seed(0)
    m = Sequential([Input(shape=(5, 3)), LSTM(2), Dense(1)]).double()
    m.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(4, 5, 3))
    m.fit(x, np.zeros((4, 1)), verbose=0)
    out = m.predict(x.astype(np.float32))
    assert out.dtype == np.float32 and out.shape == (4, 1)
    assert m(torch.from_numpy(x)).dtype == torch.float64


# ------------------------------------------------------------------------------ fit on the engine
def test_fit_runs_on_the_training_engine():
    """fit's loop is lstmkit.train's Trainer: its TrainResult comes back on the History."""
    from lstmkit.train.engine import TrainResult

    x, y = regression_data(20)
    m = linear_model(metrics=["mae"])
    h = m.fit(x, y, epochs=3, batch_size=8, verbose=0, validation_split=0.25)
    r = h.train_result
    assert isinstance(r, TrainResult) and m.history is h
    assert r.steps == 3 * 2 and r.epochs_completed == 3 and r.stop_reason == "epochs" and r.precision == "fp32"
    assert [e["epoch"] for e in r.history] == [1, 2, 3]
    # the engine's per-epoch records are exactly what History holds
    for key in ("loss", "mae", "val_loss", "val_mae"):
        assert [e[key] for e in r.history] == h.history[key]
    assert list(h.history) == ["loss", "mae", "val_loss", "val_mae"]  # Keras's order


def test_fit_with_initial_epoch_and_stop_training_through_the_engine():
    x, y = regression_data(16)
    m = linear_model()
    h = m.fit(x, y, epochs=4, initial_epoch=2, batch_size=8, verbose=0)
    assert h.epoch == [2, 3] and h.train_result.steps == 4 and h.train_result.epochs_completed == 4

    class StopAfterFirstBatch(LambdaCallback):
        def on_train_batch_end(self, batch, logs=None):
            assert isinstance(logs["loss"], float)
            self.model.stop_training = True  # honoured at the epoch's end

    h = m.fit(x, y, epochs=5, batch_size=4, verbose=0, callbacks=[StopAfterFirstBatch()])
    assert h.epoch == [0] and h.train_result.steps == 4 and h.train_result.stop_reason == "hook"


def test_fit_shuffle_is_reproducible_with_torch_manual_seed():
    x, y = regression_data(40)

    def weights_after(seed, shuffle=True):
        torch.manual_seed(0)
        m = linear_model()  # the same initial weights every time
        torch.manual_seed(seed)
        m.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=shuffle)
        return m.layers[0].kernel.detach().clone()

    torch.testing.assert_close(weights_after(1), weights_after(1), rtol=0, atol=0)
    assert not torch.equal(weights_after(1), weights_after(2))  # another seed, another order
    torch.testing.assert_close(weights_after(1, False), weights_after(2, False), rtol=0, atol=0)


def test_fit_precision_bf16_is_one_line_where_the_cpu_has_no_bf16_units():
    from lstmkit.errors import LstmkitError
    from lstmkit.train.precision import bf16_available

    if bf16_available("cpu"):
        pytest.skip("this CPU runs bf16 natively")
    x, y = regression_data(8)
    m = linear_model()
    before = m.layers[0].kernel.detach().clone()
    with pytest.raises(LstmkitError) as info:
        m.fit(x, y, verbose=0, precision="bf16")
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("precision 'bf16'") and "'fp32' or 'auto'" in msg
    assert torch.equal(before, m.layers[0].kernel)  # refused before any step
    with pytest.raises(LstmkitError, match=r"^precision: expected 'fp32', 'bf16' or 'auto', found 'fp16'$"):
        m.fit(x, y, verbose=0, precision="fp16")


def test_fit_precision_auto_trains():
    from lstmkit.train.precision import resolve_precision

    x, y = regression_data()
    m = linear_model()
    h = m.fit(x, y, epochs=20, batch_size=8, verbose=0, precision="auto")
    assert h.train_result.precision == resolve_precision("auto")
    assert h.history["loss"][-1] < 0.1


def test_global_clipnorm_is_the_engines_and_lr_callbacks_persist():
    x, y = regression_data()
    m = linear_model(optimizer=SGD(learning_rate=0.1, global_clipnorm=1e-3))
    before = m.state_dict()
    before = {k: v.clone() for k, v in before.items()}
    m.fit(x[:8], y[:8], batch_size=8, verbose=0)
    step = torch.cat([(m.state_dict()[k] - v).flatten() for k, v in before.items()])
    assert 0 < step.norm() <= 1e-4 + 1e-7  # lr 0.1 times a gradient of norm 1e-3
    m = linear_model(optimizer=RMSprop(learning_rate=0.01))
    m.fit(x, y, epochs=2, verbose=0, callbacks=[LearningRateScheduler(lambda epoch, lr: 0.01 * 0.5**epoch)])
    m.fit(x, y, epochs=1, verbose=0)  # a later fit keeps the rate the callback set (Keras)
    assert m.optimizer.learning_rate == pytest.approx(0.005)
