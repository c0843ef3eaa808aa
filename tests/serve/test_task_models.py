"""The service serves the task models too: a TextClassifier's events are text chunks and its answers
class probabilities equal to predict_proba on the text so far; a Forecaster's events are rows."""

from __future__ import annotations

import random

import numpy as np
import pytest
from serve_support import AUTH, TOKEN, client

from lstmkit.serve import create_app
from lstmkit.stream.engine import StreamEngine

WORDS = ["the", "a", "film", "is", "was", "story", "and"]
CUES = {"pos": ["good", "great", "superb"], "neg": ["bad", "awful", "dull"]}


def _classifier():
    from lstmkit.tasks.text.classifier import TextClassifier

    rng = random.Random(0)
    texts, ys = [], []
    for i in range(40):
        y = ("pos", "neg")[i % 2]
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 7))] + [rng.choice(CUES[y])]
        rng.shuffle(words)
        texts.append(" ".join(words))
        ys.append(y)
    return TextClassifier(units=8, embedding_dim=8, max_length=12, epochs=3, batch_size=8, dropout=0.0,
                          embedding_dropout=0.0, min_count=1, valid_fraction=0.0, bidirectional=False,
                          verbose=False).fit(texts, ys)


@pytest.mark.filterwarnings("ignore::lstmkit.errors.LstmkitWarning")  # a deliberately tiny fit
def test_a_text_classifier_over_http():
    clf = _classifier()
    app = create_app(StreamEngine(clf, "memory://"), token=TOKEN)
    with client(app) as c:
        model = c.get("/v1/model", headers=AUTH).json()
        assert model["input"]["kind"] == "tokens" and model["output"]["kind"] == "classes"
        r = c.post("/v1/streams/review-1/events", headers=AUTH,
                   json={"events": [{"seq": 1, "input": "the film was"}, {"seq": 2, "input": "great and good"}]})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert [x["seq"] for x in results] == [1, 2]
        for res, text in zip(results, ["the film was", "the film was great and good"]):
            ref = clf.predict_proba([text])[0]
            np.testing.assert_allclose([res["output"]["probabilities"][k] for k in clf.classes_], ref, atol=1e-5)
        again = c.post("/v1/streams/review-1/events", headers=AUTH, json={"events": [{"seq": 2, "input": "ignored"}]})
        assert again.json()["results"][0]["output"] == results[1]["output"]   # a repeat: the recorded answer
        bad = c.post("/v1/streams/review-1/events", headers=AUTH, json={"events": [{"seq": 3, "input": [0.5, 1.5]}]})
        assert 400 <= bad.status_code < 500 and bad.json()["error"]
