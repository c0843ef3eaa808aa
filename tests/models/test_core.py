"""Core Keras-style API: the article's example, fit/evaluate/predict, masking, save/load."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lstmkit.layers import LSTM, Dense, Embedding
from lstmkit.models import Sequential, load

ROOT = Path(__file__).resolve().parents[2]


def article_model() -> Sequential:
    model = Sequential()
    model.add(Embedding(input_dim=10000, output_dim=128, input_length=100))
    model.add(LSTM(units=64, return_sequences=False))
    model.add(Dense(units=2, activation="softmax"))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def test_seed_example_prints_keras_counts():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "seed_example.py")], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for text in ("1,280,000", "49,408", "130", "1,329,538", "(None, 100, 128)", "(None, 64)", "(None, 2)"):
        assert text in out, (text, out)
    assert "Trainable params: 1,329,538" in out
    assert "Non-trainable params: 0" in out


def test_article_model_counts_and_summary_object(capsys):
    model = article_model()
    summary = model.summary()
    assert [r[2] for r in summary.rows] == [1_280_000, 49_408, 130]
    assert [r[1] for r in summary.rows] == ["(None, 100, 128)", "(None, 64)", "(None, 2)"]
    assert summary.total_params == 1_329_538 and summary.non_trainable_params == 0
    assert "embedding (Embedding)" in str(summary) and "1,329,538" in str(summary)
    assert "1,329,538" in capsys.readouterr().out
    assert model.count_params() == 1_329_538
    assert sum(p.numel() for p in model.parameters()) == 1_329_538


def test_model_is_a_torch_module():
    model = article_model()
    assert isinstance(model, torch.nn.Module)
    x = torch.randint(0, 10000, (3, 100))
    probs = model(x)
    assert probs.shape == (3, 2)
    torch.testing.assert_close(probs.sum(-1), torch.ones(3))
    names = [n for n, _ in model.named_parameters()]
    assert "layers.1.cell.weight_ih_l0" in names


def _toy(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 10, size=(n, 8))
    y = (x[:, -1] >= 5).astype(np.int64)  # depends on the last token
    return x, y


def test_fit_learns_tiny_problem():
    x, y = _toy()
    model = Sequential([Embedding(10, 8), LSTM(8), Dense(2, activation="softmax")])
    from lstmkit.models import Adam

    model.compile(optimizer=Adam(learning_rate=0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=12, batch_size=32, verbose=0, validation_split=0.25)
    h = history.history
    assert set(h) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(h["loss"]) == 12
    assert h["loss"][-1] < h["loss"][0] * 0.5
    assert h["val_accuracy"][-1] >= 0.9
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc >= 0.9
    assert model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"] == pytest.approx(acc)
    probs = model.predict(x)
    assert isinstance(probs, np.ndarray) and probs.dtype == np.float32 and probs.shape == (256, 2)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_mask_zero_padding_is_ignored(padding):
    model = Sequential([Embedding(20, 6, mask_zero=True), LSTM(5), Dense(3, activation="softmax")])
    model.eval()
    seq = torch.tensor([[3, 7, 1, 9, 4]])
    padded = torch.zeros(1, 9, dtype=torch.long)
    if padding == "pre":
        padded[0, 4:] = seq
    else:
        padded[0, :5] = seq
    torch.testing.assert_close(model(padded), model(seq))


def test_save_load_round_trip(tmp_path):
    x, y = _toy(64)
    model = Sequential([Embedding(10, 8, mask_zero=True), LSTM(8), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    model.preprocessing = {"vocab": ["<pad>", "a", "b"]}
    path = tmp_path / "model.lstmkit"
    model.save(path)
    loaded = load(path)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert loaded.preprocessing == {"vocab": ["<pad>", "a", "b"]}
    assert loaded.compiled and loaded.metrics_names == ["loss", "accuracy"]
    loaded.fit(x, y, epochs=1, verbose=0)  # a loaded model trains on


def test_article_model_trains_one_step():
    model = article_model()
    x = np.random.default_rng(0).integers(0, 10000, size=(32, 100))
    y = np.eye(2)[np.arange(32) % 2]
    history = model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_seed_example_runpy(capsys):
    runpy.run_path(str(ROOT / "examples" / "seed_example.py"), run_name="__main__")
    assert "1,329,538" in capsys.readouterr().out
