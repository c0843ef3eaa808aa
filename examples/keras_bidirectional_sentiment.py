"""Keras example "Bidirectional LSTM on IMDB", on lstmkit, on the movie-review polarity data.

Port of keras.io/examples/nlp/bidirectional_lstm_imdb (fchollet): a Functional model, int token ids
of any length -> ``Embedding(max_features, 128)`` -> two ``Bidirectional(LSTM(64))`` (the first with
``return_sequences=True``) -> ``Dense(1, sigmoid)``, adam, binary cross-entropy, batch 32, reviews
padded/truncated to ``maxlen`` ids with ``keras.preprocessing.sequence.pad_sequences`` (keras.io's spelling).

The Keras code is unchanged but for its imports (``from lstmkit import keras``, ``from
lstmkit.keras import layers``) and the data: ``keras.datasets.imdb.load_data`` (downloaded IMDB) is
replaced by :func:`load_data`, which gives the Cornell movie-review polarity data (shared data folder,
its train / valid / test split) in the same form: lists of word ids ranked by training-set frequency,
1 = start of review, 2 = a word outside the ``num_words`` most frequent, words from 3 on
(``imdb.load_data``'s ``start_char=1, oov_char=2, index_from=3``). What differs from keras.io is
listed in docs/keras.md.

Run:  .venv/bin/python examples/keras_bidirectional_sentiment.py --size full
      .venv/bin/python examples/keras_bidirectional_sentiment.py --size tiny
      (--data PATH/movie_review_polarity, or LSTMKIT_DATA=/path/to/shared/data)
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from lstmkit import keras
from lstmkit.keras import layers

from _example_support import data_root, example_parser, print_report  # noqa: E402

#: "full": keras.io's model and sizes (20k words, 200 ids per review, batch 32) on all 1,600 training
#: reviews, validated on the 200 "valid" reviews, 6 epochs (keras.io: 2 epochs of 25,000 IMDB
#: reviews, i.e. 16x the updates of one epoch here); then evaluated on the 200 test reviews.
#: "tiny": 160 training reviews, 40 ids each, 3 epochs.
SIZES = {
    "tiny": dict(max_features=20000, maxlen=40, epochs=3, train_limit=160),
    "full": dict(max_features=20000, maxlen=200, epochs=6, train_limit=None),
}


def default_data_path() -> Path:
    """``$LSTMKIT_DATA/movie_review_polarity``, else ``../shared/data/movie_review_polarity``."""
    return data_root() / "movie_review_polarity"




def _read(path: Path, limit: int | None = None):
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            texts.append(rec["text"].split())  # the texts are lower-cased and tokenized already
            labels.append(int(rec["label"]))
    if limit is not None:  # keep both classes: the files are sorted by fold, not by label
        order = np.random.RandomState(0).permutation(len(texts))[:limit]
        texts, labels = [texts[i] for i in order], [labels[i] for i in order]
    return texts, np.asarray(labels, dtype="int64")


def load_data(path=None, num_words=None, start_char=1, oov_char=2, index_from=3, train_limit=None):
    """The polarity reviews as ``keras.datasets.imdb.load_data`` gives IMDB.

    Returns ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``: each ``x`` a list of lists of
    word ids (most frequent training word = ``index_from``), each ``y`` 0 (negative) / 1 (positive).
    """
    path = Path(path) if path else default_data_path()
    train = _read(path / "train.jsonl", train_limit)
    val = _read(path / "valid.jsonl")
    test = _read(path / "test.jsonl")
    counts = Counter(w for words in train[0] for w in words)
    rank = {w: i + index_from for i, (w, _) in enumerate(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))}

    def ids(words):
        out = [start_char]
        for w in words:
            i = rank.get(w, oov_char)
            out.append(oov_char if num_words is not None and i >= num_words else i)
        return out

    return tuple(([ids(t) for t in texts], y) for texts, y in (train, val, test))


def main(size="tiny", epochs=None, data_path=None, seed=0, verbose=0):
    """Train the two-layer bidirectional LSTM at ``size`` ("tiny" or "full"); return final metrics."""
    cfg = SIZES[size]
    np.random.seed(seed)
    torch.manual_seed(seed)
    t_start = time.perf_counter()

    # ---------------------------------------------------------------- keras.io's code from here
    max_features = cfg["max_features"]  # Only consider the top 20k words
    maxlen = cfg["maxlen"]  # Only consider the first 200 words of each movie review

    # Input for variable-length sequences of integers
    inputs = keras.Input(shape=(None,), dtype="int32")
    # Embed each integer in a 128-dimensional vector
    x = layers.Embedding(max_features, 128)(inputs)
    # Add 2 bidirectional LSTMs
    x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(64))(x)
    # Add a classifier
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    if verbose:
        model.summary()

    # Load the movie review sentiment data (keras.io: keras.datasets.imdb.load_data)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_data(
        data_path, num_words=max_features, train_limit=cfg["train_limit"]
    )
    if verbose:
        print(len(x_train), "Training sequences")
        print(len(x_val), "Validation sequences")
    # Use pad_sequence to standardize sequence length:
    # this will truncate sequences longer than 200 words and zero-pad sequences shorter than 200 words.
    x_train = keras.preprocessing.sequence.pad_sequences(x_train, maxlen=maxlen)
    x_val = keras.preprocessing.sequence.pad_sequences(x_val, maxlen=maxlen)

    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=cfg["epochs"] if epochs is None else epochs,
                        validation_data=(x_val, y_val), verbose=verbose)
    # ---------------------------------------------------------------- keras.io's code ends here

    x_test = keras.utils.pad_sequences(x_test, maxlen=maxlen)
    test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=32, verbose=0)
    probs = model.predict(x_test, batch_size=32)
    h = history.history
    return {
        "example": "bidirectional_sentiment",
        "size": size,
        "train_samples": len(x_train),
        "maxlen": maxlen,
        "params": model.count_params(),
        "epochs_run": len(h["loss"]),
        "loss": h["loss"][-1],
        "accuracy": h["accuracy"][-1],
        "val_loss": h["val_loss"][-1],
        "val_accuracy": h["val_accuracy"][-1],
        "test_loss": float(test_loss),
        "test_accuracy": float(test_acc),
        "loss_history": [float(v) for v in h["loss"]],
        "prediction_shape": tuple(probs.shape),
        "wall_s": time.perf_counter() - t_start,
    }


def cli(argv=None):
    ap = example_parser(__doc__, SIZES, epochs_help="override the size's epochs (keras.io: 2)", data_help="the movie_review_polarity folder (default: ../shared/data/...)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    r = main(a.size, a.epochs, data_path=a.data, seed=a.seed, verbose=a.verbose)
    print_report("keras_bidirectional_sentiment", a.size, r, skip=("loss_history",))
    return r


if __name__ == "__main__":
    cli()
