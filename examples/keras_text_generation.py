"""Keras example "Character-level text generation with LSTM", on lstmkit, on tiny Shakespeare.

Port of keras.io/examples/generative/lstm_character_level_text_generation (fchollet): the text is cut
into semi-redundant windows of ``maxlen`` characters (one-hot), an ``LSTM(128)`` and a softmax
``Dense`` predict the next character, trained with ``RMSprop(learning_rate=0.01)``; after every epoch
text is generated from a random seed window at several temperatures ("diversity").

The Keras code is unchanged but for its imports (``from lstmkit import keras``, ``from
lstmkit.keras import layers``) and the corpus: tiny Shakespeare from the shared data folder instead
of Nietzsche via ``keras.utils.get_file``. What differs from keras.io is listed in docs/keras.md.

Run:  .venv/bin/python examples/keras_text_generation.py --size full
      .venv/bin/python examples/keras_text_generation.py --size tiny
      (--data PATH/input.txt, or LSTMKIT_DATA=/path/to/shared/data)
"""

from __future__ import annotations

import io
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

from lstmkit import keras
from lstmkit.keras import layers

from _example_support import data_root, example_parser, print_report  # noqa: E402

#: "full": the first 600,000 characters of tiny Shakespeare (about Nietzsche's 600k, keras.io's
#: corpus), windows of 40 every 3 characters, 4 epochs (keras.io: 40), batch 128, 400 generated
#: characters per temperature. "tiny": 20,000 characters, 2 epochs, 60 generated characters.
SIZES = {
    "tiny": dict(chars=20_000, epochs=2, batch_size=128, generate=60),
    "full": dict(chars=600_000, epochs=4, batch_size=128, generate=400),
}


def default_data_path() -> Path:
    """``$LSTMKIT_DATA/tinyshakespeare/input.txt``, else ``../shared/data/`` beside the checkout."""
    return data_root() / "tinyshakespeare" / "input.txt"




def sample(preds, temperature=1.0):
    # helper function to sample an index from a probability array
    preds = np.asarray(preds).astype("float64")
    preds = np.log(preds) / temperature
    exp_preds = np.exp(preds)
    preds = exp_preds / np.sum(exp_preds)
    probas = np.random.multinomial(1, preds, 1)
    return np.argmax(probas)


def main(size="tiny", epochs=None, data_path=None, seed=0, verbose=0, echo=True):
    """Train the character LSTM at ``size`` ("tiny" or "full"); return the final metrics as a dict.

    ``data_path``: tiny Shakespeare's ``input.txt`` (default: the shared data folder). ``echo``:
    write the generated text to stdout as keras.io does. The dict holds the last epoch's loss, the
    loss per epoch and the texts generated after the last epoch, by temperature.
    """
    cfg = SIZES[size]
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    t_start = time.perf_counter()
    path = Path(data_path) if data_path else default_data_path()
    out = sys.stdout if echo else io.StringIO()

    # ---------------------------------------------------------------- keras.io's code from here
    with io.open(path, encoding="utf-8") as f:
        text = f.read().lower()
    text = text[: cfg["chars"]]  # (the size's slice of the corpus)
    if verbose:
        print("corpus length:", len(text))

    chars = sorted(list(set(text)))
    if verbose:
        print("total chars:", len(chars))
    char_indices = dict((c, i) for i, c in enumerate(chars))
    indices_char = dict((i, c) for i, c in enumerate(chars))

    # cut the text in semi-redundant sequences of maxlen characters
    maxlen = 40
    step = 3
    sentences = []
    next_chars = []
    for i in range(0, len(text) - maxlen, step):
        sentences.append(text[i : i + maxlen])
        next_chars.append(text[i + maxlen])
    if verbose:
        print("nb sequences:", len(sentences))

    x = np.zeros((len(sentences), maxlen, len(chars)), dtype=np.bool)
    y = np.zeros((len(sentences), len(chars)), dtype=np.bool)
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1

    # Build the model: a single LSTM layer
    model = keras.Sequential(
        [
            keras.Input(shape=(maxlen, len(chars))),
            layers.LSTM(128),
            layers.Dense(len(chars), activation="softmax"),
        ]
    )
    optimizer = keras.optimizers.RMSprop(learning_rate=0.01)
    model.compile(loss="categorical_crossentropy", optimizer=optimizer)

    # Train the model
    epochs = cfg["epochs"] if epochs is None else epochs
    batch_size = cfg["batch_size"]

    losses = []
    generated_by_temperature = {}
    for epoch in range(epochs):
        h = model.fit(x, y, batch_size=batch_size, epochs=1, verbose=verbose)
        losses.extend(h.history["loss"])

        print("Generating text after epoch: %d" % epoch, file=out)

        start_index = random.randint(0, len(text) - maxlen - 1)
        for diversity in [0.2, 0.5, 1.0, 1.2]:
            print("----- diversity:", diversity, file=out)

            generated = ""
            sentence = text[start_index : start_index + maxlen]
            generated += sentence
            print('----- Generating with seed: "' + sentence + '"', file=out)
            out.write(generated)

            for i in range(cfg["generate"]):
                x_pred = np.zeros((1, maxlen, len(chars)))
                for t, char in enumerate(sentence):
                    x_pred[0, t, char_indices[char]] = 1.0

                preds = model.predict(x_pred, verbose=0)[0]
                next_index = sample(preds, diversity)
                next_char = indices_char[next_index]

                sentence = sentence[1:] + next_char

                out.write(next_char)
                out.flush()
                generated += next_char
            print(file=out)
            generated_by_temperature[diversity] = generated
    # ---------------------------------------------------------------- keras.io's code ends here

    return {
        "example": "text_generation",
        "size": size,
        "corpus_chars": len(text),
        "vocabulary": len(chars),
        "sequences": len(sentences),
        "epochs_run": len(losses),
        "loss": losses[-1],
        "loss_history": losses,
        "generated": generated_by_temperature,
        "vocabulary_chars": "".join(chars),
        "wall_s": time.perf_counter() - t_start,
    }


def cli(argv=None):
    ap = example_parser(__doc__, SIZES, epochs_help="override the size's epochs (keras.io: 40)", data_help="tinyshakespeare/input.txt (default: ../shared/data/...)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    r = main(a.size, a.epochs, data_path=a.data, seed=a.seed, verbose=a.verbose)
    print_report("keras_text_generation", a.size, r, skip=("generated", "vocabulary_chars", "loss_history"))
    return r


if __name__ == "__main__":
    cli()
