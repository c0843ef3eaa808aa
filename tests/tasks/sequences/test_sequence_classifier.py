"""SequenceClassifier: learns toy sequences, padding does not leak, save/load is exact, bad inputs are one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmkit.errors import ConfigError, DataError, InputValueError, ModelFileError, ShapeError
from lstmkit.tasks.sequences.classifier import SequenceClassifier, bucketed_batches, stratified_holdout

FAST = dict(model="lstm", units=12, epochs=20, batch_size=8, learning_rate=0.01, patience=20, verbose=False)


def waves(n, seed, features=2):
    """Class 'slow' / 'fast': a sine of low / high frequency with a random phase, 5-14 steps, plus a noise feature."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i in range(n):
        fast = i % 2
        t = np.arange(rng.integers(5, 15))
        s = np.sin((2.2 if fast else 0.5) * t + rng.uniform(0, 2 * np.pi))
        cols = [s] + [rng.normal(0, 0.1, len(t)) for _ in range(features - 1)]
        xs.append(np.stack(cols, 1).astype(np.float32))
        ys.append("fast" if fast else "slow")
    return xs, ys


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    x, y = waves(80, 0)
    clf = SequenceClassifier(**FAST, validation_split=0.0).fit(x, y)
    return clf


def test_lstm_learns_the_toy_task(trained):
    xt, yt = waves(60, 1)
    assert trained.classes_ == ["fast", "slow"] and trained.n_features_ == 2
    assert trained.score(xt, yt) >= 0.9
    assert trained.history_["loss"][-1] < trained.history_["loss"][0] / 3


@pytest.mark.parametrize("cell, pooling, bidirectional, layers", [
    ("gru", "mean", False, 1), ("rnn", "last", True, 1), ("lstm", "attention", True, 2),
])
def test_cells_and_poolings_learn(cell, pooling, bidirectional, layers):
    x, y = waves(60, 2)
    clf = SequenceClassifier(cell=cell, pooling=pooling, bidirectional=bidirectional, layers=layers, dropout=0.1,
                             **{**FAST, "epochs": 15}, validation_split=0.0).fit(x, y)
    xt, yt = waves(40, 3)
    assert clf.score(xt, yt) >= 0.8, (cell, pooling)


@pytest.mark.parametrize("pooling", ["last", "mean", "attention"])
def test_padding_does_not_leak_into_predictions(pooling):
    x, y = waves(12, 4)
    clf = SequenceClassifier(model="lstm", pooling=pooling, bidirectional=True, units=6, epochs=1, validation_split=0.0,
                             verbose=False).fit(x, y)
    short = x[0][:5]
    longer = [np.random.default_rng(5).normal(size=(30, 2)).astype(np.float32) for _ in range(3)]
    alone = clf.predict_proba([short])
    batched = clf.predict_proba([*longer, short])
    assert np.allclose(alone[0], batched[-1], atol=1e-6)
    assert np.allclose(alone.sum(1), 1)


def test_early_stopping_restores_the_best_epoch():
    x, y = waves(60, 6)
    clf = SequenceClassifier(model="lstm", units=8, epochs=25, batch_size=8, learning_rate=0.01, patience=3,
                             validation_split=0.25, verbose=False).fit(x, y)
    h = clf.history_
    assert len(h["val_accuracy"]) == len(h["loss"]) <= 25
    assert h["val_accuracy"][clf.best_epoch_ - 1] == max(h["val_accuracy"])
    assert len(h["loss"]) == 25 or len(h["loss"]) - clf.best_epoch_ == 3   # stopped after `patience` epochs
    # explicit validation data is used instead of a split
    xv, yv = waves(10, 7)
    clf2 = SequenceClassifier(model="lstm", units=4, epochs=2, validation_split=0.5, verbose=False).fit(x, y, valid=(xv, yv))
    assert len(clf2.history_["val_loss"]) == 2


def test_fit_trains_through_the_engine_and_keeps_the_best_weights():
    from lstmkit.train import TrainResult

    x, y = waves(60, 6)
    clf = SequenceClassifier(model="lstm", units=8, epochs=25, batch_size=8, learning_rate=0.01, patience=3,
                             validation_split=0.25, clip_norm=0.5, verbose=False).fit(x, y)
    r, h = clf.train_result_, clf.history_
    assert isinstance(r, TrainResult) and r.precision == "fp32" and r.best_epoch == clf.best_epoch_
    assert [e["loss"] for e in r.history] == h["loss"] and [e["val_accuracy"] for e in r.history] == h["val_accuracy"]
    assert [e["lr"] for e in r.history] == [0.01] * len(h["loss"])  # Adam at a constant rate
    # the restored weights are the best epoch's: its validation accuracy and loss, recomputed
    _, va = stratified_holdout(y, 0.25, 0)
    xv, yv = [x[i] for i in va], [y[i] for i in va]
    assert clf.score(xv, yv) == h["val_accuracy"][clf.best_epoch_ - 1]
    probs = clf.predict_proba(xv)
    loss = -np.mean(np.log([p[clf.classes_.index(t)] for p, t in zip(probs, yv)]))
    assert loss == pytest.approx(h["val_loss"][clf.best_epoch_ - 1], rel=1e-6)


def test_precision_parameter_and_files_without_it(trained, tmp_path):
    from lstmkit.errors import LstmkitError
    from lstmkit.train.precision import bf16_available
    from old_format import old_format

    x, y = waves(12, 4)
    assert trained.get_params()["precision"] == "fp32"
    with pytest.raises(ConfigError, match="precision: expected 'fp32', 'bf16' or 'auto', found 'half'"):
        SequenceClassifier(precision="half").fit(x, y)
    if bf16_available("cpu"):
        clf = SequenceClassifier(model="lstm", units=4, epochs=1, validation_split=0.0, precision="bf16").fit(x, y)
        assert clf.train_result_.precision == "bf16" and np.isfinite(clf.predict_proba(x)).all()
    else:
        with pytest.raises(LstmkitError) as info:  # this CPU has no bfloat16 matrix units: one line
            SequenceClassifier(units=4, epochs=1, precision="bf16").fit(x, y)
        assert str(info.value).startswith("precision 'bf16': this CPU has no bfloat16") and "\n" not in str(info.value)
    old = old_format(trained.save(tmp_path / "new.lstmkit"), lambda f: f["params"].pop("precision"), tmp_path / "old.lstmkit")
    loaded = SequenceClassifier.load(old)
    assert loaded.precision == "fp32" and np.array_equal(loaded.predict_proba(x), trained.predict_proba(x))


def test_bucketed_batches_replay_the_seeded_stream_and_shard():
    from lstmkit.tasks.sequences.classifier import BucketedBatches

    x, y = waves(40, 3)
    src = BucketedBatches(x, np.arange(40) % 2, batch_size=8, seed=5)
    rng = np.random.default_rng(5)
    lengths = np.array([len(s) for s in x])
    stream = [bucketed_batches(lengths, 8, rng) for _ in range(3)]
    assert src.num_batches(0) == len(stream[0]) == 5
    for epoch in (0, 1, 2, 0, 2):  # any epoch, in any order, is the generator's epoch-th draw
        assert all(np.array_equal(a, b) for a, b in zip(src.epoch(epoch), stream[epoch]))
    xb, lens, t = src.batch(1, 2)
    assert xb.shape[0] == len(stream[1][2]) and lens.tolist() == lengths[stream[1][2]].tolist()
    parts = [src.batch(1, 2, rank, 2) for rank in (0, 1)]
    assert torch.equal(torch.cat([p[2] for p in parts]), t) and torch.equal(torch.cat([p[1] for p in parts]), lens)


def test_save_load_gives_identical_predictions(trained, tmp_path):
    path = trained.save(tmp_path / "m.lstmkit")
    loaded = SequenceClassifier.load(path)
    xt, _ = waves(20, 8)
    assert np.array_equal(trained.predict_proba(xt), loaded.predict_proba(xt))
    assert loaded.classes_ == trained.classes_ and loaded.get_params() == trained.get_params()
    assert np.array_equal(loaded.scaler_.mean, trained.scaler_.mean)


def test_integer_labels_and_3d_arrays():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6, 1)).astype(np.float32)
    y = np.arange(40) % 2
    x[y == 1] += 2.0
    clf = SequenceClassifier(model="lstm", units=4, epochs=10, learning_rate=0.02, validation_split=0.0,
                             verbose=False).fit(x, y)
    assert clf.classes_ == [0, 1] and clf.score(x, y) >= 0.9 and clf.predict(x[:2]) == [0, 1]
    assert clf.score(x, [str(v) for v in y]) >= 0.9   # "1" spells the class 1


def test_bad_inputs_are_one_line_errors(trained, tmp_path):
    x, y = waves(10, 9)
    with pytest.raises(DataError) as e:
        SequenceClassifier().fit(x, ["walk"] * 10)
    assert "single class ('walk', 10 sequences)" in str(e.value)
    bad = list(x)
    bad[3] = np.zeros((4, 3), dtype=np.float32)
    with pytest.raises(ShapeError) as e:
        SequenceClassifier().fit(bad, y)
    assert "sequence 3 has 3 features, the first sequence (0) has 2" in str(e.value)
    with pytest.raises(ShapeError, match="have 3 features, the model expects 2"):
        trained.predict([np.zeros((4, 3))])
    with pytest.raises(DataError, match="10 sequences but 9 labels"):
        SequenceClassifier().fit(x, y[:9])
    with pytest.raises(InputValueError, match="NaN"):
        trained.predict([np.full((3, 2), np.nan)])
    with pytest.raises(InputValueError, match="no audio config"):
        trained.predict(["a.wav"])
    for bad_param in (dict(cell="lstm2"), dict(pooling="max"), dict(units=0), dict(dropout=1.0), dict(learning_rate=0)):
        with pytest.raises(ConfigError):
            SequenceClassifier(**bad_param).fit(x, y)
    with pytest.raises(ConfigError, match="not fitted"):
        SequenceClassifier().predict(x)


def test_loading_a_wrong_kind_of_file_says_what_it_holds(tmp_path):
    from lstmkit.layers import Dense
    from lstmkit.models import Sequential
    from lstmkit.models.serialization import save_tensors

    seq_path = tmp_path / "dense.lstmkit"
    Sequential([Dense(2, input_shape=(3,))]).save(seq_path)
    with pytest.raises(ModelFileError) as e:
        SequenceClassifier.load(seq_path)
    msg = str(e.value)
    assert "holds a Keras-style model" in msg and "not a sequence classifier" in msg and "\n" not in msg
    other = tmp_path / "f.lstmkit"
    save_tensors(other, {"w": torch.zeros(2)}, {}, kind="forecaster")
    with pytest.raises(ModelFileError, match="holds a forecaster .use lstmkit forecast predict."):
        SequenceClassifier.load(other)
    junk = tmp_path / "junk.lstmkit"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="junk.lstmkit"):
        SequenceClassifier.load(junk)


def test_batching_helpers():
    lengths = np.array([5, 1, 9, 3, 7, 2, 8])
    batches = bucketed_batches(lengths, 3, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(7))
    sorted_batches = bucketed_batches(lengths, 3, None)
    assert [lengths[b].tolist() for b in sorted_batches] == [[1, 2, 3], [5, 7, 8], [9]]
    tr, va = stratified_holdout(["a"] * 10 + ["b"] * 10 + ["c"], 0.2, seed=0)
    assert len(va) == 4 and len(tr) == 17 and 20 in tr and not set(tr) & set(va)


def test_wav_paths_are_featurised_with_the_audio_config(tmp_path):
    sf = pytest.importorskip("soundfile")
    pytest.importorskip("librosa")
    from lstmkit.data.audio import AudioFeatures

    paths, labels = [], []
    for i in range(12):
        freq = 300 if i % 2 else 1400
        t = np.arange(int(8000 * (0.1 + 0.01 * i))) / 8000
        p = tmp_path / f"{i}.wav"
        sf.write(str(p), (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 8000)
        paths.append(p)
        labels.append("low" if i % 2 else "high")
    clf = SequenceClassifier(model="lstm", units=8, epochs=15, learning_rate=0.02, validation_split=0.0,
                             audio=AudioFeatures(n_mfcc=8, deltas=1), verbose=False).fit(paths, labels)
    assert clf.audio.sample_rate == 8000 and clf.n_features_ == 16
    assert clf.score(paths, labels) == 1.0
    loaded = SequenceClassifier.load(clf.save(tmp_path / "a.lstmkit"))
    assert loaded.audio == clf.audio and np.array_equal(loaded.predict_proba(paths), clf.predict_proba(paths))
