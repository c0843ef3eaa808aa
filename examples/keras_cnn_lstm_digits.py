"""Keras's CNN-LSTM example on spoken digits (FSDD), on lstmkit.

The model is Keras's ``imdb_cnn_lstm`` example (keras-team/keras ``examples/imdb_cnn_lstm.py``):
``Dropout(0.25)`` -> ``Conv1D(64, 5, padding="valid", activation="relu", strides=1)`` ->
``MaxPooling1D(pool_size=4)`` -> ``LSTM(70)`` -> ``Dense`` -> ``Activation``, adam, batch 30. Here
it reads MFCC frames of the Free Spoken Digit Dataset instead of embedded IMDB words, so the
``Embedding`` is replaced by ``keras.Input(shape=(maxlen, n_mfcc))`` and ``Dense(1)`` +
``Activation("sigmoid")`` by ``Dense(10)`` + ``Activation("softmax")`` with
``sparse_categorical_crossentropy`` (ten digits instead of two classes).

The Keras code is unchanged but for its imports (``from lstmkit import keras``, ``from
lstmkit.keras import layers``). Features: 13 MFCCs per 10 ms frame (lstmkit.data.audio, librosa),
standardised with the training set's mean and deviation, padded or cut to 100 frames (1 s) with
``keras.utils.pad_sequences``. Split: FSDD's own, recordings with index 0-4 are the test set (300),
5-49 training (2,700). What differs from Keras is listed in docs/keras.md.

Run:  .venv/bin/python examples/keras_cnn_lstm_digits.py --size full
      .venv/bin/python examples/keras_cnn_lstm_digits.py --size tiny
      (--data PATH/fsdd, or LSTMKIT_DATA=/path/to/shared/data)
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from lstmkit import keras
from lstmkit.data.audio import AudioFeatures, featurize_files
from lstmkit.keras import layers

from _example_support import data_root, example_parser, print_report  # noqa: E402

#: "full": all 3,000 recordings (FSDD's split), 30 epochs. "tiny": 2 repetitions per speaker and
#: digit for training (120), 1 for testing (60), 4 epochs.
SIZES = {
    "tiny": dict(train_per=2, test_per=1, epochs=4),
    "full": dict(train_per=None, test_per=None, epochs=30),
}


def default_data_path() -> Path:
    """``$LSTMKIT_DATA/fsdd``, else ``../shared/data/fsdd`` beside the checkout."""
    return data_root() / "fsdd"




def load_fsdd(data_path, train_per=None, test_per=None):
    """FSDD's split: ``(train_files, train_labels, test_files, test_labels)``.

    File names are ``{digit}_{speaker}_{index}.wav``; index 0-4 is the test set. ``train_per`` /
    ``test_per`` keep only that many recordings per (speaker, digit) in each part (None: all).
    """
    files = sorted(Path(data_path, "recordings").glob("*.wav"))
    if not files:
        raise FileNotFoundError(f"no FSDD recordings under {Path(data_path, 'recordings')}")
    parts = {"train": ([], []), "test": ([], [])}
    for f in files:
        digit, _speaker, index = f.stem.split("_")
        index = int(index)
        if index < 5:
            keep = test_per is None or index < test_per
            part = "test"
        else:
            keep = train_per is None or index < 5 + train_per
            part = "train"
        if keep:
            parts[part][0].append(f)
            parts[part][1].append(int(digit))
    return (*parts["train"], *parts["test"])


def main(size="tiny", epochs=None, data_path=None, seed=0, verbose=0):
    """Train the CNN-LSTM at ``size`` ("tiny" or "full"); return the final metrics as a dict."""
    cfg = SIZES[size]
    np.random.seed(seed)
    torch.manual_seed(seed)
    t_start = time.perf_counter()

    # ---------------------------------------------------------------- data (replaces imdb.load_data)
    train_files, train_labels, test_files, test_labels = load_fsdd(
        data_path or default_data_path(), cfg["train_per"], cfg["test_per"])
    features = AudioFeatures(sample_rate=8000, n_mfcc=13, deltas=0)
    train_seqs = featurize_files(train_files, features)
    test_seqs = featurize_files(test_files, features)
    frames = np.concatenate(train_seqs)
    mean, std = frames.mean(0), frames.std(0) + 1e-6
    train_seqs = [(s - mean) / std for s in train_seqs]
    test_seqs = [(s - mean) / std for s in test_seqs]
    y_train, y_test = np.asarray(train_labels), np.asarray(test_labels)

    # ---------------------------------------------------------------- Keras's code from here
    # Input
    maxlen = 100  # frames of 10 ms: one second
    n_features = features.n_features
    num_classes = 10
    # Convolution
    kernel_size = 5
    filters = 64
    pool_size = 4
    # LSTM
    lstm_output_size = 70
    # Training
    batch_size = 30
    epochs = cfg["epochs"] if epochs is None else epochs

    x_train = keras.utils.pad_sequences(train_seqs, maxlen=maxlen, dtype="float32", padding="post", truncating="post")
    x_test = keras.utils.pad_sequences(test_seqs, maxlen=maxlen, dtype="float32", padding="post", truncating="post")
    if verbose:
        print(len(x_train), "train sequences")
        print(len(x_test), "test sequences")
        print("x_train shape:", x_train.shape)
        print("x_test shape:", x_test.shape)

    model = keras.Sequential()
    model.add(keras.Input(shape=(maxlen, n_features)))
    model.add(layers.Dropout(0.25))
    model.add(layers.Conv1D(filters, kernel_size, padding="valid", activation="relu", strides=1))
    model.add(layers.MaxPooling1D(pool_size=pool_size))
    model.add(layers.LSTM(lstm_output_size))
    model.add(layers.Dense(num_classes))
    model.add(layers.Activation("softmax"))

    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    if verbose:
        model.summary()

    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs,
                        validation_data=(x_test, y_test), verbose=verbose)
    score, acc = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=verbose)
    if verbose:
        print("Test score:", score)
        print("Test accuracy:", acc)
    # ---------------------------------------------------------------- Keras's code ends here

    probs = model.predict(x_test, batch_size=batch_size)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (y_test, probs.argmax(-1)), 1)
    return {
        "example": "cnn_lstm_digits",
        "size": size,
        "train_samples": len(x_train),
        "test_samples": len(x_test),
        "input_shape": tuple(x_train.shape[1:]),
        "epochs_run": len(history.history["loss"]),
        "loss": history.history["loss"][-1],
        "accuracy": history.history["accuracy"][-1],
        "test_loss": float(score),
        "test_accuracy": float(acc),
        "loss_history": [float(v) for v in history.history["loss"]],
        "prediction_shape": tuple(probs.shape),
        "confusion": confusion.tolist(),
        "wall_s": time.perf_counter() - t_start,
    }


def cli(argv=None):
    ap = example_parser(__doc__, SIZES, data_help="the fsdd folder (default: ../shared/data/fsdd)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    r = main(a.size, a.epochs, data_path=a.data, seed=a.seed, verbose=a.verbose)
    print_report("keras_cnn_lstm_digits", a.size, r, skip=("loss_history", "confusion"))
    print("  confusion (rows: true digit, columns: predicted):")
    for i, row in enumerate(r["confusion"]):
        print(f"    {i}: " + " ".join(f"{c:3d}" for c in row))
    return r


if __name__ == "__main__":
    cli()
