"""One-file save/load: round trips, the format, and clear errors for bad files."""

from __future__ import annotations

import json
import os
import stat

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from lstmkit.errors import ConfigError, ModelFileError
from lstmkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, Input, SimpleRNN
from lstmkit.models import SGD, Sequential, load, read_metadata


def small_model():
    m = Sequential([Embedding(30, 6, mask_zero=True), LSTM(5), Dense(3, activation="softmax")])
    m.compile(optimizer=SGD(learning_rate=0.1, momentum=0.9), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.lstmkit"
    small_model().save(path)
    return path


def test_file_is_plain_safetensors_with_lstmkit_metadata(saved):
    with safe_open(str(saved), "pt") as f:
        meta = f.metadata()
        keys = set(f.keys())
    assert meta["format"] == "lstmkit"
    assert "layers.0.embeddings" in keys and "layers.1.cell.weight_ih_l0" in keys
    config = json.loads(meta["config"])
    assert config["class_name"] == "Sequential"
    assert [l["class_name"] for l in config["config"]["layers"]] == ["Embedding", "LSTM", "Dense"]
    compile_config = json.loads(meta["compile_config"])
    assert compile_config["optimizer"]["class_name"] == "SGD"
    assert compile_config["loss"]["class_name"] == "SparseCategoricalCrossentropy"
    assert read_metadata(saved)["lstmkit_version"]


def test_round_trip_many_layers(tmp_path):
    m = Sequential([
        Input(shape=(7, 3)),
        Bidirectional(LSTM(4, return_sequences=True), merge_mode="sum"),
        Dropout(0.2),
        GRU(4, return_sequences=True, go_backwards=True),
        SimpleRNN(3),
        Dense(2, activation="tanh", use_bias=False),
    ])
    x = torch.randn(5, 7, 3)
    m.eval()
    path = tmp_path / "m.safetensors"
    m.save(path)
    loaded = load(path)
    assert not loaded.compiled
    assert loaded.get_config() == m.get_config()
    loaded.eval()
    torch.testing.assert_close(loaded(x), m(x), rtol=0, atol=0)


def test_compile_config_and_optimizer_restored(saved):
    m = load(saved)
    assert isinstance(m.optimizer, SGD) and m.optimizer.learning_rate == 0.1 and m.optimizer.momentum == 0.9
    assert m.loss.name == "sparse_categorical_crossentropy"
    assert not load(saved, compile=False).compiled


def test_callable_loss_saves_without_compile_config(tmp_path):
    m = Sequential([Dense(1, input_shape=(2,))])
    m.compile(optimizer="adam", loss=lambda y, p: ((y - p) ** 2).mean())
    m.save(tmp_path / "m")
    assert not load(tmp_path / "m").compiled


def test_preprocessing_must_be_json(tmp_path):
    m = small_model()
    path = tmp_path / "m.lstmkit"
    m.save(path)
    before = path.read_bytes()
    m.preprocessing = {"fn": object()}
    with pytest.raises(ConfigError, match="model.preprocessing"):
        m.save(path)
    assert path.read_bytes() == before  # the existing file is untouched


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.lstmkit"
    small_model().save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(ModelFileError, match="could not be written .disk full"):
        small_model().save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.lstmkit"]  # no temp file left behind


def test_not_found(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load(tmp_path / "missing.lstmkit")


def test_not_a_model_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a model" * 10)
    with pytest.raises(ModelFileError, match=r"notes.txt.*not an lstmkit model"):
        load(path)


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(ModelFileError, match=r"other.safetensors.*format=\"lstmkit\""):
        load(path)


def test_truncated_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) - 100])
    with pytest.raises(ModelFileError, match=r"model.lstmkit.*truncated"):
        load(saved)
    saved.write_bytes(data[:5])
    with pytest.raises(ModelFileError, match="truncated"):
        load(saved)


def test_corrupted_weights(saved):
    data = bytearray(saved.read_bytes())
    data[-10] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"model.lstmkit.*corrupted.*checksum"):
        load(saved)


def test_corrupted_header(saved):
    data = bytearray(saved.read_bytes())
    data[12] = ord("\x01")
    saved.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="corrupted"):
        load(saved)


def test_directory_is_not_a_model(tmp_path):
    with pytest.raises(ModelFileError, match="not a file"):
        load(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_save_refuses_special_file(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="special file"):
        small_model().save(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # not replaced by a regular file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_saved_file_mode_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        small_model().save(tmp_path / "m.lstmkit")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.lstmkit").st_mode) == 0o644
