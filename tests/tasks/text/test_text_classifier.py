"""TextClassifier: fit/predict/score on a tiny separable problem, save/load, and each bad input."""

from __future__ import annotations

import random

import numpy as np
import pytest

from lstmkit.errors import ConfigError, DataError, InputValueError, ModelFileError
from lstmkit.tasks.text.classifier import TextClassifier, classification_report, tfidf_baseline

FILLER = ["the", "a", "film", "is", "was", "story", "and"]
CUES = {"pos": ["good", "great", "superb"], "neg": ["bad", "awful", "dull"]}
CUES[1], CUES[0] = CUES["pos"], CUES["neg"]


def make_texts(n=40, seed=0, labels=("pos", "neg")):
    rng = random.Random(seed)
    texts, ys = [], []
    for i in range(n):
        y = labels[i % len(labels)]
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 8))]
        words.insert(rng.randint(0, len(words)), rng.choice(CUES[y]))
        texts.append(" ".join(words))
        ys.append(y)
    return texts, ys


def small(**kw):
    # the settings before the data-aware defaults (no dropout, every word in the vocabulary, no held-out split); tests of the
    # defaults are in test_text_classifier_defaults.py
    params = dict(units=16, embedding_dim=16, max_length=12, epochs=30, batch_size=8, patience=30, dropout=0.0,
                  embedding_dropout=0.0, min_count=1, valid_fraction=0.0)
    params.update(kw)
    return TextClassifier(**params)


@pytest.fixture(scope="module")
def fitted():
    texts, ys = make_texts(60)
    return small().fit(texts, ys, valid=make_texts(20, seed=1)), texts, ys


def test_init_only_stores_params():
    clf = TextClassifier(units=-3)
    assert clf.units == -3 and clf.model_ is None
    with pytest.raises(ConfigError, match="units must be an integer >= 1"):
        clf.fit(["a", "b"], [0, 1])


def test_fit_predict_score(fitted):
    clf, texts, ys = fitted
    assert clf.classes_ == ["neg", "pos"]
    assert clf.score(texts, ys) >= 0.95
    assert clf.predict(["a great film", "a dull film"]) == ["pos", "neg"]
    probs = clf.predict_proba(["a great film"])
    assert probs.shape == (1, 2) and abs(probs.sum() - 1) < 1e-6


def test_padding_does_not_change_predictions(fitted):
    clf, _, _ = fitted
    alone = clf.predict_proba(["great"])
    with_long = clf.predict_proba(["great", " ".join(["the"] * 30)])
    np.testing.assert_allclose(alone[0], with_long[0], atol=1e-6)


def test_save_load_identical(fitted, tmp_path):
    clf, texts, _ = fitted
    path = clf.save(tmp_path / "sub" / "clf.lstmkit")
    again = TextClassifier.load(path)
    assert again.classes_ == clf.classes_ and again.get_params() == clf.get_params()
    assert again.vectorizer_.get_config() == clf.vectorizer_.get_config()
    np.testing.assert_array_equal(again.predict_proba(texts), clf.predict_proba(texts))


@pytest.mark.parametrize("kw", [dict(bidirectional=True, attention=True), dict(cell="simple_rnn"), dict(level="char", max_length=40),
                                dict(pooling="mean"), dict(pooling="max", bidirectional=True)])
def test_variants_learn_and_round_trip(kw, tmp_path):
    texts, ys = make_texts(60)
    clf = small(**kw).fit(texts, ys)
    assert clf.score(texts, ys) >= 0.9
    clf.save(tmp_path / "m.lstmkit")
    np.testing.assert_array_equal(TextClassifier.load(tmp_path / "m.lstmkit").predict_proba(texts), clf.predict_proba(texts))


def test_int_labels_and_string_spellings():
    texts, ys = make_texts(40, labels=(1, 0))
    clf = small().fit(texts, ys)
    assert clf.classes_ == [0, 1]
    assert set(clf.predict(texts)) <= {0, 1}
    assert clf.score(texts, [str(y) for y in ys]) == clf.score(texts, ys)  # CSV cells against int classes


def test_single_class_is_data_error():
    with pytest.raises(DataError, match=r"single class \('pos', 3 texts\)"):
        small().fit(["a", "b", "c"], ["pos"] * 3)


def test_unknown_validation_label():
    texts, ys = make_texts(10)
    with pytest.raises(DataError, match=r"validation data: label\(s\) 'meh' not among the training labels"):
        small().fit(texts, ys, valid=(["x"], ["meh"]))


def test_length_mismatch_and_bad_types():
    with pytest.raises(DataError, match="2 texts but 1 labels"):
        small().fit(["a", "b"], [1])
    with pytest.raises(InputValueError, match="found int at index 1"):
        small().fit(["a", 3], [0, 1])
    with pytest.raises(InputValueError, match="label at index 0"):
        small().fit(["a", "b"], [1.5, 0])


def test_not_fitted():
    with pytest.raises(ConfigError, match="not fitted yet"):
        TextClassifier().predict(["a"])


def test_loading_another_kind_of_model_names_it(tmp_path):
    import torch

    from lstmkit.models.serialization import save_tensors
    from lstmkit.tasks.text.sentiment import build_model

    model = build_model(50, embedding_dim=4, units=4)
    model.preprocessing = {"task": "sentiment", "labels": ["negative", "positive"], "vectorizer": {}}
    model.save(tmp_path / "s.lstmkit")
    with pytest.raises(ModelFileError, match="the sentiment demo's model, not a text classifier; read it with lstmkit.tasks.text.sentiment.load_classifier"):
        TextClassifier.load(tmp_path / "s.lstmkit")
    model.preprocessing = {"task": "language_model"}
    model.save(tmp_path / "lm.lstmkit")
    with pytest.raises(ModelFileError, match="a language model, not a text classifier; use it with lstmkit text generate"):
        TextClassifier.load(tmp_path / "lm.lstmkit")
    save_tensors(tmp_path / "real_lm.lstmkit", {"w": torch.zeros(2)}, {"vocabulary": "{}"}, kind="language_model")
    with pytest.raises(ModelFileError, match="real_lm.lstmkit' is a language model, not a text classifier; use it with lstmkit text generate"):
        TextClassifier.load(tmp_path / "real_lm.lstmkit")
    model.preprocessing = {}
    model.save(tmp_path / "bare.lstmkit")
    with pytest.raises(ModelFileError, match="bare lstmkit model"):
        TextClassifier.load(tmp_path / "bare.lstmkit")


def test_report_and_baseline():
    texts, ys = make_texts(40)
    pred = tfidf_baseline(texts, ys, texts)
    rep = classification_report(ys, pred, ["neg", "pos"])
    assert rep.accuracy == 1.0 and rep.macro_f1 == 1.0
    assert rep.confusion.tolist() == [[20, 0], [0, 20]]


@pytest.mark.parametrize("kw, match", [(dict(dropout=1.0), "dropout must be"), (dict(learning_rate=0), "learning_rate must be"),
                                       (dict(cell="transformer"), "cell must be one of"), (dict(attention="yes"), "attention must be True"),
                                       (dict(pooling="sum"), "pooling must be one of"),
                                       (dict(global_clipnorm=0), "global_clipnorm must be None or a number > 0"),
                                       (dict(attention=True, pooling="max"), "cannot be combined with pooling='max'")])
def test_bad_hyper_parameters(kw, match):
    with pytest.raises(ConfigError, match=match):
        TextClassifier(**kw).fit(["a", "b"], [0, 1])


def test_dropout_and_learning_rate_are_used():
    clf = small(dropout=0.2, learning_rate=0.01, global_clipnorm=1.0, epochs=1).fit(*make_texts(10))
    assert clf.model_.optimizer.global_clipnorm == 1.0
    assert any(type(l).__name__ == "Dropout" for l in clf.model_.layers)
    assert clf.preprocessing()["params"]["learning_rate"] == 0.01


@pytest.mark.parametrize("pooling, layer", [("mean", "GlobalAveragePooling1D"), ("max", "GlobalMaxPooling1D"),
                                            ("attention", "AttentionPooling")])
def test_pooling_builds_its_layer_and_ignores_padding(pooling, layer):
    texts, ys = make_texts(20)
    clf = small(pooling=pooling, epochs=1).fit(texts, ys)
    assert [type(l).__name__ for l in clf.model_.layers][2] == layer
    alone = clf.predict_proba(["great"])
    np.testing.assert_allclose(alone[0], clf.predict_proba(["great", " ".join(["the"] * 30)])[0], atol=1e-6)


def test_fit_goes_through_the_engine_with_its_precision():
    from lstmkit.train import TrainResult
    from lstmkit.train.precision import resolve_precision

    texts, ys = make_texts(20)
    clf = small(epochs=2, precision="auto").fit(texts, ys, valid=make_texts(8, seed=1))
    result = clf.model_.history.train_result
    assert isinstance(result, TrainResult) and result.steps == 2 * 3 and result.precision == resolve_precision("auto")
    assert [e["val_accuracy"] for e in result.history] == clf.history_["val_accuracy"]
    assert clf.get_params()["precision"] == "auto"


def test_precision_bf16_without_bf16_units_fails_before_any_work():
    from lstmkit.train.precision import bf16_available

    if bf16_available("cpu"):
        pytest.skip("this CPU runs bf16 natively")
    clf = small(precision="bf16")
    with pytest.raises(ConfigError, match=r"^precision 'bf16': this CPU has no bfloat16 matrix units") as info:
        clf.fit(*make_texts(10))
    assert "\n" not in str(info.value) and clf.model_ is None
    with pytest.raises(ConfigError, match="precision: expected 'fp32', 'bf16' or 'auto', found 'half'"):
        small(precision="half").fit(*make_texts(10))


def test_clip_norm_is_the_one_spelling_and_global_clipnorm_its_alias(tmp_path):
    clf = small(global_clipnorm=0.5)
    assert clf.clip_norm == 0.5 and clf.global_clipnorm == 0.5
    assert "clip_norm" in clf.get_params() and "global_clipnorm" not in clf.get_params()
    clf.set_params(global_clipnorm=2.0)
    assert clf.clip_norm == 2.0
    assert small(clip_norm=1.0).clip_norm == 1.0
    with pytest.raises(ConfigError, match="clip_norm: given twice"):
        small(clip_norm=1.0, global_clipnorm=2.0)
    with pytest.raises(ConfigError, match="clip_norm must be None or a number > 0; found -1"):
        small(clip_norm=-1).fit(["a", "b"], [0, 1])
    # a file written before the rename (params hold global_clipnorm) loads with it as clip_norm
    fitted = small(clip_norm=0.25, epochs=1).fit(*make_texts(10))
    assert fitted.model_.optimizer.global_clipnorm == 0.25
    pre = fitted.preprocessing()
    params = dict(pre["params"])
    params["global_clipnorm"] = params.pop("clip_norm")
    params.pop("precision")
    fitted.model_.preprocessing = {**pre, "params": params}
    fitted.model_.save(tmp_path / "old.lstmkit")
    again = TextClassifier.load(tmp_path / "old.lstmkit")
    assert again.clip_norm == 0.25 and again.precision == "fp32"
