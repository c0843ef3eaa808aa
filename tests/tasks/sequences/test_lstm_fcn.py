"""LSTM-FCN / ALSTM-FCN, per-series normalisation, PAA, seed ensembles, the data-aware defaults and their
warnings, the 1-NN Euclidean baseline, model files (new and old) and one-line errors for sets too small."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lstmkit.errors import ConfigError, DataError, LstmkitWarning, ModelFileError
from lstmkit.tasks.sequences import recipe
from lstmkit.tasks.sequences.baselines import one_nn_euclidean
from lstmkit.tasks.sequences.classifier import SequenceClassifier
from lstmkit.tasks.sequences.networks import LSTMFCNNet, MaskedBatchNorm1d
from lstmkit.util.advice import Advice

SMALL = dict(filters=(8, 8, 8), units=4, epochs=15, batch_size=8, learning_rate=0.01, verbose=False)


def shapes(n, seed, channels=2, scale=None):
    """Class 'bump' / 'dip': a Gaussian bump up or down at a random place, 12-30 steps, noise on every channel;
    ``scale`` multiplies each series by a random factor (so series differ a lot in scale)."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i in range(n):
        t = int(rng.integers(12, 31))
        c = rng.uniform(3, t - 3)
        sign = 1.0 if i % 2 else -1.0
        s = rng.normal(0, 0.2, (t, channels))
        s[:, 0] += sign * 2.0 * np.exp(-0.5 * ((np.arange(t) - c) / 1.5) ** 2)
        if scale is not None:
            s = s * 10.0 ** rng.uniform(-scale, scale)
        xs.append(s.astype(np.float32))
        ys.append("bump" if i % 2 else "dip")
    return xs, ys


@pytest.fixture(scope="module")
def fcn():
    torch.manual_seed(0)
    x, y = shapes(48, 0)
    return SequenceClassifier(**SMALL, ensemble=2).fit(x, y)


# ----------------------------------------------------------------------------------------- networks
def test_lstm_fcn_learns_variable_length_series(fcn):
    xt, yt = shapes(40, 1)
    assert fcn.settings_["model"] == "lstm_fcn" and len(fcn.nets_) == 2
    assert fcn.score(xt, yt) >= 0.9
    net = fcn.net_
    assert isinstance(net, LSTMFCNNet)
    # the dimension shuffle: the LSTM reads the F channels as steps, each step the whole (padded) time axis
    assert net.rnn.input_size == fcn.settings_["shuffle_length"] == 30
    assert [c.out_channels for c in net.convs] == [8, 8, 8] and [c.kernel_size[0] for c in net.convs] == [8, 5, 3]
    assert net.head.in_features == 4 + 8


@pytest.mark.parametrize("model", ["lstm_fcn", "alstm_fcn"])
def test_padding_never_reaches_a_prediction(model):
    x, y = shapes(16, 2)
    clf = SequenceClassifier(**{**SMALL, "epochs": 2}, model=model).fit(x, y)
    short = x[0][:13]
    longer = [np.random.default_rng(3).normal(size=(29, 2)).astype(np.float32) for _ in range(3)]
    alone = clf.predict_proba([short])
    batched = clf.predict_proba([*longer, short])
    assert np.allclose(alone[0], batched[-1], atol=1e-6) and np.allclose(alone.sum(1), 1)
    if model == "alstm_fcn":
        assert clf.net_.attention is not None and clf.settings_["pooling"] == "attention"


def test_masked_batch_norm_takes_statistics_over_real_steps_only():
    torch.manual_seed(0)
    bn = MaskedBatchNorm1d(3, momentum=1.0)
    x = torch.randn(2, 3, 6)
    lengths = torch.tensor([6, 3])
    mask = (torch.arange(6)[None] < lengths[:, None]).float().unsqueeze(1)
    padded = x * mask + (1 - mask) * 1000.0  # garbage on the padding must not move anything
    out = bn(padded, mask)
    real = torch.cat([x[0], x[1, :, :3]], dim=1)  # (3, 9): every real step
    mean, var = real.mean(1), real.var(1, unbiased=False)
    expected0 = (x[0] - mean[:, None]) / torch.sqrt(var[:, None] + bn.eps)
    assert torch.allclose(out[0], expected0, atol=1e-5)
    assert torch.equal(out[1, :, 3:], torch.zeros(3, 3))
    assert torch.allclose(bn.running_mean, mean, atol=1e-5)
    assert torch.allclose(bn.running_var, real.var(1, unbiased=True), atol=1e-4)


def test_alstm_fcn_is_the_attention_model():
    x, y = shapes(12, 4)
    with pytest.raises(ConfigError, match="pooling: model 'alstm_fcn' is the attention model"):
        SequenceClassifier(model="alstm_fcn", pooling="last", verbose=False).fit(x, y)
    with pytest.raises(ConfigError, match="filters and kernel_sizes must have one value per block"):
        SequenceClassifier(filters=(8, 8), verbose=False).fit(x, y)
    with pytest.raises(ConfigError, match="model must be one of"):
        SequenceClassifier(model="fcn", verbose=False).fit(x, y)


# ------------------------------------------------------------------------------------ preprocessing
def test_series_normalisation_and_paa():
    s = np.stack([np.arange(6.0), np.full(6, 5.0)], axis=1)
    z = recipe.series_normalize(s)
    assert np.allclose(z[:, 0].mean(), 0) and np.allclose(z[:, 0].std(), 1) and np.array_equal(z[:, 1], np.zeros(6))
    p = recipe.paa(np.arange(7.0)[:, None], 3)
    assert p[:, 0].tolist() == [1.0, 4.0, 6.0]  # the last run is shorter
    assert recipe.paa(s, 1) is s


def test_series_normalisation_makes_predictions_scale_free():
    x, y = shapes(24, 5)
    clf = SequenceClassifier(**{**SMALL, "epochs": 3}, normalize="series").fit(x, y)
    rescaled = [s * 7.5 - 3.0 for s in x]
    assert np.allclose(clf.predict_proba(x), clf.predict_proba(rescaled), atol=1e-5)


def test_downsampling_is_applied_in_training_and_prediction():
    x, y = shapes(16, 6)
    long = [np.repeat(s, 4, axis=0) for s in x]
    clf = SequenceClassifier(**{**SMALL, "epochs": 2}, downsample=4).fit(long, y)
    assert clf.settings_["downsample"] == 4 and clf.settings_["shuffle_length"] == 30
    seen = clf._transform(long[:1])[0]  # the network reads the PAA of each series, in prediction as in training
    assert seen.shape[0] == len(x[0])
    assert np.allclose(recipe.paa(long[0], 4), x[0], atol=1e-6)  # a series repeated 4 times averages back to itself


# -------------------------------------------------------------------------------------- ensembles
def test_an_ensemble_averages_its_members_and_saves_them_all(fcn, tmp_path):
    from lstmkit.tasks.sequences.classifier import _predict_with

    xt, _ = shapes(10, 7)
    seen = fcn._transform(fcn._as_sequences(xt, "t"))
    each = [_predict_with([net], seen, 2) for net in fcn.nets_]
    assert np.allclose(fcn.predict_proba(xt), (each[0] + each[1]) / 2)
    assert not np.allclose(each[0], each[1])  # two seeds, two networks
    assert [m["seed"] for m in fcn.members_] == [0, 1]
    path = fcn.save(tmp_path / "ens.lstmkit")
    loaded = SequenceClassifier.load(path)
    assert len(loaded.nets_) == 2 and loaded.settings_ == fcn.settings_
    assert np.array_equal(loaded.predict_proba(xt), fcn.predict_proba(xt))
    assert loaded.get_params() == fcn.get_params()
    assert any(c.name == "batch_size" for c in loaded.advice_.choices)
    from old_format import read_meta

    meta = read_meta(path)
    assert json.loads(meta["settings"])["ensemble"] == 2 and "choices" in json.loads(meta["advice"])


def test_edited_settings_are_one_line_model_file_errors(fcn, tmp_path):
    from old_format import old_format

    src = fcn.save(tmp_path / "m.lstmkit")
    for edit, words in ((lambda f: f["settings"].update(ensemble=3), "settings.ensemble"),
                        (lambda f: f["settings"].update(units=10 ** 9), "settings.units"),
                        (lambda f: f["settings"].update(filters=[8, 9, 8]), "net.convs.1.weight"),
                        (lambda f: f["settings"].update(normalize="zscore"), "settings.normalize")):
        bad = old_format(src, edit, tmp_path / "bad.lstmkit")
        with pytest.raises(ModelFileError) as e:
            SequenceClassifier.load(bad)
        assert words in str(e.value) and "\n" not in str(e.value)


def test_files_without_settings_are_the_plain_lstm(tmp_path):
    """A file written before LSTM-FCN (no 'model', 'settings' or 'advice') loads as the plain LSTM, unchanged."""
    from old_format import old_format

    x, y = shapes(20, 8)
    clf = SequenceClassifier(model="lstm", units=6, epochs=3, batch_size=8, validation_split=0.0, patience=3,
                             learning_rate=0.01, verbose=False).fit(x, y)

    def to_old(fields):
        for key in ("settings", "advice"):
            fields.pop(key)
        for key in ("model", "filters", "kernel_sizes", "normalize", "downsample", "ensemble", "selection"):
            fields["params"].pop(key)
        fields["params"].update(dropout=0.1, pooling="mean", verbose=0)

    old = old_format(clf.save(tmp_path / "new.lstmkit"), to_old, tmp_path / "old.lstmkit")
    loaded = SequenceClassifier.load(old)
    assert loaded.model == "lstm" and loaded.settings_["model"] == "lstm" and loaded.settings_["normalize"] == "feature"
    assert np.array_equal(loaded.predict_proba(x), clf.predict_proba(x))


# ------------------------------------------------------------------------------- data-aware defaults
def test_defaults_are_sized_from_the_data_and_printed_once_each(capsys):
    x, y = shapes(40, 9, scale=2.0)
    clf = SequenceClassifier(filters=(8, 8, 8), epochs=3, verbose=True).fit(x, y)
    err = capsys.readouterr().err.splitlines()
    names = [line.split("=")[0] for line in err if "=" in line.split(":")[0]]
    assert names == ["selection", "downsample", "normalize", "batch_size", "ensemble"]  # epochs was given
    assert any(line.startswith("normalize=series: the series' standard deviations span") for line in err)
    assert any(line.startswith("batch_size=8: 40 training samples") for line in err)
    assert any(line.startswith("selection=train_loss: the smallest class has 20 series") for line in err)
    assert clf.settings_["epochs"] == 3 and clf.advice_.get("epochs") == 3
    assert next(c for c in clf.advice_.choices if c.name == "epochs").given
    quiet = SequenceClassifier(filters=(8, 8, 8), epochs=1, verbose=False).fit(x, y)
    assert capsys.readouterr().err == "" and quiet.advice_.get("batch_size") == 8


def test_recipe_rules():
    a = Advice(echo=None)
    small = ["a"] * 10 + ["b"] * 10
    assert recipe.choose_selection(a, "auto", None, False, small) == ("train_loss", 0.0)
    assert recipe.choose_selection(a, "auto", None, False, ["a"] * 60 + ["b"] * 50) == ("holdout", 0.1)
    assert recipe.choose_selection(a, "auto", 0.0, False, small) == ("none", 0.0)
    assert recipe.choose_selection(a, "auto", None, True, small)[0] == "holdout"
    # alike scales: one per-feature scaling; scales spanning orders of magnitude: each series on its own
    alike = [np.random.default_rng(i).normal(size=(20, 2)) for i in range(20)]
    spread = [s * 10.0 ** (i % 4) for i, s in enumerate(alike)]
    assert recipe.choose_normalize(a, None, "lstm_fcn", True, alike) == "feature"
    assert recipe.choose_normalize(a, None, "lstm_fcn", True, spread) == "series"
    assert recipe.choose_normalize(a, None, "lstm", True, spread) == "feature"
    assert recipe.choose_normalize(a, None, "lstm_fcn", False, spread) == "none"
    assert recipe.choose_downsample(a, None, "lstm_fcn", [1460] * 3) == 6
    assert recipe.choose_downsample(a, None, "lstm_fcn", [100] * 3) == 1
    assert recipe.choose_downsample(a, 2, "lstm_fcn", [100] * 3) == 2  # explicit wins
    # small sets get enough steps; large ones are held to the budget (never fewer than 300 steps)
    assert recipe.choose_epochs(a, None, "lstm_fcn", 40, 8, 100) == 400
    capped = recipe.choose_epochs(a, None, "lstm_fcn", 537, 32, 162)
    assert capped * recipe.epoch_cost(537, 162, 32) <= recipe.BUDGET and capped * 17 >= recipe.MIN_STEPS
    assert recipe.choose_ensemble(a, None, "lstm_fcn", recipe.BUDGET / 3) == 3
    assert recipe.choose_ensemble(a, None, "lstm_fcn", 10.0) == recipe.MAX_ENSEMBLE
    assert recipe.choose_ensemble(a, None, "lstm", 10.0) == 1
    assert recipe.choose_batch_size(a, None, "lstm_fcn", 40) == 8 and recipe.choose_batch_size(a, None, "lstm_fcn", 5000) == 32


def test_holdout_with_enough_per_class_and_patience_that_cannot_stop_a_small_set_early():
    x, y = shapes(120, 10)
    clf = SequenceClassifier(**{**SMALL, "epochs": 12}).fit(x, y)
    assert clf.settings_["selection"] == "holdout" and clf.settings_["validation_split"] == 0.1
    assert "val_accuracy" in clf.history_ and clf.settings_["patience"] == 3
    small = SequenceClassifier(**{**SMALL, "epochs": 12}).fit(*shapes(40, 11))
    assert small.settings_["selection"] == "train_loss" and small.settings_["patience"] is None
    assert len(small.history_["loss"]) == 12  # no early stop: all the epochs run, the lowest training loss is kept
    assert small.best_epoch_ == int(np.argmin(small.history_["loss"])) + 1


# -------------------------------------------------------------------------------------- warnings
def test_too_few_gradient_steps_and_a_chance_model_warn():
    x = [np.zeros((10, 1), dtype=np.float32) for _ in range(20)]  # nothing tells the classes apart
    y = ["a", "b"] * 10
    with pytest.warns(LstmkitWarning) as caught:
        clf = SequenceClassifier(**{**SMALL, "epochs": 2}).fit(x, y)
    messages = [str(w.message) for w in caught]
    assert any("gradient steps, fewer than 300" in m for m in messages)
    assert any("training accuracy 0.500 is at or near chance" in m for m in messages)
    assert len(clf.advice_.warnings) == 2 and all("\n" not in m for m in messages)


def test_a_validation_set_too_small_warns():
    x, y = shapes(30, 12)
    with pytest.warns(LstmkitWarning, match="the validation set has 6 samples, too few to choose the epoch"):
        SequenceClassifier(**{**SMALL, "epochs": 2}, validation_split=0.2).fit(x, y)


# ------------------------------------------------------------------------------------ bad input
def test_sets_too_small_to_train_are_one_line():
    x, y = shapes(4, 13)
    with pytest.raises(DataError) as e:
        SequenceClassifier(verbose=False).fit(x[:3], ["a", "b", "b"])
    msg = str(e.value)
    assert "class 'a' has 1 sample(s); need at least 2 per class" in msg and "\n" not in msg
    with pytest.raises(DataError, match="single class"):
        SequenceClassifier(verbose=False).fit(x, ["a"] * 4)
    with pytest.raises(ConfigError, match="ensemble must be an integer"):
        SequenceClassifier(ensemble=0, verbose=False).fit(x, y)


# ------------------------------------------------------------------------------------ the baseline
def test_one_nn_euclidean():
    train = [np.array([0.0, 0, 0]), np.array([5.0, 5, 5]), np.array([0.0, 0, 1])]
    assert one_nn_euclidean(train, ["lo", "hi", "lo2"], [np.array([4.0, 6, 5]), np.array([0.0, 0, 0.9])]) == ["hi", "lo2"]
    # variable lengths: padded with each series' last value, so [1, 1] is compared as [1, 1, 1]
    assert one_nn_euclidean([np.ones(3), np.zeros(3)], ["one", "zero"], [np.ones(2)]) == ["one"]
    multi = np.zeros((4, 5, 2))
    multi[2:, :, 1] = 3.0
    assert one_nn_euclidean(multi, [0, 0, 1, 1], multi[::-1]) == [1, 1, 0, 0]
    with pytest.raises(Exception, match="different feature counts"):
        one_nn_euclidean([np.zeros((3, 2))], ["a"], [np.zeros((3, 1))])
