"""Every user mistake is an lstmkit error with a one-line message naming the argument and values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmkit.errors import ConfigError, DataError, InputValueError, LstmkitError, ShapeError
from lstmkit.layers import LSTM, Dense, Embedding
from lstmkit.models import Sequential


@pytest.fixture
def model():
    m = Sequential([Embedding(10000, 16, input_length=100), LSTM(4), Dense(2, activation="softmax")])
    m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return m


X = np.random.default_rng(0).integers(0, 10000, size=(8, 100))
Y = np.eye(2)[np.arange(8) % 2]


def raises(cls, fn, *fragments):
    with pytest.raises(cls) as info:
        fn()
    msg = str(info.value)
    assert "\n" not in msg and isinstance(info.value, LstmkitError) and isinstance(info.value, ValueError)
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)
    return msg


def test_wrong_rank(model):
    raises(ShapeError, lambda: model.fit(np.zeros((8, 100, 3), int), Y, verbose=0),
           "x: expected (N, 100) token ids, found (N, 100, 3)")


def test_wrong_length(model):
    raises(ShapeError, lambda: model.predict(np.zeros((8, 50), int)), "expected (N, 100) token ids, found (N, 50)")


def test_direct_call_wrong_shape(model):
    raises(ShapeError, lambda: model(torch.zeros(2, 100, 3, dtype=torch.long)), "found (N, 100, 3)")


def test_floats_to_embedding(model):
    raises(InputValueError, lambda: model.fit(X.astype(np.float32), Y, verbose=0), "x:", "integer token ids", "float32")
    raises(InputValueError, lambda: model(torch.tensor(X).float()), "integer token ids")


def test_token_id_out_of_range(model):
    bad = X.copy()
    bad[3, 7] = 12345
    raises(InputValueError, lambda: model.fit(bad, Y, verbose=0), "token id 12345", "input_dim=10000")
    raises(InputValueError, lambda: model.predict(bad), "token id 12345")
    raises(InputValueError, lambda: model(torch.tensor(bad)), "token id 12345", "input_dim=10000")
    neg = X.copy()
    neg[0, 0] = -1
    raises(InputValueError, lambda: model.predict(neg), "token id -1")


def test_sparse_label_too_large():
    m = Sequential([Embedding(50, 4), LSTM(3), Dense(2, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    raises(InputValueError, lambda: m.fit(np.ones((4, 5), int), np.array([0, 1, 5, 1]), verbose=0),
           "sparse_categorical_crossentropy", "[0, 1]", "2 output units", "found 5")


def test_one_hot_width_mismatch(model):
    raises(ShapeError, lambda: model.fit(X, np.eye(3)[np.arange(8) % 3], verbose=0), "width 2", "found width 3")


def test_class_ids_with_categorical_loss(model):
    raises(ShapeError, lambda: model.fit(X, np.arange(8) % 2, verbose=0), "sparse_categorical_crossentropy")


def test_binary_labels_out_of_range():
    m = Sequential([LSTM(3, input_shape=(None, 2)), Dense(1, activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy")
    raises(InputValueError, lambda: m.fit(np.random.rand(4, 5, 2), np.array([0, 1, 2, 1]), verbose=0),
           "binary_crossentropy", "{0, 1}", "found 2")


def test_nan_and_inf():
    m = Sequential([LSTM(3, input_shape=(None, 2)), Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    x = np.random.rand(4, 5, 2)
    x[2, 1, 0] = np.nan
    raises(InputValueError, lambda: m.fit(x, np.zeros(4), verbose=0), "x: contains NaN", "sample 2")
    x[2, 1, 0] = np.inf
    raises(InputValueError, lambda: m.predict(x), "x: contains inf")
    y = np.zeros(4)
    y[1] = np.nan
    raises(InputValueError, lambda: m.fit(np.random.rand(4, 5, 2), y, verbose=0), "y: contains NaN")


def test_empty_dataset(model):
    raises(DataError, lambda: model.fit(X[:0], Y[:0], verbose=0), "x: expected at least one sample")
    raises(DataError, lambda: model.fit([], [], verbose=0), "x: expected at least one sample")


def test_length_mismatch(model):
    raises(DataError, lambda: model.fit(X, Y[:7], verbose=0), "x and y", "8 and 7")


def test_ragged_lists(model):
    raises(DataError, lambda: model.fit([[1, 2], [3]], [[1, 0], [0, 1]], verbose=0), "pad sequences")


def test_bad_compile_names_list_accepted_ones(model):
    raises(ConfigError, lambda: model.compile(optimizer="adamx", loss="mse"), "optimizer", "'adam'", "'adamx'")
    raises(ConfigError, lambda: model.compile(optimizer="adam", loss="msee"), "loss", "'mse'", "'msee'")
    raises(ConfigError, lambda: model.compile(optimizer="adam", loss="mse", metrics=["accurcy"]), "metrics", "'accuracy'")
    raises(ConfigError, lambda: model.compile(optimizer="adam"), "loss")


def test_fit_before_compile():
    m = Sequential([Dense(2, input_shape=(3,))])
    raises(ConfigError, lambda: m.fit(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0), "compile", "fit")
    raises(ConfigError, lambda: m.evaluate(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0), "compile", "evaluate")


def test_bad_fit_arguments(model):
    raises(ConfigError, lambda: model.fit(X, Y, batch_size=0, verbose=0), "batch_size", "0")
    raises(ConfigError, lambda: model.fit(X, Y, epochs=0, verbose=0), "epochs")
    raises(ConfigError, lambda: model.fit(X, Y, validation_split=1.5, verbose=0), "validation_split", "1.5")
    raises(ConfigError, lambda: model.fit(X, Y, validation_data=(X,), verbose=0), "validation_data")
    raises(ConfigError, lambda: model.fit(X, Y, verbose=3), "verbose")
    raises(DataError, lambda: model.fit(X[:1], Y[:1], validation_split=0.5, verbose=0), "validation_split")


def test_bad_layer_arguments():
    raises(ConfigError, lambda: Dense(0), "units", "0")
    raises(ConfigError, lambda: Dense(3, activation="relux"), "activation", "'relux'", "'relu'")
    raises(ConfigError, lambda: LSTM(3, activation="relu"), "activation", "'tanh'")
    raises(ConfigError, lambda: Embedding(0, 4), "input_dim")
    raises(ConfigError, lambda: LSTM(3, dropout=1.5), "dropout", "1.5")
    raises(ConfigError, lambda: Sequential([Dense(2), "dense"]), "layer", "str")
    raises(ConfigError, lambda: Sequential([LSTM(2, return_state=True)]), "return_state")
    raises(ConfigError, lambda: Sequential([Dense(2, name="d"), Dense(2, name="d")]), "'d'", "already used")


def test_standalone_layer_wrong_input():
    raises(ShapeError, lambda: Embedding(10, 4)(torch.zeros(2, 3, 4, dtype=torch.long)),
           "Embedding 'embedding' input: expected (N, L) token ids, found (N, 3, 4)")
    layer = LSTM(3)
    layer(torch.zeros(2, 5, 4))
    raises(ShapeError, lambda: layer(torch.zeros(2, 5, 6)), "LSTM 'lstm' input: expected (N, L, 4), found (N, 5, 6)")
    raises(ShapeError, lambda: layer(torch.zeros(2, 4)), "found (N, 4)")


def test_non_numeric_input(model):
    raises(InputValueError, lambda: model.predict(np.array([["a", "b"]])), "strings")
