"""Keras 3 ``.keras`` files <-> lstmkit Sequential (lstmkit.interop.keras), checked against real Keras.

Parity to 1e-5 both ways on identical weights and inputs (masked inputs included), equal parameter
counts, the same file layout Keras itself writes, and one-line errors for what cannot be mapped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="Keras 3 is not installed (pip install 'lstmkit[keras]')")
h5py = pytest.importorskip("h5py", reason="h5py is not installed (pip install 'lstmkit[keras]')")
if not keras.__version__.startswith("3.") or keras.backend.backend() != "torch":
    pytest.skip(f"needs Keras 3 on the torch backend, found Keras {keras.__version__} on "
                f"{keras.backend.backend()}", allow_module_level=True)

from lstmkit import layers as lk  # noqa: E402
from lstmkit.errors import ConfigError, LstmkitWarning, ModelFileError  # noqa: E402
from lstmkit.interop.keras import ACTIVATIONS, load_keras, save_keras  # noqa: E402
from lstmkit.models import Sequential  # noqa: E402

# Keras's torch backend converts tensors with np.array(x, copy=False) (its own deprecation, not ours).
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

L = keras.layers
TOL = 1e-5
VOCAB = 40


def token_batch(seed: int = 0, n: int = 7, length: int = 9) -> np.ndarray:
    """Token ids with padding zeros: after the tokens, before them, a hole, and a row of padding only."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCAB, (n, length))
    x[1, :4] = 0
    x[2, -3:] = 0
    x[3, 3:5] = 0
    x[4, :] = 0
    return x.astype("int32")


def keras_model(layers: list, input_shape: tuple, seed: int = 0):
    dtype = "int32" if isinstance(layers[0], L.Embedding) else "float32"
    model = keras.Sequential([keras.Input(input_shape, dtype=dtype), *layers])
    rng = np.random.default_rng(seed)
    for w in model.weights:  # random biases too, so a misplaced bias shows
        w.assign(rng.normal(0.0, 0.4, tuple(w.shape)).astype("float32"))
    return model


def randomize(model: Sequential, seed: int = 0) -> Sequential:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.4)
    return model


def keras_predict(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x, verbose=0))


def assert_close(got: np.ndarray, want: np.ndarray, where: str = "") -> float:
    assert got.shape == want.shape, (where, got.shape, want.shape)
    diff = float(np.max(np.abs(got - want)))
    assert diff <= TOL, f"{where}: max difference {diff:.3g}"
    return diff


# ------------------------------------------------------------------ Keras -> lstmkit
KERAS_CASES = {
    "embedding_lstm": lambda: [L.Embedding(VOCAB, 8, mask_zero=True), L.LSTM(6)],
    "lstm_no_bias_backwards": lambda: [L.Embedding(VOCAB, 8, mask_zero=True), L.LSTM(5, use_bias=False, go_backwards=True)],
    "stacked_lstm": lambda: [L.Embedding(VOCAB, 8, mask_zero=True), L.LSTM(6, return_sequences=True), L.LSTM(4)],
    "gru": lambda: [L.Embedding(VOCAB, 8, mask_zero=True), L.GRU(6)],
    "stacked_gru": lambda: [L.Embedding(VOCAB, 8, mask_zero=True), L.GRU(5, return_sequences=True), L.GRU(3, use_bias=False)],
    "simple_rnn": lambda: [L.Embedding(VOCAB, 8, mask_zero=True), L.SimpleRNN(6, return_sequences=True), L.SimpleRNN(4)],
    "mixed_stack": lambda: [L.Embedding(VOCAB, 8, mask_zero=True), L.LSTM(6, return_sequences=True),
                            L.GRU(5, return_sequences=True), L.SimpleRNN(4), L.Dropout(0.3), L.Dense(3, activation="softmax")],
    "bidirectional_stack": lambda: [L.Embedding(VOCAB, 8, mask_zero=True), L.Bidirectional(L.LSTM(5, return_sequences=True)),
                                    L.Bidirectional(L.GRU(3), merge_mode="ave"), L.Dense(2, activation="tanh")],
    "average_pooling": lambda: [L.Embedding(VOCAB, 8, mask_zero=True), L.Bidirectional(L.SimpleRNN(5, return_sequences=True), merge_mode="mul"),
                                L.GlobalAveragePooling1D(), L.Dense(3, activation="relu"), L.Dense(1, activation="sigmoid")],
    "max_pooling_no_mask": lambda: [L.Embedding(VOCAB, 8), L.LSTM(5, return_sequences=True), L.GlobalMaxPooling1D(),
                                    L.Dense(2, activation="softmax")],
    "per_step_output": lambda: [L.Embedding(VOCAB, 8, mask_zero=True),
                                L.LSTM(5, return_sequences=True, zero_output_for_mask=True), L.Dense(3, activation="softmax")],
}


@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_keras_to_lstmkit(case, tmp_path):
    kmodel = keras_model(KERAS_CASES[case](), (None,))
    path = tmp_path / "model.keras"
    kmodel.save(path)
    model = load_keras(path)
    x = token_batch()
    want = keras_predict(kmodel, x)
    if case == "average_pooling":
        # Keras averages a row of padding only as 0/0 = NaN; lstmkit gives zeros. Compare the real rows.
        assert np.isnan(want[4]).all() and not np.isnan(model.predict(x)).any()
        keep = [i for i in range(len(x)) if i != 4]
        x, want = x[keep], want[keep]
    assert_close(model.predict(x), want, case)
    assert model.count_params() == kmodel.count_params()
    assert [layer.name for layer in model.layers] == [layer.name for layer in kmodel.layers]


def test_per_step_output_differs_only_at_padding(tmp_path):
    """Without zero_output_for_mask Keras repeats the last real output at padded steps; lstmkit outputs
    zeros there. Every real step agrees."""
    kmodel = keras_model([L.Embedding(VOCAB, 8, mask_zero=True), L.GRU(5, return_sequences=True)], (None,))
    kmodel.save(tmp_path / "m.keras")
    model = load_keras(tmp_path / "m.keras")
    x = token_batch()
    real = x != 0
    got, want = model.predict(x), keras_predict(kmodel, x)
    assert_close(got[real], want[real], "real steps")
    assert np.all(got[~real] == 0.0)


def test_float_inputs_without_embedding(tmp_path):
    kmodel = keras_model([L.LSTM(6, return_sequences=True), L.Bidirectional(L.GRU(4), merge_mode="sum"), L.Dense(2)], (11, 3))
    kmodel.save(tmp_path / "m.keras")
    model = load_keras(tmp_path / "m.keras")
    x = np.random.default_rng(1).normal(size=(5, 11, 3)).astype("float32")
    assert model.input_shape == (None, 11, 3)
    assert_close(model.predict(x), keras_predict(kmodel, x))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_merge_modes_both_ways(merge_mode, tmp_path):
    kmodel = keras_model([L.Embedding(VOCAB, 8, mask_zero=True),
                          L.Bidirectional(L.LSTM(5, return_sequences=True), merge_mode=merge_mode),
                          L.Bidirectional(L.LSTM(4), merge_mode=merge_mode)], (None,))
    kmodel.save(tmp_path / "k.keras")
    model = load_keras(tmp_path / "k.keras")
    x = token_batch()
    assert_close(model.predict(x), keras_predict(kmodel, x), f"keras->lstmkit {merge_mode}")

    mine = randomize(Sequential([lk.Embedding(VOCAB, 8, mask_zero=True),
                                 lk.Bidirectional(lk.LSTM(5, return_sequences=True), merge_mode=merge_mode),
                                 lk.Bidirectional(lk.LSTM(4), merge_mode=merge_mode)]), seed=3)
    save_keras(mine, tmp_path / "l.keras")
    back = keras.saving.load_model(tmp_path / "l.keras")
    assert_close(keras_predict(back, x), mine.predict(x), f"lstmkit->keras {merge_mode}")
    assert back.count_params() == mine.count_params()


def test_dense_activations_both_ways(tmp_path):
    x = np.random.default_rng(2).normal(size=(6, 5)).astype("float32") * 2
    for keras_name in sorted(ACTIVATIONS):
        kmodel = keras_model([L.Dense(4, activation=keras_name), L.Dense(3, activation=keras_name)], (5,))
        kmodel.save(tmp_path / "k.keras")
        model = load_keras(tmp_path / "k.keras")
        assert_close(model.predict(x), keras_predict(kmodel, x), f"keras {keras_name}")

        mine = randomize(Sequential([lk.Dense(4, activation=ACTIVATIONS[keras_name], input_shape=(5,)), lk.Dense(3)]))
        save_keras(mine, tmp_path / "l.keras")
        back = keras.saving.load_model(tmp_path / "l.keras")
        assert_close(keras_predict(back, x), mine.predict(x), f"lstmkit {keras_name}")


# ------------------------------------------------------------------ lstmkit -> Keras
LSTMKIT_CASES = {
    "embedding_lstm": lambda: [lk.Embedding(VOCAB, 8, mask_zero=True), lk.LSTM(6)],
    "stacked_mixed": lambda: [lk.Embedding(VOCAB, 8, mask_zero=True), lk.LSTM(6, return_sequences=True),
                              lk.GRU(5, return_sequences=True), lk.SimpleRNN(4, use_bias=False), lk.Dropout(0.2),
                              lk.Dense(3, activation="softmax")],
    "gru_backwards": lambda: [lk.Embedding(VOCAB, 8, mask_zero=True), lk.GRU(5, go_backwards=True), lk.Dense(2)],
    "bidirectional_pooling": lambda: [lk.Embedding(VOCAB, 8, mask_zero=True), lk.Bidirectional(lk.GRU(4, return_sequences=True)),
                                      lk.GlobalAveragePooling1D(), lk.Dense(1, activation="sigmoid")],
    "per_step_output": lambda: [lk.Embedding(VOCAB, 8, mask_zero=True), lk.LSTM(5, return_sequences=True),
                                lk.SimpleRNN(3, return_sequences=True), lk.Dense(2, activation="softmax")],
    "max_pooling_no_mask": lambda: [lk.Embedding(VOCAB, 8, input_length=9), lk.SimpleRNN(4, return_sequences=True),
                                    lk.GlobalMaxPooling1D(), lk.Dense(2)],
}


@pytest.mark.parametrize("case", sorted(LSTMKIT_CASES))
def test_lstmkit_to_keras(case, tmp_path):
    model = randomize(Sequential(LSTMKIT_CASES[case]()), seed=1)
    path = tmp_path / "model.keras"
    save_keras(model, path)
    kmodel = keras.saving.load_model(path)
    x = token_batch()
    got = model.predict(x)
    want = keras_predict(kmodel, x)
    if case == "bidirectional_pooling":  # Keras: NaN for the all-padding row (0/0), lstmkit: zeros
        keep = [i for i in range(len(x)) if i != 4]
        got, want = got[keep], want[keep]
    assert_close(want, got, case)
    assert kmodel.count_params() == model.count_params()
    # ... and back: the same weights again
    again = load_keras(path)
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_article_model_both_ways(tmp_path):
    """The article's model: Embedding(10000, 128) -> LSTM(128) -> Dense(1, sigmoid)."""
    x = np.random.default_rng(5).integers(1, 10000, (8, 40)).astype("int32")
    x[:3, :15] = 0  # padded reviews
    kmodel = keras_model([L.Embedding(10000, 128, mask_zero=True), L.LSTM(128), L.Dense(1, activation="sigmoid")],
                         (None,), seed=5)
    for w in kmodel.weights:  # Keras-sized weights, not saturating: the probabilities stay informative
        w.assign(np.asarray(w.numpy()) * 0.25)
    kmodel.save(tmp_path / "k.keras")
    model = load_keras(tmp_path / "k.keras")
    assert model.count_params() == kmodel.count_params() == 1_411_713
    assert_close(model.predict(x), keras_predict(kmodel, x), "keras->lstmkit")

    mine = Sequential([lk.Embedding(10000, 128, mask_zero=True), lk.LSTM(128), lk.Dense(1, activation="sigmoid")])
    save_keras(mine, tmp_path / "l.keras")
    back = keras.saving.load_model(tmp_path / "l.keras")
    assert back.count_params() == mine.count_params()
    assert_close(keras_predict(back, x), mine.predict(x), "lstmkit->keras")


def test_file_layout_matches_what_keras_writes(tmp_path):
    """save_keras writes the h5 groups, variable shapes and layer configs Keras writes for the same model."""
    kmodel = keras_model([L.Embedding(VOCAB, 8, mask_zero=True), L.Bidirectional(L.LSTM(5, return_sequences=True)),
                          L.GRU(4, return_sequences=True, zero_output_for_mask=True), L.SimpleRNN(3),
                          L.Dropout(0.5), L.Dense(2, activation="softmax")], (None,))
    kmodel.save(tmp_path / "k.keras")
    save_keras(load_keras(tmp_path / "k.keras"), tmp_path / "l.keras")

    def listing(path: Path) -> list:
        out: list = []
        with zipfile.ZipFile(path) as zf, zf.open("model.weights.h5") as raw, h5py.File(raw, "r") as h5:
            h5.visititems(lambda name, obj: out.append((name, getattr(obj, "shape", None))))
        return sorted(out)

    assert listing(tmp_path / "l.keras") == listing(tmp_path / "k.keras")
    with zipfile.ZipFile(tmp_path / "l.keras") as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
    theirs = kmodel.get_config()["layers"]
    ours = keras.saving.load_model(tmp_path / "l.keras").get_config()["layers"]

    def clean(obj):
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items() if k != "shared_object_id"}
        return [clean(v) for v in obj] if isinstance(obj, (list, tuple)) else obj

    assert clean(ours[1:]) == clean(theirs[1:])  # every layer's config, names included (not the InputLayer's)
    for a, b in zip(kmodel.weights, keras.saving.load_model(tmp_path / "l.keras").weights):
        np.testing.assert_array_equal(np.asarray(a.numpy()), np.asarray(b.numpy()))


def test_training_only_settings_warn_and_still_match(tmp_path):
    kmodel = keras_model([L.Embedding(VOCAB, 8, mask_zero=True), L.GRU(5, recurrent_dropout=0.2),
                          L.Dense(2, kernel_regularizer="l2")], (None,))
    kmodel.save(tmp_path / "m.keras")
    with pytest.warns(LstmkitWarning, match=r"dropped: dense\w* \(Dense\): kernel_regularizer$"):
        model = load_keras(tmp_path / "m.keras")
    assert model.layers[1].recurrent_dropout == 0.2  # kept (issue 19): GRU trains with it, as in Keras
    assert_close(model.predict(token_batch()), keras_predict(kmodel, token_batch()))
    model.save(tmp_path / "m.lstmkit")  # an imported model is an ordinary lstmkit model


def test_imports_without_keras(tmp_path):
    """A user without Keras loads a .keras file: lstmkit reads it with zipfile, json and h5py only."""
    kmodel = keras_model([L.Embedding(VOCAB, 8, mask_zero=True), L.LSTM(4)], (None,))
    kmodel.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", token_batch())
    np.save(tmp_path / "want.npy", keras_predict(kmodel, token_batch()))
    script = (
        "import sys, numpy as np\n"
        "sys.modules['keras'] = None\n"  # any 'import keras' now fails
        "from lstmkit.interop.keras import load_keras, save_keras\n"
        f"m = load_keras({str(tmp_path / 'm.keras')!r})\n"
        f"d = np.abs(m.predict(np.load({str(tmp_path / 'x.npy')!r})) - np.load({str(tmp_path / 'want.npy')!r})).max()\n"
        f"save_keras(m, {str(tmp_path / 'back.keras')!r})\n"
        "assert 'keras' not in [k for k, v in sys.modules.items() if v is not None]\n"
        "print(d)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip()) <= TOL
    assert_close(keras_predict(keras.saving.load_model(tmp_path / "back.keras"), token_batch()),
                 keras_predict(kmodel, token_batch()))


# ------------------------------------------------------------------ refusals and damaged files
def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and len(text) < 400, text
    return text


@pytest.mark.parametrize("layers, name, cls", [
    (lambda: [L.Conv1D(4, 3, name="conv_features")], "conv_features", "Conv1D"),
    (lambda: [L.LSTM(4, return_sequences=True), L.LayerNormalization(name="norm")], "norm", "LayerNormalization"),
])
def test_unmapped_layer_is_refused(layers, name, cls, tmp_path):
    keras_model(layers(), (9, 3)).save(tmp_path / "m.keras")
    with pytest.raises(ConfigError) as exc:
        load_keras(tmp_path / "m.keras")
    text = one_line(exc)
    assert f"'{name}' ({cls})" in text and "LSTM" in text and "Bidirectional" in text and "m.keras" in text


@pytest.mark.parametrize("layers, needle", [
    (lambda: [L.LSTM(4, activation="relu", name="relu_lstm")], r"'relu_lstm' \(LSTM\).*activation 'relu'"),
    (lambda: [L.LSTM(4), L.Dense(2, activation="leaky_relu", name="leaky")], r"'leaky' \(Dense\).*'leaky_relu'"),
    (lambda: [L.Bidirectional(L.LSTM(4), merge_mode=None, name="bi")], r"'bi' \(Bidirectional\).*merge_mode None"),
])
def test_unmapped_setting_is_refused(layers, needle, tmp_path):
    keras_model(layers(), (9, 3)).save(tmp_path / "m.keras")
    with pytest.raises(ConfigError, match=needle) as exc:
        load_keras(tmp_path / "m.keras")
    one_line(exc)


@pytest.mark.filterwarnings("ignore:Layer 'pool' .*does not support masking:UserWarning")
def test_max_pooling_over_a_mask_is_refused(tmp_path):
    keras_model([L.Embedding(VOCAB, 4, mask_zero=True), L.LSTM(3, return_sequences=True),
                 L.GlobalMaxPooling1D(name="pool")], (None,)).save(tmp_path / "m.keras")
    with pytest.raises(ConfigError, match=r"'pool' \(GlobalMaxPooling1D\).*mask") as exc:
        load_keras(tmp_path / "m.keras")
    one_line(exc)
    mine = Sequential([lk.Embedding(VOCAB, 4, mask_zero=True), lk.LSTM(3, return_sequences=True), lk.GlobalMaxPooling1D()])
    with pytest.raises(ConfigError, match="GlobalMaxPooling1D.*mask"):
        save_keras(mine, tmp_path / "l.keras")
    assert not (tmp_path / "l.keras").exists()


def test_reversed_sequence_under_a_mask_is_refused(tmp_path):
    """Keras keeps a lone go_backwards layer's mask in forward order for its reversed outputs; lstmkit
    reverses it. Refused both ways (inside Bidirectional, and without return_sequences, they agree)."""
    keras_model([L.Embedding(VOCAB, 4, mask_zero=True), L.GRU(3, go_backwards=True, return_sequences=True, name="rev"),
                 L.LSTM(2)], (None,)).save(tmp_path / "m.keras")
    with pytest.raises(ConfigError, match=r"'rev' \(GRU\).*go_backwards=True with return_sequences=True") as exc:
        load_keras(tmp_path / "m.keras")
    one_line(exc)
    mine = Sequential([lk.Embedding(VOCAB, 4, mask_zero=True), lk.LSTM(3, go_backwards=True, return_sequences=True),
                       lk.GlobalAveragePooling1D()])
    with pytest.raises(ConfigError, match="go_backwards"):
        save_keras(mine, tmp_path / "l.keras")
    assert not (tmp_path / "l.keras").exists()


def test_functional_model_is_refused(tmp_path):
    inp = keras.Input((5,))
    keras.Model(inp, L.Dense(2)(inp)).save(tmp_path / "m.keras")
    with pytest.raises(ConfigError, match="Functional.*Sequential") as exc:
        load_keras(tmp_path / "m.keras")
    one_line(exc)


def test_damaged_files(tmp_path):
    keras_model([L.Embedding(VOCAB, 8, mask_zero=True), L.LSTM(6, name="lstm")], (None,)).save(tmp_path / "good.keras")
    data = (tmp_path / "good.keras").read_bytes()
    cases = {
        "truncated.keras": data[: len(data) // 2],
        "tail_cut.keras": data[:-30],
        "not_zip.keras": b"this is a text file, not a keras model\n" * 10,
        "empty.keras": b"",
        "legacy.keras": b"\x89HDF\r\n\x1a\n" + b"\0" * 100,
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelFileError) as exc:
            load_keras(tmp_path / name)
        assert name in one_line(exc)
    # a zip that is not a Keras model, and one whose weights do not fit its config
    with zipfile.ZipFile(tmp_path / "other.keras", "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ModelFileError, match="without config.json") as exc:
        load_keras(tmp_path / "other.keras")
    one_line(exc)
    with zipfile.ZipFile(tmp_path / "good.keras") as src, zipfile.ZipFile(tmp_path / "edited.keras", "w") as dst:
        for item in src.namelist():
            content = src.read(item)
            if item == "config.json":
                config = json.loads(content)
                config["config"]["layers"][2]["config"]["units"] = 7
                content = json.dumps(config).encode()
            dst.writestr(item, content)
    with pytest.raises(ModelFileError, match=r"'lstm' \(LSTM\).*shapes") as exc:
        load_keras(tmp_path / "edited.keras")
    one_line(exc)
    with pytest.raises(ModelFileError, match="not found"):
        load_keras(tmp_path / "missing.keras")


def test_save_refuses_unmapped_layers_before_writing(tmp_path):
    path = tmp_path / "m.keras"
    save_keras(randomize(Sequential([lk.Embedding(VOCAB, 4), lk.LSTM(3)])), path)
    before = path.read_bytes()
    attention = Sequential([lk.Embedding(VOCAB, 4), lk.LSTM(3, return_sequences=True), lk.AttentionPooling(8, name="attn")])
    attention.build((None, 9))
    with pytest.raises(ConfigError, match=r"'attn' \(AttentionPooling\).*Keras has no") as exc:
        save_keras(attention, path)
    one_line(exc)
    leaky = Sequential([lk.Dense(2, activation="leaky_relu", input_shape=(3,), name="leaky")])
    with pytest.raises(ConfigError, match=r"'leaky' \(Dense\).*leaky_relu"):
        save_keras(leaky, path)
    with pytest.raises(ConfigError, match="not built"):
        save_keras(Sequential([lk.LSTM(3)]), path)
    with pytest.raises(ConfigError, match=r"\.keras"):
        save_keras(attention, tmp_path / "m.h5")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


def test_save_failure_while_writing_leaves_no_half_file(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    model = randomize(Sequential([lk.Embedding(VOCAB, 4), lk.GRU(3)]))
    save_keras(model, path)
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(ModelFileError, match="No space left") as exc:
        save_keras(randomize(model, seed=9), path)
    one_line(exc)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]
    monkeypatch.undo()
    keras.saving.load_model(path)  # the old file is still whole


def test_damaged_contents_fuzz(tmp_path):
    """Random damage inside the archive (config values of the wrong kind, flipped bytes in the h5 file,
    cut or flipped bytes in the zip) gives a model or one lstmkit error line, never another exception."""
    import random

    keras_model([L.Embedding(VOCAB, 4, mask_zero=True), L.Bidirectional(L.LSTM(3, return_sequences=True)),
                 L.GRU(2), L.Dense(2)], (None,)).save(tmp_path / "good.keras")
    with zipfile.ZipFile(tmp_path / "good.keras") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    data = (tmp_path / "good.keras").read_bytes()
    rnd = random.Random(0)
    values = [None, True, 0, -1, 3, 2.5, "x", "relu", [], {}, [None], [None, None, 3], 10**12]

    def mutate(config) -> None:
        slots: list = []

        def walk(obj) -> None:
            items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
            for key, value in items:
                slots.append((obj, key))
                walk(value)

        walk(config)
        parent, key = rnd.choice(slots)
        parent[key] = rnd.choice(values)

    path = tmp_path / "fuzz.keras"
    for i in range(240):
        if i % 3 == 2:  # the archive itself: cut short or bytes flipped
            raw = bytearray(data[: rnd.randrange(len(data))] if i % 2 else data)
            for _ in range(0 if i % 2 else rnd.randint(1, 4)):
                raw[rnd.randrange(len(raw))] = rnd.randrange(256)
            path.write_bytes(bytes(raw))
        else:
            content = dict(members)
            if i % 3 == 0:
                config = json.loads(content["config.json"])
                mutate(config)
                content["config.json"] = json.dumps(config).encode()
            else:
                raw = bytearray(content["model.weights.h5"])
                for _ in range(rnd.randint(1, 6)):
                    raw[rnd.randrange(len(raw))] = rnd.randrange(256)
                content["model.weights.h5"] = bytes(raw)
            with zipfile.ZipFile(path, "w") as zf:
                for name, value in content.items():
                    zf.writestr(name, value)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                load_keras(path)
        except (ConfigError, ModelFileError) as exc:
            assert "\n" not in str(exc) and "fuzz.keras" in str(exc), str(exc)


def test_keras_folder_format(tmp_path):
    kmodel = keras_model([L.Embedding(VOCAB, 4, mask_zero=True), L.SimpleRNN(3)], (None,))
    kmodel.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        zf.extractall(tmp_path / "folder")
    assert_close(load_keras(tmp_path / "folder").predict(token_batch()), keras_predict(kmodel, token_batch()))
    with pytest.raises(ModelFileError, match="folder without"):
        load_keras(tmp_path)


def test_stateful_layers_keep_the_flag_both_ways(tmp_path):
    """stateful=True crosses in both directions, and the imported layer carries its state like Keras's."""
    torch.manual_seed(0)
    km = keras.Sequential([keras.Input((4, 3), batch_size=2), keras.layers.LSTM(5, stateful=True)])
    km.save(tmp_path / "s.keras")
    model = load_keras(tmp_path / "s.keras")
    assert model.layers[0].stateful
    x = np.random.default_rng(0).standard_normal((2, 8, 3)).astype(np.float32)
    km.layers[0].reset_states()
    want = [np.asarray(km.predict(x[:, :4], verbose=0)), np.asarray(km.predict(x[:, 4:], verbose=0))]
    got = [model.predict(x[:, :4]), model.predict(x[:, 4:])]
    np.testing.assert_allclose(got[0], want[0], atol=1e-5)
    np.testing.assert_allclose(got[1], want[1], atol=1e-5)
    save_keras(model, tmp_path / "back.keras")
    config = json.loads(zipfile.ZipFile(tmp_path / "back.keras").read("config.json"))
    assert [layer["config"].get("stateful") for layer in config["config"]["layers"] if layer["class_name"] == "LSTM"] == [True]
