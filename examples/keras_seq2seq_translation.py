"""Keras example "Character-level recurrent sequence-to-sequence model", on lstmkit, English -> Spanish.

Port of keras.io/examples/nlp/lstm_seq2seq (fchollet), with the Functional API: an encoder
``keras.Input`` -> ``layers.LSTM(latent_dim, return_state=True)`` whose states start a decoder
``LSTM(latent_dim, return_sequences=True, return_state=True)`` (``initial_state=encoder_states``),
a softmax ``Dense`` per step, the training model ``keras.Model([encoder_inputs, decoder_inputs],
decoder_outputs)`` trained with teacher forcing, saved and loaded again; then the inference encoder
and decoder models built from the loaded model's layers and the greedy character-by-character
decoding loop.

The Keras code is unchanged but for its imports (``from lstmkit import keras``) and the data:
the Tatoeba/manythings.org English-Spanish pairs (``anki_spa_eng/spa.tsv`` in the shared data
folder; CC-BY 2.0 France, attribution: tatoeba.org and manythings.org/anki, each line's third column
names its contributors) instead of the downloaded English-French file, and the model file in a
temporary folder instead of the current one. What differs from keras.io is listed in docs/keras.md.

Run:  .venv/bin/python examples/keras_seq2seq_translation.py --size full
      .venv/bin/python examples/keras_seq2seq_translation.py --size tiny
      (--data PATH/spa.tsv, or LSTMKIT_DATA=/path/to/shared/data)
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lstmkit import keras

from _example_support import data_root, example_parser, print_report  # noqa: E402

#: "full": keras.io's configuration (the first 10,000 pairs, latent_dim 256, batch 64, rmsprop,
#: validation_split 0.2) for 22 epochs (keras.io: 100). "tiny": the first 300 pairs, latent_dim 64,
#: 8 epochs.
SIZES = {
    "tiny": dict(num_samples=300, latent_dim=64, batch_size=64, epochs=8, decode=5),
    "full": dict(num_samples=10000, latent_dim=256, batch_size=64, epochs=22, decode=20),
}


def default_data_path() -> Path:
    """``$LSTMKIT_DATA/anki_spa_eng/spa.tsv``, else ``../shared/data/anki_spa_eng/spa.tsv``."""
    return data_root() / "anki_spa_eng" / "spa.tsv"




def main(size="tiny", epochs=None, data_path=None, seed=0, verbose=0, workdir=None):
    """Train the seq2seq model at ``size`` ("tiny" or "full"), decode some sentences; return metrics.

    ``workdir``: where the model file is saved and loaded (default: a temporary folder).
    """
    cfg = SIZES[size]
    np.random.seed(seed)
    torch.manual_seed(seed)
    t_start = time.perf_counter()
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory()
        workdir = tmp.name

    # ---------------------------------------------------------------- keras.io's code from here
    # Configuration
    batch_size = cfg["batch_size"]  # Batch size for training.
    epochs = cfg["epochs"] if epochs is None else epochs  # Number of epochs to train for.
    latent_dim = cfg["latent_dim"]  # Latent dimensionality of the encoding space.
    num_samples = cfg["num_samples"]  # Number of samples to train on.
    # Path to the data txt file on disk.
    data_path = str(data_path or default_data_path())

    # Vectorize the data.
    input_texts = []
    target_texts = []
    input_characters = set()
    target_characters = set()
    with open(data_path, "r", encoding="utf-8") as f:
        lines = f.read().split("\n")
    for line in lines[: min(num_samples, len(lines) - 1)]:
        input_text, target_text, _ = line.split("\t")
        # We use "tab" as the "start sequence" character
        # for the targets, and "\n" as "end sequence" character.
        target_text = "\t" + target_text + "\n"
        input_texts.append(input_text)
        target_texts.append(target_text)
        for char in input_text:
            if char not in input_characters:
                input_characters.add(char)
        for char in target_text:
            if char not in target_characters:
                target_characters.add(char)

    input_characters = sorted(list(input_characters))
    target_characters = sorted(list(target_characters))
    num_encoder_tokens = len(input_characters)
    num_decoder_tokens = len(target_characters)
    max_encoder_seq_length = max([len(txt) for txt in input_texts])
    max_decoder_seq_length = max([len(txt) for txt in target_texts])

    if verbose:
        print("Number of samples:", len(input_texts))
        print("Number of unique input tokens:", num_encoder_tokens)
        print("Number of unique output tokens:", num_decoder_tokens)
        print("Max sequence length for inputs:", max_encoder_seq_length)
        print("Max sequence length for outputs:", max_decoder_seq_length)

    input_token_index = dict([(char, i) for i, char in enumerate(input_characters)])
    target_token_index = dict([(char, i) for i, char in enumerate(target_characters)])

    encoder_input_data = np.zeros(
        (len(input_texts), max_encoder_seq_length, num_encoder_tokens),
        dtype="float32",
    )
    decoder_input_data = np.zeros(
        (len(input_texts), max_decoder_seq_length, num_decoder_tokens),
        dtype="float32",
    )
    decoder_target_data = np.zeros(
        (len(input_texts), max_decoder_seq_length, num_decoder_tokens),
        dtype="float32",
    )

    for i, (input_text, target_text) in enumerate(zip(input_texts, target_texts)):
        for t, char in enumerate(input_text):
            encoder_input_data[i, t, input_token_index[char]] = 1.0
        encoder_input_data[i, t + 1 :, input_token_index[" "]] = 1.0
        for t, char in enumerate(target_text):
            # decoder_target_data is ahead of decoder_input_data by one timestep
            decoder_input_data[i, t, target_token_index[char]] = 1.0
            if t > 0:
                # decoder_target_data will be ahead by one timestep
                # and will not include the start character.
                decoder_target_data[i, t - 1, target_token_index[char]] = 1.0
        decoder_input_data[i, t + 1 :, target_token_index[" "]] = 1.0
        decoder_target_data[i, t:, target_token_index[" "]] = 1.0

    # Build the model

    # Define an input sequence and process it.
    encoder_inputs = keras.Input(shape=(None, num_encoder_tokens))
    encoder = keras.layers.LSTM(latent_dim, return_state=True)
    encoder_outputs, state_h, state_c = encoder(encoder_inputs)

    # We discard `encoder_outputs` and only keep the states.
    encoder_states = [state_h, state_c]

    # Set up the decoder, using `encoder_states` as initial state.
    decoder_inputs = keras.Input(shape=(None, num_decoder_tokens))

    # We set up our decoder to return full output sequences,
    # and to return internal states as well. We don't use the
    # return states in the training model, but we will use them in inference.
    decoder_lstm = keras.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = keras.layers.Dense(num_decoder_tokens, activation="softmax")
    decoder_outputs = decoder_dense(decoder_outputs)

    # Define the model that will turn
    # `encoder_input_data` & `decoder_input_data` into `decoder_target_data`
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)

    # Train the model
    model.compile(
        optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(
        [encoder_input_data, decoder_input_data],
        decoder_target_data,
        batch_size=batch_size,
        epochs=epochs,
        validation_split=0.2,
        verbose=verbose,
    )
    # Save model
    model.save(os.path.join(workdir, "s2s_model.keras"))

    # Run inference (sampling)

    # Define sampling models
    # Restore the model and construct the encoder and decoder.
    model = keras.models.load_model(os.path.join(workdir, "s2s_model.keras"))

    encoder_inputs = model.input[0]  # input_1
    encoder_outputs, state_h_enc, state_c_enc = model.layers[2].output  # lstm_1
    encoder_states = [state_h_enc, state_c_enc]
    encoder_model = keras.Model(encoder_inputs, encoder_states)

    decoder_inputs = model.input[1]  # input_2
    decoder_state_input_h = keras.Input(shape=(latent_dim,))
    decoder_state_input_c = keras.Input(shape=(latent_dim,))
    decoder_states_inputs = [decoder_state_input_h, decoder_state_input_c]
    decoder_lstm = model.layers[3]
    decoder_outputs, state_h_dec, state_c_dec = decoder_lstm(
        decoder_inputs, initial_state=decoder_states_inputs
    )
    decoder_states = [state_h_dec, state_c_dec]
    decoder_dense = model.layers[4]
    decoder_outputs = decoder_dense(decoder_outputs)
    decoder_model = keras.Model(
        [decoder_inputs] + decoder_states_inputs, [decoder_outputs] + decoder_states
    )

    # Reverse-lookup token index to decode sequences back to
    # something readable.
    reverse_input_char_index = dict((i, char) for char, i in input_token_index.items())  # noqa: F841
    reverse_target_char_index = dict((i, char) for char, i in target_token_index.items())

    def decode_sequence(input_seq):
        # Encode the input as state vectors.
        states_value = encoder_model.predict(input_seq, verbose=0)

        # Generate empty target sequence of length 1.
        target_seq = np.zeros((1, 1, num_decoder_tokens))
        # Populate the first character of target sequence with the start character.
        target_seq[0, 0, target_token_index["\t"]] = 1.0

        # Sampling loop for a batch of sequences
        # (to simplify, here we assume a batch of size 1).
        stop_condition = False
        decoded_sentence = ""
        while not stop_condition:
            output_tokens, h, c = decoder_model.predict(
                [target_seq] + states_value, verbose=0
            )

            # Sample a token
            sampled_token_index = np.argmax(output_tokens[0, -1, :])
            sampled_char = reverse_target_char_index[sampled_token_index]
            decoded_sentence += sampled_char

            # Exit condition: either hit max length
            # or find stop character.
            if sampled_char == "\n" or len(decoded_sentence) > max_decoder_seq_length:
                stop_condition = True

            # Update the target sequence (of length 1).
            target_seq = np.zeros((1, 1, num_decoder_tokens))
            target_seq[0, 0, sampled_token_index] = 1.0

            # Update states
            states_value = [h, c]
        return decoded_sentence

    # You can now generate decoded sentences as such:
    decoded = []
    for seq_index in range(cfg["decode"]):
        # Take one sequence (part of the training set)
        # for trying out decoding.
        input_seq = encoder_input_data[seq_index : seq_index + 1]
        decoded_sentence = decode_sequence(input_seq)
        print("-")
        print("Input sentence:", input_texts[seq_index])
        print("Decoded sentence:", decoded_sentence)
        decoded.append((input_texts[seq_index], decoded_sentence))
    # ---------------------------------------------------------------- keras.io's code ends here

    # Beyond keras.io: decode a few held-out (validation_split) sentences too, and the share of
    # decoded sentences equal to one of the reference translations of their English sentence.
    references: dict[str, set[str]] = {}
    for src, tgt in zip(input_texts, target_texts):
        references.setdefault(src, set()).add(tgt[1:])
    n_val = int(len(input_texts) * 0.2)
    held_out = []
    for seq_index in range(len(input_texts) - n_val, len(input_texts), max(1, n_val // cfg["decode"]))[: cfg["decode"]]:
        held_out.append((input_texts[seq_index], decode_sequence(encoder_input_data[seq_index : seq_index + 1])))
    exact = float(np.mean([out in references[src] for src, out in decoded]))
    if tmp is not None:
        tmp.cleanup()
    h = history.history
    return {
        "example": "seq2seq_translation",
        "size": size,
        "samples": len(input_texts),
        "encoder_tokens": num_encoder_tokens,
        "decoder_tokens": num_decoder_tokens,
        "max_encoder_seq_length": max_encoder_seq_length,
        "max_decoder_seq_length": max_decoder_seq_length,
        "params": model.count_params(),
        "epochs_run": len(h["loss"]),
        "loss": h["loss"][-1],
        "accuracy": h["accuracy"][-1],
        "val_loss": h["val_loss"][-1],
        "val_accuracy": h["val_accuracy"][-1],
        "loss_history": [float(v) for v in h["loss"]],
        "decoded": decoded,
        "decoded_held_out": held_out,
        "train_decoded_exact": exact,
        "wall_s": time.perf_counter() - t_start,
    }


def cli(argv=None):
    ap = example_parser(__doc__, SIZES, epochs_help="override the size's epochs (keras.io: 100)", data_help="anki_spa_eng/spa.tsv (default: ../shared/data/...)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    r = main(a.size, a.epochs, data_path=a.data, seed=a.seed, verbose=a.verbose)
    print_report("keras_seq2seq_translation", a.size, r, skip=("loss_history", "decoded", "decoded_held_out"))
    print("  held-out sentences (the last 20%, never trained on):")
    for src, out in r["decoded_held_out"]:
        print(f"    {src!r} -> {out.strip()!r}")
    return r


if __name__ == "__main__":
    cli()
