"""The sentiment task end to end on tiny data: train, score, save, reload with its vectorizer."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from lstmkit.errors import ConfigError, DataError, ModelFileError
from lstmkit.tasks.text import sentiment
from lstmkit.tasks.text.sentiment import load_classifier, load_dataset, resolve_data_dir, train_sentiment

POS = ["good", "great", "wonderful", "superb", "moving", "best", "loved"]
NEG = ["bad", "awful", "boring", "stupid", "worst", "mess", "hated"]
FILLER = ["the", "film", "plot", "actor", "scene", "and", "a", "of", "is", "it", "story", "director"]


def _review(rng: random.Random, label: int) -> str:
    words = [rng.choice(FILLER) for _ in range(rng.randint(15, 30))]
    cue = POS if label else NEG
    words += [rng.choice(cue) for _ in range(3)] + ["."]
    return " ".join(words)


def _write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


@pytest.fixture
def synthetic_dir(tmp_path) -> Path:
    """A generated polarity set: filler words then sentiment cue words at the end (40/10/10 reviews)."""
    rng = random.Random(0)
    d = tmp_path / "synthetic"
    d.mkdir()
    for name, n in (("train", 40), ("valid", 10), ("test", 10)):
        _write(d / f"{name}.jsonl", [{"text": _review(rng, i % 2), "label": i % 2} for i in range(n)])
    return d


@pytest.fixture
def real_slice_dir(tmp_path, shared_data) -> Path:
    """40 / 10 / 10 real reviews cut from ../shared/data/movie_review_polarity (balanced)."""
    src = shared_data / "movie_review_polarity"
    d = tmp_path / "slice"
    d.mkdir()
    for name, n in (("train", 40), ("valid", 10), ("test", 10)):
        recs = [json.loads(line) for line in (src / f"{name}.jsonl").read_text().splitlines()]
        pos = [r for r in recs if r["label"] == 1][: n // 2]
        neg = [r for r in recs if r["label"] == 0][: n // 2]
        _write(d / f"{name}.jsonl", [r for pair in zip(pos, neg) for r in pair])
    return d


SMALL = dict(max_tokens=300, embedding_dim=16, units=8, max_length=40, batch_size=8, verbose=0)


def test_trains_saves_and_reloads_with_identical_predictions(synthetic_dir, tmp_path):
    out = tmp_path / "model" / "s.lstmkit"
    res = train_sentiment(synthetic_dir, epochs=3, output=out, **SMALL)
    assert out.is_file() and res.output == out
    assert 1 <= res.best_epoch <= res.epochs_run <= 3
    assert set(res.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert 0.0 <= res.test_accuracy <= 1.0 and res.test_size == 10
    assert res.test_correct == round(res.test_accuracy * 10)
    assert [p.label for p in res.examples] and all(abs(p.positive + p.negative - 1) < 1e-5 for p in res.examples)

    clf = load_classifier(out)
    assert clf.vectorizer.get_config() == res.vectorizer.get_config()
    assert clf.vectorizer.output_sequence_length == 40 and clf.vectorizer.truncation == "pre"
    texts = ["a wonderful superb film", "the worst boring mess", "unknown words entirely"]
    np.testing.assert_array_equal(clf.predict_proba(texts), res.classifier.predict_proba(texts))
    assert json.loads(json.dumps(clf.model.preprocessing))["task"] == "sentiment"


def test_learns_the_synthetic_cue_words(synthetic_dir):
    res = train_sentiment(synthetic_dir, epochs=8, patience=8, output=None, **SMALL)
    assert res.best_val_accuracy >= 0.8
    preds = res.classifier.predict(["the film is a story and it is great wonderful best .",
                                    "the film is a story and it is awful boring worst ."])
    assert [p.label for p in preds] == ["positive", "negative"]


def test_same_seed_same_result(synthetic_dir):
    a = train_sentiment(synthetic_dir, epochs=2, output=None, seed=3, **SMALL)
    b = train_sentiment(synthetic_dir, epochs=2, output=None, seed=3, **SMALL)
    assert a.history == b.history


def test_real_reviews_slice_end_to_end(real_slice_dir, tmp_path):
    res = train_sentiment(real_slice_dir, epochs=2, output=tmp_path / "m.lstmkit", **SMALL)
    assert res.test_size == 10 and len(res.history["loss"]) == res.epochs_run
    clf = load_classifier(res.output)
    x = ["a moving , wonderful film", "a dull mess"]
    np.testing.assert_array_equal(clf.predict_proba(x), res.classifier.predict_proba(x))


def test_load_dataset_reads_the_real_data(shared_data):
    ds = load_dataset(shared_data / "movie_review_polarity")
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (1600, 200, 200)
    assert ds.train.labels.dtype == np.int64 and set(ds.train.labels.tolist()) == {0, 1}


def test_missing_directory_message(tmp_path):
    with pytest.raises(DataError, match=r"not found: .*nope; pass .*--data PATH .*make demo DATA="):
        resolve_data_dir(tmp_path / "nope")


def test_default_directory_message_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr(sentiment, "_default_data_candidates", lambda: [tmp_path / "a", tmp_path / "b"])
    with pytest.raises(DataError, match=r"looked in .*a or .*b\); pass"):
        resolve_data_dir(None)


def test_bad_label_and_missing_split_are_data_errors(synthetic_dir):
    (synthetic_dir / "valid.jsonl").write_text('{"text": "ok", "label": 2}\n')
    with pytest.raises(DataError, match=r"valid\.jsonl: record 1: 'label' must be 0 or 1, found 2"):
        load_dataset(synthetic_dir)
    (synthetic_dir / "valid.jsonl").unlink()
    with pytest.raises(DataError, match=r"JSONL file not found: .*valid\.jsonl"):
        load_dataset(synthetic_dir)


@pytest.mark.parametrize("kwargs", [{"epochs": 0}, {"max_length": -1}, {"batch_size": 1.5}, {"seed": -1}])
def test_bad_settings_are_config_errors(synthetic_dir, kwargs):
    with pytest.raises(ConfigError):
        train_sentiment(synthetic_dir, output=None, **{**SMALL, **kwargs})


def test_load_classifier_rejects_a_model_without_vectorizer(tmp_path):
    from lstmkit.layers import Dense
    from lstmkit.models import Sequential

    m = Sequential([Dense(2)])
    m.build((None, 3))
    p = tmp_path / "plain.lstmkit"
    m.save(p)
    with pytest.raises(ModelFileError, match="not a sentiment model"):
        load_classifier(p)


def test_classifier_runs_each_text_unpadded_at_its_own_length(synthetic_dir):
    res = train_sentiment(synthetic_dir, epochs=1, output=None, **SMALL)
    clf = res.classifier
    texts = ["great", "the film is bad", "", "the plot is great and the actor is superb " * 10]
    assert clf.token_ids("") == [0]
    assert len(clf.token_ids(texts[3])) == 40  # truncated to max_length, keeping the end
    assert clf.token_ids(texts[3])[-1] == clf.vectorizer.encode(texts[3])[-1]
    together = clf.predict_proba(texts)
    one_by_one = np.concatenate([clf.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(together, one_by_one, rtol=1e-6, atol=1e-7)
    direct = res.model.predict(np.asarray([clf.token_ids("the film is bad")]), verbose=0)
    np.testing.assert_allclose(together[1], direct[0], rtol=1e-6, atol=1e-7)
    assert clf.predict("great")[0].text == "great"  # a single string is one text


def test_unwritable_output_fails_before_training(synthetic_dir, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=r"output: cannot create directory .*afile"):
        train_sentiment(synthetic_dir, output=blocker / "sub" / "m.lstmkit", **SMALL)
    with pytest.raises(ConfigError, match="is a directory"):
        train_sentiment(synthetic_dir, output=tmp_path, **SMALL)


def test_data_path_that_is_a_file(tmp_path):
    f = tmp_path / "train.jsonl"
    f.write_text("{}\n")
    with pytest.raises(DataError, match="is a file, expected a directory"):
        resolve_data_dir(f)


def test_classifier_rejects_non_text_items_with_a_clear_error():
    from lstmkit.data.text import TextVectorizer
    from lstmkit.errors import InputValueError

    clf = sentiment.SentimentClassifier(sentiment.build_model(20), TextVectorizer(max_tokens=20).fit(["good bad"]))
    for call in (clf.predict, clf.predict_proba):
        with pytest.raises(InputValueError, match="found int at index 1"):
            call(["good", 123])


def test_training_goes_through_the_engine_with_its_precision(synthetic_dir):
    from lstmkit.train import TrainResult
    from lstmkit.train.precision import bf16_available, resolve_precision

    res = train_sentiment(synthetic_dir, epochs=2, output=None, precision="auto", **SMALL)
    result = res.model.history.train_result
    assert isinstance(result, TrainResult) and result.precision == resolve_precision("auto")
    assert result.epochs_completed == res.epochs_run and [e["loss"] for e in result.history] == res.history["loss"]
    if not bf16_available("cpu"):
        with pytest.raises(ConfigError, match=r"^precision 'bf16': this CPU has no bfloat16 matrix units"):
            train_sentiment(synthetic_dir / "not-read", output=None, precision="bf16", **SMALL)  # before reading data
