"""TextClassifier's data-aware defaults, length-bucketed batches, the held-out validation split, the
architecture chosen on validation, the warnings, and model files with and without the new fields."""

from __future__ import annotations

import json
import random
import warnings

import numpy as np
import pytest
import torch

from lstmkit.errors import DataError, LstmkitWarning
from lstmkit.tasks.text.batching import BucketedTextBatches, cut, pad_rows, sorted_batches
from lstmkit.tasks.text.classifier import TextClassifier
from lstmkit.tasks.text.defaults import architecture_candidates, max_length_for, selection_epochs, valid_fraction_for

FILLER = ["the", "a", "film", "is", "was", "story", "and", "of", "it", "plot"]
CUES = {"pos": ["good", "great", "superb"], "neg": ["bad", "awful", "dull"], "mid": ["okay", "average", "fine"]}


def make_texts(n=80, seed=0, labels=("pos", "neg"), short=(2, 8), long_every=0):
    rng = random.Random(seed)
    texts, ys = [], []
    for i in range(n):
        y = labels[i % len(labels)]
        k = rng.randint(*short) if not (long_every and i % long_every == 0) else rng.randint(30, 60)
        words = [rng.choice(FILLER) for _ in range(k)]
        words.insert(rng.randint(0, len(words)), rng.choice(CUES[y]))
        texts.append(" ".join(words))
        ys.append(y)
    return texts, ys


TINY = dict(units=8, embedding_dim=8, verbose=False)


def quiet_fit(clf, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LstmkitWarning)
        return clf.fit(*args, **kw)


# ------------------------------------------------------------------------------------ the rules
def test_rules():
    assert max_length_for([10] * 96 + [300] * 4)[0] == 16  # the 95th percentile is 10, up to a multiple of 8
    value, reason = max_length_for([5000] * 10)
    assert value == 1024 and "capped at 1024" in reason
    assert valid_fraction_for(300)[0] == 0.2 and valid_fraction_for(2500)[0] == 0.2 and valid_fraction_for(50_000)[0] == 0.1
    assert valid_fraction_for(4000)[0] == 0.12
    assert architecture_candidates(None, None) == [("last", False), ("mean", True)]
    assert architecture_candidates("max", None) == [("max", False), ("max", True)]
    assert architecture_candidates(None, True) == [("last", True), ("mean", True)]
    assert architecture_candidates("mean", False) == [("mean", False)]
    assert selection_epochs(10, 300) == 3 and selection_epochs(15, 20) == 8 and selection_epochs(2, 5) == 2


# ----------------------------------------------------------------------------------- bucketing
def test_buckets_group_similar_lengths_and_cover_every_row_once():
    rng = np.random.default_rng(0)
    rows = [[2] * int(k) for k in rng.integers(1, 200, size=500)]
    src = BucketedTextBatches(rows, np.zeros(500, dtype=np.int64), batch_size=16, seed=3)
    seen = np.concatenate(src.plan(0))
    assert sorted(seen.tolist()) == list(range(500)) and src.num_batches() == 32
    fixed = 1 - np.mean([len(r) for r in rows]) / 200  # padding everything to the longest
    assert src.padding_fraction(0) < 0.2 < fixed
    k = next(i for i, b in enumerate(src.plan(0)) if len(b) == 16)
    x, y = src.batch(0, k)
    assert x.dtype == torch.int64 and x.shape[0] == y.shape[0] == 16
    assert x.shape[1] == max(len(rows[i]) for i in src.plan(0)[k])  # padded only to its own longest row
    # the same batch every time it is asked for; another epoch mixes differently
    np.testing.assert_array_equal(src.batch(0, k)[0].numpy(), x.numpy())
    again = BucketedTextBatches(rows, np.zeros(500, dtype=np.int64), batch_size=16, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(again.plan(0), src.plan(0)))
    assert not all(np.array_equal(a, b) for a, b in zip(src.plan(1), src.plan(0)))


def test_shards_of_a_batch_make_the_batch():
    rows = [[2] * k for k in range(1, 41)]
    src = BucketedTextBatches(rows, np.arange(40), batch_size=8, seed=0)
    whole = src.batch(2, 1)[1].tolist()
    parts = [src.batch(2, 1, rank, 3)[1].tolist() for rank in range(3)]
    assert sum(parts, []) == whole


def test_cut_pad_and_sorted_batches():
    assert cut([1, 2, 3, 4], 2, "pre") == [3, 4] and cut([1, 2, 3, 4], 2, "post") == [1, 2] and cut([], 5) == [0]
    assert pad_rows([[5], [6, 7, 8]], [1, 0]).tolist() == [[6, 7, 8], [5, 0, 0]]
    batches = sorted_batches([5, 1, 3, 2], 2)
    assert [b.tolist() for b in batches] == [[1, 3], [2, 0]]


# ------------------------------------------------------------------------------- chosen defaults
def test_unset_settings_are_chosen_from_the_data_and_echoed(capsys):
    texts, ys = make_texts(120, long_every=20)
    clf = quiet_fit(TextClassifier(units=8, embedding_dim=8, epochs=4, pooling="last", bidirectional=False), texts, ys)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert any(line.startswith("max_length=16: 95th percentile of 96 training texts' token counts") for line in lines), err
    assert any(line.startswith("valid_fraction=0.2: 24 of 120 training texts held out") for line in lines)
    assert any(line.startswith("batch_size=4: 96 training samples") for line in lines)
    assert any(line.startswith("patience=3:") for line in lines)
    assert not any(line.startswith("epochs=") for line in lines)  # given: recorded, not echoed
    assert any(line.startswith("epoch 1/4: loss ") and "val_accuracy" in line and line.endswith(" s") for line in lines)
    assert lines[-1].startswith("ran 4 epoch(s) (96 steps")
    assert clf.max_length_ == 16 and clf.batch_size_ == 4 and clf.epochs_ == 4 and clf.patience_ == 3
    assert clf.vectorizer_.output_sequence_length == 16
    given = {c.name: c for c in clf.advice_.choices}
    assert given["epochs"].given and not given["max_length"].given
    assert clf.get_params()["max_length"] is None  # parameters stay as given (scikit-learn's rule)


def test_an_explicit_setting_always_wins(capsys):
    texts, ys = make_texts(60)
    clf = quiet_fit(TextClassifier(units=8, embedding_dim=8, max_length=7, batch_size=5, epochs=2, patience=4,
                                   valid_fraction=0.25, pooling="max", bidirectional=True), texts, ys)
    assert capsys.readouterr().err.count("=") == 0 or "max_length=" not in capsys.readouterr().err
    assert (clf.max_length_, clf.batch_size_, clf.epochs_, clf.patience_, clf.valid_fraction_) == (7, 5, 2, 4, 0.25)
    assert clf.pooling_ == "max" and clf.bidirectional_ is True and clf.selection_ == []
    assert all(c.given for c in clf.advice_.choices)


def test_verbose_false_prints_nothing_but_still_warns(capsys):
    texts, ys = make_texts(30)
    with pytest.warns(LstmkitWarning, match="gradient steps"):
        TextClassifier(epochs=1, **TINY).fit(texts, ys)
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------------------ validation split
def test_held_out_split_is_stratified_and_used_for_early_stopping():
    texts, ys = make_texts(150, labels=("pos", "neg", "mid"))
    clf = quiet_fit(TextClassifier(epochs=3, pooling="last", bidirectional=False, **TINY), texts, ys)
    assert clf.valid_fraction_ == 0.2
    assert len(clf.history_["val_accuracy"]) == clf.epochs_run_ == 3
    assert clf.train_result_.steps == 3 * int(np.ceil(120 / clf.batch_size_))  # 150 - 30 held out


def test_valid_fraction_zero_trains_on_everything_without_choosing():
    texts, ys = make_texts(40)
    clf = quiet_fit(TextClassifier(epochs=3, valid_fraction=0, **TINY), texts, ys)
    assert clf.history_.keys() == {"loss", "accuracy"} and clf.best_epoch_ == 3
    assert (clf.pooling_, clf.bidirectional_) == ("last", False) and clf.selection_ == []
    reason = next(c.reason for c in clf.advice_.choices if c.name == "pooling")
    assert "no validation data to choose on" in reason


def test_one_text_of_a_class_is_one_line_naming_it_and_the_options():
    texts, ys = make_texts(20)
    with pytest.raises(DataError) as info:
        TextClassifier(**TINY).fit(texts + ["a lone text"], ys + ["odd"])
    msg = str(info.value)
    assert "\n" not in msg and "class 'odd' has 1 sample(s)" in msg and "--valid-fraction 0" in msg
    quiet_fit(TextClassifier(epochs=1, valid_fraction=0, **TINY), texts + ["a lone text"], ys + ["odd"])  # allowed


# ---------------------------------------------------------------------------- architecture choice
def test_pooling_and_direction_are_chosen_on_validation_and_the_winner_continues(capsys):
    texts, ys = make_texts(120, seed=2)
    clf = quiet_fit(TextClassifier(epochs=20, **TINY), texts, ys)
    assert [(s["pooling"], s["bidirectional"]) for s in clf.selection_] == [("last", False), ("mean", True)]
    first = clf.selection_[0]["epochs"]
    assert first == 7  # 150 steps of 24 per epoch (96 texts in batches of 4), more than a quarter of 20
    best = max(clf.selection_, key=lambda s: s["val_accuracy"])
    assert (clf.pooling_, clf.bidirectional_) == (best["pooling"], best["bidirectional"])
    layers = [type(layer).__name__ for layer in clf.model_.layers]
    assert (layers[1] == "Bidirectional") == clf.bidirectional_
    assert ("GlobalAveragePooling1D" in layers) == (clf.pooling_ == "mean")
    assert clf.epochs_run_ >= first and len(clf.history_["loss"]) == clf.epochs_run_  # selection epochs kept
    pooling = next(c for c in clf.advice_.choices if c.name == "pooling")
    assert "best validation accuracy after" in pooling.reason and "extra run" in pooling.reason


def test_only_the_unset_part_is_chosen():
    texts, ys = make_texts(80, seed=3)
    clf = quiet_fit(TextClassifier(epochs=2, pooling="max", **TINY), texts, ys)
    assert [(s["pooling"], s["bidirectional"]) for s in clf.selection_] == [("max", False), ("max", True)]
    assert clf.pooling_ == "max"
    clf = quiet_fit(TextClassifier(epochs=2, attention=True, bidirectional=False, **TINY), texts, ys)
    assert clf.selection_ == [] and clf.pooling_ == "attention"


def test_the_choice_and_the_fit_are_reproducible():
    texts, ys = make_texts(80, seed=4)
    a = quiet_fit(TextClassifier(epochs=3, **TINY), texts, ys)
    b = quiet_fit(TextClassifier(epochs=3, **TINY), texts, ys)
    assert a.selection_ == b.selection_
    np.testing.assert_array_equal(a.predict_proba(texts), b.predict_proba(texts))


def test_predictions_do_not_depend_on_the_batch():
    texts, ys = make_texts(60, long_every=5)
    clf = quiet_fit(TextClassifier(epochs=2, pooling="mean", bidirectional=True, **TINY), texts, ys)
    together = clf.predict_proba(texts)
    alone = np.vstack([clf.predict_proba([t]) for t in texts[:10]])
    np.testing.assert_allclose(together[:10], alone, atol=1e-6)


def test_embedding_dropout_is_the_recurrent_layers_input_dropout():
    texts, ys = make_texts(40)
    clf = quiet_fit(TextClassifier(epochs=1, embedding_dropout=0.3, pooling="mean", bidirectional=True, **TINY),
                    texts, ys)
    assert clf.model_.layers[1].forward_layer.dropout == 0.3
    assert clf.get_params()["embedding_dropout"] == 0.3


# -------------------------------------------------------------------------------------- warnings
def test_a_small_validation_set_warns():
    texts, ys = make_texts(40)
    with pytest.warns(LstmkitWarning, match=r"the validation set has 8 samples, too few .*valid_fraction"):
        TextClassifier(epochs=1, pooling="last", bidirectional=False, **TINY).fit(texts, ys)


def test_a_model_at_chance_warns():
    rng = random.Random(0)
    texts = [" ".join(rng.choice(FILLER) for _ in range(5)) for _ in range(120)]
    ys = [rng.choice(["a", "b"]) for _ in texts]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        TextClassifier(epochs=2, learning_rate=1e-5, pooling="last", bidirectional=False, **TINY).fit(texts, ys)
    messages = [str(w.message) for w in caught if issubclass(w.category, LstmkitWarning)]
    assert any("at or near chance" in m for m in messages), messages
    assert any("gradient steps, fewer than 300" in m for m in messages)


# --------------------------------------------------------------------------------------- files
def test_the_file_keeps_the_values_used_and_the_advice(tmp_path):
    texts, ys = make_texts(80, seed=5)
    clf = quiet_fit(TextClassifier(epochs=2, **TINY), texts, ys)
    path = clf.save(tmp_path / "m.lstmkit")
    pre = clf.model_.preprocessing
    assert pre["params"]["max_length"] is None and pre["fitted"]["max_length"] == clf.max_length_
    assert pre["advice"]["choices"][0]["name"] == "valid_fraction"
    again = TextClassifier.load(path)
    assert again.fitted_ == clf.fitted_ and (again.pooling_, again.bidirectional_) == (clf.pooling_, clf.bidirectional_)
    np.testing.assert_array_equal(again.predict_proba(texts), clf.predict_proba(texts))


def test_a_file_from_before_the_data_aware_defaults_still_loads(tmp_path):
    """Files written before this change hold explicit params (max_length 400, pooling 'last', ...),
    no 'fitted' and no 'advice'; they load and predict as saved."""
    from old_format import old_format

    texts, ys = make_texts(40)
    clf = quiet_fit(TextClassifier(units=8, embedding_dim=8, max_length=400, epochs=2, batch_size=32,
                                   pooling="last", bidirectional=False, patience=3, verbose=0), texts, ys)
    path = clf.save(tmp_path / "old.lstmkit")

    def as_before(fields):
        pre = fields["preprocessing"]
        pre.pop("fitted")
        pre.pop("advice")
        for key in ("valid_fraction", "embedding_dropout", "min_count"):
            pre["params"].pop(key)
        pre["vectorizer"]["output_sequence_length"] = 400

    old_format(path, as_before)
    again = TextClassifier.load(path)
    assert again.max_length_ == 400 and again.pooling_ == "last" and again.bidirectional_ is False
    # parameters the file predates get what that version did: no split, no embedding dropout, every word
    assert again.get_params()["valid_fraction"] == 0.0 and again.advice_ is None
    assert again.embedding_dropout == 0.0 and again.min_count == 1
    np.testing.assert_allclose(again.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    assert json.loads(json.dumps(again.preprocessing()))["params"]["pooling"] == "last"
