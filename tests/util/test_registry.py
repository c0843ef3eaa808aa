"""lstmkit.load(path): one registry of file kinds returns the right object for any file lstmkit wrote."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import lstmkit
from lstmkit.errors import LstmkitError, ModelFileError
from lstmkit.util.container import save_tensors
from lstmkit.util.registry import KINDS, canonical_kind, describe, kind_of


def _sequential(tmp_path):
    from lstmkit.layers import Dense
    from lstmkit.models import Sequential

    path = tmp_path / "seq.lstmkit"
    Sequential([Dense(2, input_shape=(3,))]).save(path)
    return path


def test_sequential(tmp_path):
    from lstmkit.models import Sequential

    assert isinstance(lstmkit.load(_sequential(tmp_path)), Sequential)


def test_text_classifier(tmp_path):
    from lstmkit.tasks.text.classifier import TextClassifier

    texts = ["good film", "great plot", "bad film", "awful plot"] * 3
    labels = ["pos", "pos", "neg", "neg"] * 3
    clf = TextClassifier(units=4, embedding_dim=4, max_length=4, epochs=1, batch_size=4).fit(texts, labels)
    clf.save(tmp_path / "t.lstmkit")
    loaded = lstmkit.load(tmp_path / "t.lstmkit")
    assert isinstance(loaded, TextClassifier) and kind_of(tmp_path / "t.lstmkit") == "text_classifier"
    assert list(loaded.predict(texts)) == list(clf.predict(texts))


def test_forecaster(tmp_path):
    from lstmkit.tasks.timeseries.forecaster import Forecaster

    t = np.arange(120)
    df = pd.DataFrame({"y": np.sin(t / 4.0)}, index=pd.date_range("2024-01-01", periods=120, freq="h", name="time"))
    fc = Forecaster(24, 6, segment=6, units=4, epochs=1, batch_size=16).fit(df, valid=0.2)
    fc.save(tmp_path / "f.lstmkit")
    assert isinstance(lstmkit.load(tmp_path / "f.lstmkit"), Forecaster)


def test_sequence_classifier_and_the_old_kind_spelling(tmp_path):
    from lstmkit.tasks.sequences.classifier import SequenceClassifier

    rng = np.random.default_rng(0)
    x = [rng.normal(size=(int(rng.integers(3, 6)), 2)).astype(np.float32) for _ in range(12)]
    y = ["a", "b"] * 6
    clf = SequenceClassifier(units=4, epochs=1, batch_size=4, validation_split=0.0).fit(x, y)
    clf.save(tmp_path / "s.lstmkit")
    assert isinstance(lstmkit.load(tmp_path / "s.lstmkit"), SequenceClassifier)
    assert canonical_kind("sequence-classifier") == "sequence_classifier"


def test_language_model(tmp_path):
    from lstmkit.tasks.text.language_model import LanguageModelGenerator, LMConfig, train_language_model

    text = tmp_path / "t.txt"
    text.write_text("to be or not to be, that is the question.\n" * 20)
    cfg = LMConfig(level="char", layers=1, units=8, bptt=8, batch_size=4, epochs=1)
    train_language_model(text, tmp_path / "lm.lstmkit", cfg)
    gen = lstmkit.load(tmp_path / "lm.lstmkit")
    assert isinstance(gen, LanguageModelGenerator)
    assert len("".join(gen.generate("to", length=5, seed=0))) >= 5
    # its training checkpoint (the engine's kind) holds the language model too: it loads for generation
    ckpt = tmp_path / "lm.lstmkit.ckpt"
    assert kind_of(ckpt) == "language_model_checkpoint"
    assert isinstance(lstmkit.load(ckpt), LanguageModelGenerator)


def test_engine_checkpoint(tmp_path):
    from lstmkit.train import Checkpoint, TensorBatches, Trainer

    model = torch.nn.Linear(2, 1)
    x, y = torch.randn(8, 2), torch.randn(8, 1)
    Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1),
            lambda m, b, c: torch.nn.functional.mse_loss(m(b[0]), b[1]),
            TensorBatches(x, y, batch_size=4), epochs=1, checkpoint=tmp_path / "run.ckpt").fit()
    loaded = lstmkit.load(tmp_path / "run.ckpt")
    assert isinstance(loaded, Checkpoint) and kind_of(tmp_path / "run.ckpt") == "train_checkpoint"
    assert torch.equal(loaded.group("model")["weight"], model.weight.detach())


def test_unknown_kind_and_bad_paths(tmp_path):
    path = tmp_path / "x.lstmkit"
    save_tensors(path, {"w": torch.zeros(1)}, {}, kind="hologram")
    with pytest.raises(ModelFileError, match="unknown kind 'hologram'"):
        lstmkit.load(path)
    for bad in (None, 123, ["a"]):
        with pytest.raises(LstmkitError, match="expected the path"):
            lstmkit.load(bad)
    with pytest.raises(ModelFileError, match="not found"):
        lstmkit.load(tmp_path / "missing.lstmkit")


def test_every_kind_describes_itself_and_names_a_command():
    for name, kind in KINDS.items():
        assert kind.command and kind.holds and name in KINDS
        assert kind.command in describe(name)
