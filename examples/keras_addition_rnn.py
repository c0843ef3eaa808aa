"""Keras example "Sequence to sequence learning for performing number addition", on lstmkit.

Port of keras.io/examples/nlp/addition_rnn (Smerity and others): an LSTM encoder reads a padded
query such as ``"535+61 "`` (optionally reversed) one-hot per character, ``RepeatVector`` feeds its
last output to every step of an LSTM decoder with ``return_sequences=True``, and a softmax ``Dense``
picks a character at every output step (``"596 "``). The data is synthetic, as in the original.

The Keras code is unchanged but for its imports (``import keras`` -> ``from lstmkit import keras``,
``from keras import layers`` -> ``from lstmkit.keras import layers``). It sits inside ``main`` so
that the sizes can be chosen; what differs from keras.io is listed in docs/keras.md.

Run:  .venv/bin/python examples/keras_addition_rnn.py --size full      (keras.io's sizes)
      .venv/bin/python examples/keras_addition_rnn.py --size tiny      (a few seconds)
"""

from __future__ import annotations

import time

import numpy as np
import torch

from lstmkit import keras
from lstmkit.keras import layers

from _example_support import example_parser, print_report  # noqa: E402

#: "full" is keras.io's configuration (50,000 questions of up to 3 digits, 30 epochs, batch 32);
#: "tiny" is a seconds-long smoke run of the same code.
SIZES = {
    "tiny": dict(training_size=1500, digits=2, epochs=4, batch_size=32),
    "full": dict(training_size=50000, digits=3, epochs=30, batch_size=32),
}


class CharacterTable:
    """Given a set of characters:
    + Encode them to a one-hot integer representation
    + Decode the one-hot or integer representation to their character output
    + Decode a vector of probabilities to their character output
    """

    def __init__(self, chars):
        """Initialize character table.
        # Arguments
            chars: Characters that can appear in the input.
        """
        self.chars = sorted(set(chars))
        self.char_indices = dict((c, i) for i, c in enumerate(self.chars))
        self.indices_char = dict((i, c) for i, c in enumerate(self.chars))

    def encode(self, C, num_rows):
        """One-hot encode given string C.
        # Arguments
            C: string, to be encoded.
            num_rows: Number of rows in the returned one-hot encoding. This is
                used to keep the # of rows for each data the same.
        """
        x = np.zeros((num_rows, len(self.chars)))
        for i, c in enumerate(C):
            x[i, self.char_indices[c]] = 1
        return x

    def decode(self, x, calc_argmax=True):
        """Decode the given vector or 2D array to their character output.
        # Arguments
            x: A vector or a 2D array of probabilities or one-hot representations;
                or a vector of character indices (used with `calc_argmax=False`).
            calc_argmax: Whether to find the character index with maximum
                probability, defaults to `True`.
        """
        if calc_argmax:
            x = x.argmax(axis=-1)
        return "".join(self.indices_char[x] for x in x)




def main(size="tiny", epochs=None, reverse=True, seed=0, verbose=0, show=10):
    """Train the addition model at ``size`` ("tiny" or "full"); return the final metrics as a dict.

    ``epochs`` overrides the size's epoch count (keras.io's loop runs ``range(1, epochs)``, i.e.
    ``epochs - 1`` fits); ``reverse`` is keras.io's ``REVERSE``; ``show`` validation questions are
    printed after every epoch, as keras.io does (0: none).
    """
    cfg = SIZES[size]
    np.random.seed(seed)
    torch.manual_seed(seed)
    t_start = time.perf_counter()

    # ---------------------------------------------------------------- keras.io's code from here
    # Parameters for the model and dataset.
    TRAINING_SIZE = cfg["training_size"]
    DIGITS = cfg["digits"]
    REVERSE = reverse

    # Maximum length of input is 'int + int' (e.g., '345+678'). Maximum length of
    # int is DIGITS.
    MAXLEN = DIGITS + 1 + DIGITS

    # All the numbers, plus sign and space for padding.
    chars = "0123456789+ "
    ctable = CharacterTable(chars)

    questions = []
    expected = []
    seen = set()
    if verbose:
        print("Generating data...")
    while len(questions) < TRAINING_SIZE:
        f = lambda: int(  # noqa: E731 (as keras.io writes it)
            "".join(
                np.random.choice(list("0123456789"))
                for i in range(np.random.randint(1, DIGITS + 1))
            )
        )
        a, b = f(), f()
        # Skip any addition questions we've already seen
        # Also skip any such that x+Y == Y+x (hence the sorting).
        key = tuple(sorted((a, b)))
        if key in seen:
            continue
        seen.add(key)
        # Pad the data with spaces such that it is always MAXLEN.
        q = "{}+{}".format(a, b)
        query = q + " " * (MAXLEN - len(q))
        ans = str(a + b)
        # Answers can be of maximum size DIGITS + 1.
        ans += " " * (DIGITS + 1 - len(ans))
        if REVERSE:
            # Reverse the query, e.g., '12+345  ' becomes '  543+21'. (Note the
            # space used for padding.)
            query = query[::-1]
        questions.append(query)
        expected.append(ans)
    if verbose:
        print("Total questions:", len(questions))

    # Vectorize the data
    x = np.zeros((len(questions), MAXLEN, len(chars)), dtype=np.bool)
    y = np.zeros((len(questions), DIGITS + 1, len(chars)), dtype=np.bool)
    for i, sentence in enumerate(questions):
        x[i] = ctable.encode(sentence, MAXLEN)
    for i, sentence in enumerate(expected):
        y[i] = ctable.encode(sentence, DIGITS + 1)

    # Shuffle (x, y) in unison as the later parts of x will almost all be larger
    # digits.
    indices = np.arange(len(y))
    np.random.shuffle(indices)
    x = x[indices]
    y = y[indices]

    # Explicitly set apart 10% for validation data that we never train over.
    split_at = len(x) - len(x) // 10
    (x_train, x_val) = x[:split_at], x[split_at:]
    (y_train, y_val) = y[:split_at], y[split_at:]

    # Build the model
    num_layers = 1  # Try to add more LSTM layers!

    model = keras.Sequential()
    # "Encode" the input sequence using a LSTM, producing an output of size 128.
    # Note: In a situation where your input sequences have a variable length,
    # use input_shape=(None, num_feature).
    model.add(layers.LSTM(128, input_shape=(MAXLEN, len(chars))))
    # As the decoder RNN's input, repeatedly provide with the last output of
    # RNN for each time step. Repeat 'DIGITS + 1' times as that's the maximum
    # length of output, e.g., when DIGITS=3, max output is 999+999=1998.
    model.add(layers.RepeatVector(DIGITS + 1))
    # The decoder RNN could be multiple layers stacked or a single layer.
    for _ in range(num_layers):
        # By setting return_sequences to True, return not only the last output but
        # all the outputs so far in the form of (num_samples, timesteps,
        # output_dim).
        model.add(layers.LSTM(128, return_sequences=True))

    # Apply a dense layer to the every temporal slice of an input. For each of step
    # of the output sequence, decide which character should be chosen.
    model.add(layers.Dense(len(chars), activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    if verbose:
        model.summary()

    # Train the model
    epochs = cfg["epochs"] if epochs is None else epochs
    batch_size = cfg["batch_size"]

    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    # Train the model each generation and show predictions against the validation
    # dataset.
    for epoch in range(1, epochs):
        if verbose:
            print()
            print("Iteration", epoch)
        h = model.fit(
            x_train,
            y_train,
            batch_size=batch_size,
            epochs=1,
            validation_data=(x_val, y_val),
            verbose=verbose,
        )
        for k in history:
            history[k].extend(h.history[k])
        # Select 10 samples from the validation set at random so we can visualize
        # errors.
        for i in range(show):
            ind = np.random.randint(0, len(x_val))
            rowx, rowy = x_val[np.array([ind])], y_val[np.array([ind])]
            preds = np.argmax(model.predict(rowx), axis=-1)
            q = ctable.decode(rowx[0])
            correct = ctable.decode(rowy[0])
            guess = ctable.decode(preds[0], calc_argmax=False)
            print("Q", q[::-1] if REVERSE else q, end=" ")
            print("T", correct, end=" ")
            if correct == guess:
                print("☑ " + guess)
            else:
                print("☒ " + guess)
    # ---------------------------------------------------------------- keras.io's code ends here

    # Beyond keras.io: whole-answer accuracy on the validation set (every character right).
    preds = model.predict(x_val, batch_size=256)
    exact = float(np.mean(np.all(preds.argmax(-1) == y_val.argmax(-1), axis=-1)))
    guesses = [ctable.decode(p) for p in preds[:5]]
    return {
        "example": "addition_rnn",
        "size": size,
        "training_size": TRAINING_SIZE,
        "digits": DIGITS,
        "reverse": REVERSE,
        "epochs_run": len(history["loss"]),
        "loss": history["loss"][-1],
        "accuracy": history["accuracy"][-1],
        "val_loss": history["val_loss"][-1],
        "val_accuracy": history["val_accuracy"][-1],
        "val_exact_match": exact,
        "loss_history": history["loss"],
        "prediction_shape": tuple(preds.shape),
        "sample_questions": [ctable.decode(q)[::-1] if REVERSE else ctable.decode(q) for q in x_val[:5]],
        "sample_guesses": guesses,
        "wall_s": time.perf_counter() - t_start,
    }


def cli(argv=None):
    ap = example_parser(__doc__, SIZES, epochs_help="override the size's epochs (keras.io: 30)")
    ap.add_argument("--no-reverse", action="store_true", help="keras.io's REVERSE = False")
    ap.add_argument("--show", type=int, default=10, help="validation questions printed per epoch")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    r = main(a.size, a.epochs, reverse=not a.no_reverse, seed=a.seed, verbose=a.verbose, show=a.show)
    print_report("keras_addition_rnn", a.size, r, skip=("loss_history",))
    return r


if __name__ == "__main__":
    cli()
