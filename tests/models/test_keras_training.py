"""fit(class_weight=, sample_weight=), CSVLogger and Precision/Recall, checked against Keras 3 and sklearn."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from lstmkit.errors import ConfigError, InputValueError
from lstmkit.layers import Dense, Input
from lstmkit.models import SGD, CSVLogger, Sequential
from lstmkit.models.metrics import Precision, Recall, get_metric

os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture(scope="module")
def keras():
    if os.environ.get("KERAS_BACKEND") != "torch":
        pytest.skip("Keras comparison needs KERAS_BACKEND=torch")
    return pytest.importorskip("keras")


def data(n=20, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = rng.integers(0, classes, size=n)
    return x, y


def weights(units, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(4, units)).astype(np.float32), rng.normal(size=(units,)).astype(np.float32) * 0.1]


def ours(units, activation, loss, metrics=()):
    m = Sequential([Input((4,)), Dense(units, activation=activation)])
    m.compile(optimizer=SGD(learning_rate=1e-30), loss=loss, metrics=list(metrics))
    m.layers[-1].set_weights(weights(units))
    return m


def theirs(keras, units, activation, loss, metrics=()):
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation=activation)])
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss=loss, metrics=list(metrics))
    m.layers[-1].set_weights(weights(units))
    return m


def one_epoch(model, x, y, **kw):
    return model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, **kw).history


CASES = [
    (3, "softmax", "sparse_categorical_crossentropy", lambda y: y),
    (3, "softmax", "categorical_crossentropy", lambda y: np.eye(3, dtype=np.float32)[y]),
    (1, "sigmoid", "binary_crossentropy", lambda y: (y > 0).astype(np.float32)),
    (1, None, "mse", lambda y: y.astype(np.float32)),
]


@pytest.mark.parametrize("units,activation,loss,target", CASES, ids=[c[2] for c in CASES])
def test_weighted_loss_matches_keras(keras, units, activation, loss, target):
    x, y = data()
    yt = target(y)
    sw = np.random.default_rng(5).uniform(0.0, 3.0, size=len(x)).astype(np.float32)
    cw = {0: 0.5, 1: 2.0} if units == 1 else {0: 0.5, 1: 2.0, 2: 4.0}
    metrics = ["accuracy"] if loss != "mse" else ["mae"]
    for kw in ({}, {"sample_weight": sw}, {"class_weight": cw}):
        if loss == "mse" and "class_weight" in kw:
            continue
        a = one_epoch(ours(units, activation, loss, metrics), x, yt, **kw)
        b = one_epoch(theirs(keras, units, activation, loss, metrics), x, yt, **kw)
        for key in ("loss", metrics[0]):
            assert a[key][0] == pytest.approx(b[key][0], rel=1e-4, abs=1e-6), (kw.keys(), key)


def test_weighted_validation_matches_keras(keras):
    x, y = data(24)
    sw = np.linspace(0.1, 2.0, len(x)).astype(np.float32)
    args = (3, "softmax", "sparse_categorical_crossentropy", ["accuracy"])
    for kw in ({"validation_data": (x[:8], y[:8], sw[:8])}, {"validation_split": 0.25, "sample_weight": sw},
               {"validation_split": 0.25, "class_weight": {0: 3.0}}):
        a = one_epoch(ours(*args), x, y, **kw)
        b = one_epoch(theirs(keras, *args), x, y, **kw)
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert a[key][0] == pytest.approx(b[key][0], rel=1e-4, abs=1e-6), (list(kw), key)


def test_class_weight_equals_the_matching_sample_weight():
    x, y = data()
    cw = {0: 0.2, 1: 1.0, 2: 3.0}
    sw = np.array([cw[int(c)] for c in y], dtype=np.float32)
    args = (3, "softmax", "sparse_categorical_crossentropy", ["accuracy"])
    a = one_epoch(ours(*args), x, y, class_weight=cw)
    b = one_epoch(ours(*args), x, y, sample_weight=sw)
    assert a == b
    # missing classes weigh 1.0, as in Keras
    c = one_epoch(ours(*args), x, y, class_weight={2: 3.0})
    d = one_epoch(ours(*args), x, y, sample_weight=np.where(y == 2, 3.0, 1.0))
    assert c["loss"][0] == pytest.approx(d["loss"][0])


def test_weights_change_training():
    x, y = data(40)
    torch.manual_seed(0)
    m = Sequential([Input((4,)), Dense(3, activation="softmax")])
    m.compile(optimizer=SGD(learning_rate=0.5), loss="sparse_categorical_crossentropy")
    m.fit(x, y, epochs=20, verbose=0, class_weight={0: 0.0, 1: 0.0, 2: 1.0})
    assert (m.predict(x).argmax(-1) == 2).mean() > 0.9


@pytest.mark.parametrize("kw,exc,msg", [
    ({"class_weight": {0: 1.0}, "sample_weight": np.ones(20)}, ConfigError, "class_weight and sample_weight"),
    ({"sample_weight": np.ones(19)}, ConfigError, "sample_weight: expected one weight per sample"),
    ({"sample_weight": -np.ones(20)}, InputValueError, "sample_weight: expected weights >= 0"),
    ({"sample_weight": np.full(20, np.nan)}, InputValueError, "sample_weight: contains NaN"),
    ({"class_weight": [1.0, 2.0]}, ConfigError, "class_weight: expected a dict"),
    ({"class_weight": {"a": 1.0}}, ConfigError, "class_weight: keys must be class indices"),
    ({"class_weight": {5: 1.0}}, ConfigError, "class_weight: class 5 does not exist"),
    ({"class_weight": {0: -1.0}}, InputValueError, "class_weight: weight of class 0"),
    ({"validation_data": (np.zeros((2, 4)), [0, 1], [1.0])}, ConfigError, "validation_data sample_weight"),
])
def test_bad_weights_are_one_line_errors(kw, exc, msg):
    x, y = data()
    m = ours(3, "softmax", "sparse_categorical_crossentropy")
    with pytest.raises(exc, match=msg) as info:
        one_epoch(m, x, y, **kw)
    assert "\n" not in str(info.value)


def test_csv_logger_matches_keras(keras, tmp_path):
    x, y = data()
    ours_path, keras_path = tmp_path / "ours.csv", tmp_path / "keras.csv"
    args = (3, "softmax", "sparse_categorical_crossentropy", ["accuracy"])
    ours(*args).fit(x, y, epochs=2, verbose=0, callbacks=[CSVLogger(ours_path)])
    theirs(keras, *args).fit(x, y, epochs=2, verbose=0, callbacks=[keras.callbacks.CSVLogger(str(keras_path))])
    a, b = ours_path.read_text().splitlines(), keras_path.read_text().splitlines()
    assert a[0] == b[0] == "epoch,accuracy,loss,val_accuracy,val_loss"
    assert len(a) == len(b) == 3
    for ra, rb in zip(a[1:], b[1:]):
        fa, fb = ra.split(","), rb.split(",")
        assert fa[0] == fb[0] and fa[3:] == fb[3:] == ["NA", "NA"]
        assert np.allclose([float(v) for v in fa[1:3]], [float(v) for v in fb[1:3]], rtol=1e-4)


def test_csv_logger_append_separator_and_validation(tmp_path):
    x, y = data()
    path = tmp_path / "log.tsv"
    m = ours(3, "softmax", "sparse_categorical_crossentropy", ["accuracy"])
    m.fit(x, y, epochs=1, verbose=0, validation_split=0.25, callbacks=[CSVLogger(path, separator="\t")])
    m.fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[CSVLogger(path, separator="\t", append=True)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch\taccuracy\tloss\tval_accuracy\tval_loss"
    assert [line.split("\t")[0] for line in lines[1:]] == ["0", "0", "1"]
    m.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(path)])  # append=False overwrites
    assert len(path.read_text().splitlines()) == 2
    with pytest.raises(ConfigError, match="separator"):
        CSVLogger(path, separator="::")


def test_precision_recall_match_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, size=(50, 1)).astype(np.float32)
    p = rng.uniform(size=(50, 1)).astype(np.float32)
    w = rng.uniform(size=50).astype(np.float32)
    for cls, fn in ((Precision, sk.precision_score), (Recall, sk.recall_score)):
        m = cls()
        m.update(torch.tensor(y[:20]), torch.tensor(p[:20]))
        m.update(torch.tensor(y[20:]), torch.tensor(p[20:]))
        assert m.result() == pytest.approx(fn(y.ravel(), p.ravel() > 0.5))
        m.reset()
        m.update(torch.tensor(y), torch.tensor(p), sample_weight=torch.tensor(w))
        assert m.result() == pytest.approx(fn(y.ravel(), p.ravel() > 0.5, sample_weight=w), rel=1e-6)
    # no predicted positives / no positives: 0.0, as Keras's divide_no_nan
    m = Precision()
    m.update(torch.ones(3, 1), torch.zeros(3, 1))
    assert m.result() == 0.0


def test_precision_recall_in_fit_match_keras(keras):
    x, y = data()
    yb = (y > 0).astype(np.float32)
    yo = np.eye(3, dtype=np.float32)[y]
    sw = np.linspace(0.5, 2.0, len(x)).astype(np.float32)
    for units, act, loss, target in ((1, "sigmoid", "binary_crossentropy", yb), (3, "softmax", "categorical_crossentropy", yo)):
        for kw in ({}, {"sample_weight": sw}):
            a = one_epoch(ours(units, act, loss, ["precision", "recall"]), x, target, **kw)
            b = one_epoch(theirs(keras, units, act, loss, ["precision", "recall"]), x, target, **kw)
            for key in ("precision", "recall"):
                assert a[key][0] == pytest.approx(b[key][0], rel=1e-5), (loss, list(kw), key)


def test_precision_refuses_sparse_labels():
    m = Sequential([Input((4,)), Dense(3, activation="softmax")])
    with pytest.raises(ConfigError, match="'precision' counts binary decisions"):
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["precision"])
    assert get_metric("Recall", loss_name="binary_crossentropy", output_shape=(1,)).name == "Recall"
