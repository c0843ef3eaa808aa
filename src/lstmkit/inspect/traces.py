"""Gate inspection: run any lstmkit model on one input and read its LSTM gates, step by step.

::

    insp = inspect_model("reviews.lstmkit", "a dull and lifeless film")   # text classifier / LM: text
    insp = inspect_model("digits.lstmkit", "7_jackson_0.wav")              # sequence classifier: audio/arrays
    insp = inspect_model("ot.lstmkit", "ETTh1.csv")                        # forecaster: the last context rows
    units, rule = select_units(insp)                  # the 8 most active units (definition below)
    write_heatmap(insp, units, "out/gates.png")       # forget / input / output gate and cell state per step
    events = gate_events(insp, units)                 # where forget gates close and input gates open
    inspect_to_dir("reviews.lstmkit", "a dull film", "out")   # all of it: out/gates.png and out/gates.html

Every model kind goes through the introspection path, ``lstmkit.nn.LSTM(..., return_gates=True)``
(the reference loop; its values equal the fused kernel's to 1e-5, see ``docs/nn.md``), on exactly what
the model reads:

=====================  ==========================================  ===================================
model file             input                                       one step is
=====================  ==========================================  ===================================
text classifier,       a text (a string or a ``.txt`` file),       a token, as the model's vectorizer
sentiment demo         tokenized by the model's own vectorizer     standardizes and splits it
language model         a text, tokenized at the model's level      a character or a word
sequence classifier    a ``.wav`` (or a folder), ``.npz``,         an audio frame (labelled with its
                       ``.csv`` or ``.ts`` file; ``item`` picks    time) or an array row
                       the sequence
forecaster             a CSV series; the last ``context`` rows     a segment of ``segment`` rows
                       (what ``predict`` reads), one target        (labelled with its last timestamp)
                       channel
bare ``Sequential``    token ids ("3 17 42") for an Embedding      a token id / an array row
                       model, else a ``.npy`` / ``.csv`` array
=====================  ==========================================  ===================================

``layer`` picks the LSTM layer (0 = the first): for a Keras-style model, the k-th layer holding an
LSTM (a ``Bidirectional(LSTM)`` counts once); for the other models, the k-th of the ``num_layers``
layers of their :class:`lstmkit.nn.LSTM`. A bidirectional layer gives both directions; the backward
one is stored in the input's time order (step ``t`` is the state after reading ``x[t]`` going
backwards).

**Most active units.** A unit's activity is the spread of its gates over the input::

    activity_j = sum over directions of  std_t f_t[j] + std_t i_t[j] + std_t o_t[j]

(population standard deviations over the steps). A unit whose gates stay where they are whatever it
reads carries no information about this input; the default shows the ``top`` units with the largest
activity (ties: lower index first).

**Memory reset and memory written.** Unit ``j`` *resets* at step ``t`` when its forget gate closes
and is *written* when its input gate opens. Two definitions (``events=``), each with two thresholds:

* ``"relative"`` (the default): against what the unit usually does on this input. The forget gate
  closes when ``f_t[j] <= median_t f[j] - forget_threshold`` and the input gate opens when
  ``i_t[j] >= median_t i[j] + input_threshold``; both thresholds default to 0.1 (a move of 0.1 in a
  gate value, a tenth of its range). A unit whose gates hardly move is never flagged; a unit that
  keeps its memory (f near 1) and drops it on one token is flagged there.
* ``"absolute"``: against fixed gate values, ``f_t[j] < forget_threshold`` (default 0.5: it keeps
  less than half of its cell) and ``i_t[j] > input_threshold`` (default 0.5: more than half of the
  candidate enters the cell); 0.5 is the sigmoid's midpoint (pre-activation 0). Small or briefly
  trained models rarely leave the region near their initial values (f about 0.73 with forget bias 1,
  i about 0.5), so there this flags either nothing or, for the input gate, about every other step.

For a set of units, :func:`gate_events` gives the share of them for which it holds at each step.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from lstmkit.errors import ConfigError, DataError, InputValueError, ModelFileError, ShapeError
from lstmkit.util.registry import kind_of

#: The per-step quantities shown, as named in :class:`lstmkit.nn.GateSequence`, and their labels.
QUANTITIES = ("forget_gate", "input_gate", "output_gate", "cell_state")
LABELS = {"forget_gate": "forget gate f", "input_gate": "input gate i", "output_gate": "output gate o",
          "cell_state": "cell state c"}
EVENT_MODES = ("relative", "absolute")
#: Default (forget, input) thresholds per event definition (see the module docstring).
DEFAULT_THRESHOLDS = {"relative": (0.1, 0.1), "absolute": (0.5, 0.5)}
DEFAULT_TOP = 8
DEFAULT_MAX_STEPS = 2000

#: What lstmkit inspect reads, for the wrong-kind message.
SUPPORTED = ("text classifiers, the sentiment demo's model, other Keras-style models with an LSTM layer, "
             "language models, sequence classifiers and forecasters")


@dataclass
class DirectionTrace:
    """The gates and cell state of one direction of the inspected layer, each ``(L, H)`` (step, unit)."""

    name: str
    forget_gate: np.ndarray
    input_gate: np.ndarray
    output_gate: np.ndarray
    cell_state: np.ndarray

    def get(self, quantity: str) -> np.ndarray:
        return getattr(self, quantity)


@dataclass
class GateInspection:
    """What :func:`inspect_model` found: the model, the input's steps and the traces of one LSTM layer.

    ``steps``: one label per step (a token, a timestamp, a time in seconds or a row number);
    ``step_kind``: what a step is (``"token"``, ``"character"``, ``"word"``, ``"time (s)"``, ``"row"``,
    ``"segment end"``); ``text``: whether the steps are a text's tokens (``joiner`` rebuilds it);
    ``layer`` of ``layers``: the LSTM layer shown; ``hidden_size``: its units; ``notes``: what was
    cut or read as unknown; ``signal`` (series inputs): one input value per step, drawn above the
    traces (``signal_name`` says which: the forecast target, feature 0, the first MFCC).
    """

    model: str
    source: str
    steps: list[str]
    step_kind: str
    text: bool
    layer: int
    layers: int
    hidden_size: int
    directions: list[DirectionTrace]
    joiner: str = " "
    notes: list[str] = field(default_factory=list)
    signal: list[float] | None = None
    signal_name: str = ""

    @property
    def length(self) -> int:
        return len(self.steps)


# ------------------------------------------------------------------------------------------ inputs
def read_input_text(text_or_path: str | PathLike[str], *, encoding: str = "utf-8") -> tuple[str, str]:
    """``(text, source)``: the file's text when ``text_or_path`` names a file, else the string itself.

    A string ending in ``.txt`` that names no file is an error (a mistyped path, not a text).
    """
    from lstmkit.data.readers import read_text

    value = str(text_or_path)
    path = Path(value).expanduser()
    if value.strip() and len(value) < 4096 and "\n" not in value and path.is_file():
        return read_text(path, kind="input", encoding=encoding), str(path)
    if value.lower().endswith(".txt"):
        raise DataError(f"input file not found: {value}")
    if not value.strip():
        raise InputValueError("input: the text is empty; give a text or a .txt file")
    return value, "the text given"


def _existing_path(value: str | PathLike[str], reads: str) -> Path:
    path = Path(str(value)).expanduser()
    if not path.exists():
        raise DataError(f"input not found: {path} (this model reads {reads})")
    return path


def read_array_steps(path: str | PathLike[str]) -> np.ndarray:
    """``(L, F)`` float32 steps of a ``.npy`` file or a numeric ``.csv`` (one row per step; a header row is skipped)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        try:
            a = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise DataError(f"cannot read {p} as a numeric .npy array ({' '.join(str(e).split())[:120]})") from None
    elif suffix == ".csv":
        from lstmkit.data.readers import read_text

        lines = [ln for ln in read_text(p, kind="input").splitlines() if ln.strip()]
        try:
            float(lines[0].split(",")[0])
        except ValueError:
            lines = lines[1:]  # a header row
        try:
            a = np.array([[float(c) for c in ln.split(",")] for ln in lines], dtype=np.float64)
        except ValueError:
            raise DataError(f"{p}: every cell after the header must be a number") from None
    else:
        raise DataError(f"input {p}: expected a .npy or .csv array (one row per step)")
    if a.dtype.kind not in "fiu":
        raise InputValueError(f"input {p}: expected numbers, found dtype {a.dtype}")
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0:
        raise ShapeError(f"input {p}: expected (steps, features) values, found shape {a.shape}")
    if not np.isfinite(a).all():
        raise InputValueError(f"input {p}: contains NaN or infinite values")
    return a.astype(np.float32)


def _cut(items: list[Any], max_steps: int, notes: list[str], what: str) -> list[Any]:
    if len(items) > max_steps:
        notes.append(f"the input has {len(items)} {what}; the first {max_steps} are read (--max-steps)")
        return items[:max_steps]
    return items


# ------------------------------------------------------------------------------------------ traces
def time_labels(index: Any) -> list[str]:
    """Labels of a time index: without seconds when they are all 0, dates only when every time is midnight."""
    import pandas as pd

    if not isinstance(index, pd.DatetimeIndex):
        return [str(v) for v in index]
    if (index.normalize() == index).all():
        return list(index.strftime("%Y-%m-%d"))
    return list(index.strftime("%Y-%m-%d %H:%M" if (index.second == 0).all() else "%Y-%m-%d %H:%M:%S"))


def _check_layer(layer: int, count: int, what: str) -> int:
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < count:
        valid = "0" if count == 1 else f"0..{count - 1}"
        raise ConfigError(f"layer must be in {valid} ({what} has {count} LSTM layer{'s' if count != 1 else ''}); found {layer!r}")
    return int(layer)


def _direction(name: str, gates: Any, flip: bool = False) -> DirectionTrace:
    """A :class:`DirectionTrace` from one ``(L, H)`` GateSequence (``flip``: reverse the time axis)."""
    def arr(t: Any) -> np.ndarray:
        a = t.detach().cpu().double().numpy()
        return np.ascontiguousarray(a[::-1] if flip else a)

    return DirectionTrace(name, *(arr(getattr(gates, q)) for q in QUANTITIES))


def trace_lstm(lstm: Any, x: Any, layer: int, what: str) -> list[DirectionTrace]:
    """Directions of layer ``layer`` of an :class:`lstmkit.nn.LSTM` run on one unbatched input ``x``
    (``(L, H_in)``), through ``return_gates=True``."""
    import torch

    layer = _check_layer(layer, lstm.num_layers, what)
    was_training = lstm.training
    lstm.eval()
    try:
        with torch.no_grad():
            _, _, trace = lstm(x, return_gates=True)
    finally:
        lstm.train(was_training)
    names = ("forward", "backward")
    return [_direction(names[d], seq) for d, seq in enumerate(trace[layer])]


def _inspection(model: str, source: str, steps: list[str], step_kind: str, text: bool, layer: int, layers: int,
                directions: list[DirectionTrace], notes: list[str], joiner: str = " ", signal: Any = None,
                signal_name: str = "") -> GateInspection:
    values = None if signal is None else [float(v) for v in np.asarray(signal, dtype=np.float64)]
    return GateInspection(model, source, [str(s) for s in steps], step_kind, text, layer, layers,
                          int(directions[0].forget_gate.shape[1]), directions, joiner, notes, values, signal_name)


# --------------------------------------------------------------------------- Keras-style Sequential
def _keras_lstm_layers(model: Any) -> list[int]:
    from lstmkit.layers import LSTM, Bidirectional

    return [i for i, lyr in enumerate(model.layers)
            if isinstance(lyr, LSTM) or (isinstance(lyr, Bidirectional) and isinstance(lyr.forward_layer, LSTM))]


def _keras_direction(rnn: Any, x: Any) -> DirectionTrace:
    """One Keras-style LSTM layer's cell on ``x`` ``(L, F)``; ``go_backwards`` layers are put back in input order."""
    import torch

    backwards = bool(rnn.go_backwards)
    with torch.no_grad():
        _, _, trace = rnn.cell(x.flip(0) if backwards else x, return_gates=True)
    return _direction("backward" if backwards else "forward", trace[0][0], flip=backwards)


def _parse_ids(text: str, embedding: Any) -> list[int]:
    try:
        ids = [int(t) for t in text.split()]
    except ValueError:
        raise InputValueError(
            "input: this model has no vectorizer, so it reads token ids; give whitespace-separated integers such as '3 17 42'"
        ) from None
    bad = [i for i in ids if not 0 <= i < embedding.input_dim or (embedding.mask_zero and i == 0)]
    if bad:
        low = 1 if embedding.mask_zero else 0
        raise InputValueError(f"input: token id {bad[0]} is out of range; this model reads ids in {low}..{embedding.input_dim - 1}")
    return ids


@dataclass
class _Steps:
    """A Keras-style model's input: the step labels, what a step is, and the tensor it reads ``(L,)`` / ``(L, F)``."""

    labels: list[str]
    kind: str
    text: bool
    joiner: str
    source: str
    x: Any


def _sequential_steps(model: Any, pre: dict, value: str, encoding: str, notes: list[str]) -> _Steps:
    """Tokens through the model's vectorizer, raw token ids for an Embedding model without one, else an array file."""
    import torch

    from lstmkit.layers import Embedding

    first = model.layers[0]
    if "vectorizer" in pre:
        from lstmkit.data.text import vectorizer_from_config

        vec = vectorizer_from_config(pre["vectorizer"])
        text, source = read_input_text(value, encoding=encoding)
        tokens, ids = vec.tokenize(text), vec.encode(text)
        length = vec.output_sequence_length
        if length is not None and len(ids) > length:
            last = vec.truncation == "pre"
            notes.append(f"the text has {len(ids)} tokens; the model reads its {'last' if last else 'first'} {length}")
            tokens, ids = (tokens[-length:], ids[-length:]) if last else (tokens[:length], ids[:length])
        unknown = sum(1 for i in ids if i == 1)
        if unknown:
            notes.append(f"{unknown} token(s) are not in the model's vocabulary (read as [UNK])")
        char = vec.level == "char"
        return _Steps(tokens, "character" if char else "token", True, "" if char else " ", source,
                      torch.tensor(ids, dtype=torch.long))
    if isinstance(first, Embedding):
        text, source = read_input_text(value, encoding=encoding)
        ids = _parse_ids(text, first)
        return _Steps([str(i) for i in ids], "token id", True, " ", source, torch.tensor(ids, dtype=torch.long))
    p = _existing_path(value, "a .npy or .csv array, one row per step")
    a = read_array_steps(p)
    n_in = (model.input_shape or (None, None, None))[-1]
    if n_in is not None and a.shape[1] != n_in:
        raise ShapeError(f"input {p}: has {a.shape[1]} features per step, the model reads {n_in}")
    return _Steps([str(t) for t in range(len(a))], "row", False, " ", str(p), torch.from_numpy(a))


def _inspect_sequential(path: Path, value: str, layer: int, max_steps: int, encoding: str) -> GateInspection:
    import torch

    from lstmkit.models import load

    model = load(path, compile=False)
    model.eval()
    pre = model.preprocessing if isinstance(model.preprocessing, dict) else {}
    kind = {"text_classifier": "text classifier", "sentiment": "sentiment demo model"}.get(pre.get("task"),
                                                                                          "Keras-style model")
    names = " -> ".join(type(lyr).__name__ for lyr in model.layers)
    positions = _keras_lstm_layers(model)
    if not positions:
        raise ModelFileError(f"model file {str(path)!r}: a {kind} with no LSTM layer ({names}); lstmkit inspect reads LSTM gates")
    layer = _check_layer(layer, len(positions), f"this {kind}")
    notes: list[str] = []
    steps = _sequential_steps(model, pre, value, encoding, notes)
    if not steps.labels:
        raise InputValueError(f"input: {steps.source} has no tokens the model reads (after its standardization)")
    keep = len(_cut(steps.labels, max_steps, notes, f"{steps.kind}s"))
    h, mask = steps.x[:keep].unsqueeze(0), None
    with torch.no_grad():  # the layers before the inspected one, as Sequential runs them
        for lyr in model.layers[: positions[layer]]:
            y = lyr(h, mask)
            if mask is not None or lyr.supports_masking:
                mask = lyr.compute_mask(h, mask)
            h = y
    target = model.layers[positions[layer]]
    rnns = [target.forward_layer, target.backward_layer] if hasattr(target, "forward_layer") else [target]
    directions = [_keras_direction(rnn, h[0]) for rnn in rnns]
    signal = None if steps.text else steps.x[:keep, 0].numpy()
    return _inspection(f"{kind} ({names}), LSTM layer '{target.name}'", steps.source, steps.labels[:keep], steps.kind,
                       steps.text, layer, len(positions), directions, notes, steps.joiner, signal, "feature 0")


# ------------------------------------------------------------------------------------- language model
def _inspect_language_model(path: Path, value: str, layer: int, max_steps: int, encoding: str) -> GateInspection:
    import torch

    from lstmkit.data.corpus import tokenize
    from lstmkit.tasks.text.language_model import load_language_model

    model, vocab, _, _ = load_language_model(path)
    text, source = read_input_text(value, encoding=encoding)
    notes: list[str] = []
    tokens = _cut(tokenize(text, vocab.level, final_eos=False), max_steps, notes, f"{vocab.level}s")
    if not tokens:
        raise InputValueError(f"input: {source} has no {vocab.level}s")
    unknown = vocab.unknown(tokens)
    if unknown:
        notes.append(f"{len(unknown)} token(s) are not in the model's vocabulary (read as <oov>)")
    ids = torch.tensor(vocab.encode(tokens), dtype=torch.long)
    model.eval()
    with torch.no_grad():
        emb = model.embedding(ids) * model.embed_scale  # the LSTM's input, as in LanguageModel.forward
    directions = trace_lstm(model.lstm, emb, layer, "this language model")
    label = (f"{vocab.level}-level language model ({model.num_layers} x LSTM({model.hidden_size}), "
             f"vocabulary {len(vocab)})")
    char = vocab.level == "char"
    return _inspection(label, source, tokens, "character" if char else "word", True, layer, model.num_layers,
                       directions, notes, "" if char else " ")


# -------------------------------------------------------------------------------- sequence classifier
def _inspect_sequence_classifier(path: Path, value: str, layer: int, max_steps: int, item: int) -> GateInspection:
    import torch

    from lstmkit.data.sequences import read_sequences
    from lstmkit.tasks.sequences.classifier import SequenceClassifier

    clf = SequenceClassifier.load(path)
    model = (getattr(clf, "settings_", None) or {}).get("model", "lstm")
    if model != "lstm":
        raise ModelFileError(f"model file {str(path)!r}: a {model!r} sequence classifier reads the channels, not the "
                             "time steps, with its LSTM (dimension shuffle), so it has no per-step gates; lstmkit "
                             "inspect reads sequence classifiers trained with model='lstm' (--model lstm)")
    if clf.cell != "lstm":
        raise ModelFileError(f"model file {str(path)!r}: a {clf.cell.upper()} sequence classifier has no LSTM gates; "
                             "lstmkit inspect reads LSTM models")
    reads = "a .wav file or a folder of them" if clf.audio is not None else "an .npz, .csv or .ts array file"
    p = _existing_path(value, reads)
    if clf.audio is None and (p.is_dir() or p.suffix.lower() == ".wav"):
        raise InputValueError(f"input {p} is audio but the model was trained on arrays with {clf.n_features_} features")
    data = read_sequences(p, audio=clf.audio, labels_required=False, label_pattern=None)
    if isinstance(item, bool) or not isinstance(item, (int, np.integer)) or not 0 <= item < len(data):
        raise ConfigError(f"item must be in 0..{len(data) - 1} ({p} holds {len(data)} sequence(s)); found {item!r}")
    seq = data.sequences[item]
    if seq.shape[1] != clf.n_features_:
        raise ShapeError(f"input {p}: sequence {data.names[item]!r} has {seq.shape[1]} features, the model reads {clf.n_features_}")
    notes: list[str] = []
    steps_n = len(_cut(list(range(len(seq))), max_steps, notes, "steps"))
    z = clf.scaler_.transform(seq) if clf.scaler_ is not None else seq
    x = torch.from_numpy(np.ascontiguousarray(z[:steps_n], dtype=np.float32))
    directions = trace_lstm(clf.net_.rnn, x, layer, "this sequence classifier")
    if clf.audio is not None:
        hop = float(clf.audio.hop_ms) / 1000.0
        steps, kind, signal_name = [f"{t * hop:.2f}" for t in range(steps_n)], "time (s)", "MFCC 0 (log energy)"
    else:
        steps, kind, signal_name = [str(t) for t in range(steps_n)], "row", "feature 0"
    source = f"{p} (sequence {data.names[item]!r})" if len(data) > 1 or p.is_dir() else str(p)
    label = (f"sequence classifier ({clf.layers} x {'bidirectional ' if clf.bidirectional else ''}LSTM({clf.units}), "
             f"{len(clf.classes_)} classes)")
    return _inspection(label, source, steps, kind, False, layer, clf.layers, directions, notes, signal=seq[:steps_n, 0],
                       signal_name=signal_name)


# ----------------------------------------------------------------------------------------- forecaster
def _inspect_forecaster(path: Path, value: str, layer: int, target: str | None) -> GateInspection:
    import torch
    import torch.nn.functional as F

    from lstmkit.data.timeseries import infer_freq, read_series
    from lstmkit.tasks.timeseries.forecaster import Forecaster

    fc = Forecaster.load(path)
    if getattr(fc, "network_", None) is None:
        method = getattr(fc, "method_", None) or "a method without a network"
        raise ModelFileError(f"model file {str(path)!r}: this forecaster uses {method!r} and holds no LSTM network, "
                             "so it has no gates to inspect (train with --method lstm for one)")
    p = _existing_path(value, "a CSV series with the columns it was trained on")
    frame = read_series(p, time_col=fc.index_name_, columns=fc.columns_)
    freq = infer_freq(frame.index)
    if fc.freq_ is not None and freq is not None and freq != fc.freq_:
        raise DataError(f"{p}: the series has frequency {freq!r}, the model was trained on {fc.freq_!r} data")
    L = int(fc.context)
    if len(frame) < L:
        raise DataError(f"{p}: series too short: {len(frame)} rows; the forecaster reads the last context={L} rows")
    targets = list(fc.targets_)
    name = targets[0] if target is None else target
    if name not in targets:
        raise ConfigError(f"target must be one of the forecaster's targets ({', '.join(targets)}); found {target!r}")
    channel = targets.index(name)
    rows = frame.iloc[-L:]
    net, C = fc.network_, len(targets)
    z = torch.from_numpy(fc.scaler_.transform(rows[fc.columns_].to_numpy(dtype=np.float64)).astype(np.float32))[None]
    xt, cov = z[..., :C], (z[..., C:] if fc.covariates_ else None)
    net.eval()
    with torch.no_grad():
        stats = net.instance_stats(xt, cov)
        zt, zc = net.normalise(xt, cov, stats)
        # e_j = ReLU(W_e [z_seg_j ; cov_seg_j] + b_e): step 3 of lstmkit.tasks.timeseries.network, (C, T/S, d)
        emb = F.relu(net.embed(net.segment_features(zt, zc)))
    directions = trace_lstm(net.lstm, emb[channel], layer, "this forecaster")
    S = net.segment
    steps = time_labels(rows.index[S - 1 :: S])
    label = (f"forecaster ({net.num_layers} x LSTM({net.hidden_size}) over segments of {S} rows, "
             f"context {L}, horizon {fc.horizon}), target {name!r}")
    signal = rows[name].to_numpy()[S - 1 :: S]
    return _inspection(label, f"{p} (last {L} rows)", steps, "segment end", False, layer, net.num_layers, directions, [],
                       signal=signal, signal_name=f"{name} at the segment end")


# ------------------------------------------------------------------------------------------- dispatch
def inspect_model(
    model: str | PathLike[str], input: str | PathLike[str], *, layer: int = 0, item: int = 0,
    target: str | None = None, max_steps: int = DEFAULT_MAX_STEPS, encoding: str = "utf-8", threads: int | None = 1,
) -> GateInspection:
    """Run the model in ``model`` on ``input`` and return the gate traces of LSTM layer ``layer``.

    ``input``: a text or ``.txt`` file (text models), a ``.wav`` / array file (sequence classifiers;
    ``item`` picks the sequence of a file that holds several), a CSV series (forecasters; ``target``
    picks the channel, default the first target). Inputs longer than ``max_steps`` steps are cut to their
    first ``max_steps`` (noted). See the module docstring for what one step is.
    """
    from lstmkit.models.serialization import file_kind, read_metadata
    from lstmkit.nn.threads import torch_threads
    from lstmkit.util.checks import check_int

    path = Path(model).expanduser()
    max_steps = check_int("max_steps", max_steps, 1)
    kind = file_kind(read_metadata(path))  # missing / foreign files: one-line ModelFileError
    with torch_threads(threads):
        if kind == "sequential":
            return _inspect_sequential(path, str(input), layer, max_steps, encoding)
        if kind in ("language_model", "language_model_checkpoint") or kind_of(path) == "language_model_checkpoint":
            return _inspect_language_model(path, str(input), layer, max_steps, encoding)
        if kind == "sequence_classifier":
            return _inspect_sequence_classifier(path, str(input), layer, max_steps, item)
        if kind == "forecaster":
            return _inspect_forecaster(path, str(input), layer, target)
    raise ModelFileError(f"model file {str(path)!r} holds a {kind!r} file; lstmkit inspect reads {SUPPORTED}")


# ------------------------------------------------------------------------------------ units, events
def parse_units(text: str | None) -> list[int] | None:
    """``"3,17,42"`` -> ``[3, 17, 42]``; ``None`` or ``""`` -> ``None`` (choose the most active)."""
    if text is None or not str(text).strip():
        return None
    out = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            out.append(int(part))
        except ValueError:
            raise ConfigError(f"units must be comma-separated unit indices such as 3,17,42; found {part!r} in {text!r}") from None
    return out


def unit_activity(insp: GateInspection) -> np.ndarray:
    """``(H,)``: the sum over directions of ``std_t f + std_t i + std_t o`` of each unit (module docstring)."""
    total = np.zeros(insp.hidden_size)
    for d in insp.directions:
        for q in ("forget_gate", "input_gate", "output_gate"):
            total += d.get(q).std(axis=0)
    return total


def select_units(insp: GateInspection, units: Sequence[int] | None = None, top: int = DEFAULT_TOP) -> tuple[list[int], str]:
    """``(units, rule)``: the given unit indices (checked, duplicates dropped) or the ``top`` most active."""
    from lstmkit.util.checks import check_int

    H = insp.hidden_size
    if units is not None:
        units = list(units)
        if not units:
            raise ConfigError("units: give at least one unit index")
        bad = [u for u in units if isinstance(u, bool) or not isinstance(u, (int, np.integer)) or not 0 <= u < H]
        if bad:
            raise ConfigError(f"unit {bad[0]!r} does not exist: layer {insp.layer} has {H} units, valid indices are 0..{H - 1}")
        return list(dict.fromkeys(int(u) for u in units)), "chosen with --units"
    top = check_int("top", top, 1)
    order = np.argsort(-unit_activity(insp), kind="stable")[: min(top, H)]
    rule = (f"the {len(order)} most active of {H} units (largest sum over gates f, i, o"
            f"{' and both directions' if len(insp.directions) > 1 else ''} of the standard deviation over the steps)")
    return [int(u) for u in order], rule


@dataclass
class GateEvents:
    """Per direction, the share of the chosen units whose forget gate closed / input gate opened, ``(L,)`` each.

    ``mode``: ``"relative"`` or ``"absolute"``; ``forget_limit`` / ``input_limit``: per direction, the
    value each unit's gate is compared with, ``(U,)`` (the thresholds themselves in absolute mode).
    """

    reset: list[np.ndarray]
    written: list[np.ndarray]
    mode: str
    forget_threshold: float
    input_threshold: float
    forget_limit: list[np.ndarray]
    input_limit: list[np.ndarray]

    def describe(self) -> tuple[str, str]:
        """One phrase each for a reset and a write, e.g. ``"f <= the unit's median - 0.1"``."""
        if self.mode == "relative":
            return (f"f at least {self.forget_threshold:g} below the unit's median",
                    f"i at least {self.input_threshold:g} above the unit's median")
        return f"f < {self.forget_threshold:g}", f"i > {self.input_threshold:g}"


def check_threshold(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0.0 < float(value) < 1.0:
        raise ConfigError(f"{name} must be a number strictly between 0 and 1 (a gate value or a change of one); found {value!r}")
    return float(value)


def event_thresholds(mode: str, forget_threshold: float | None = None,
                     input_threshold: float | None = None) -> tuple[str, float, float]:
    """``(mode, forget, input)`` checked, with the mode's defaults for thresholds left as ``None``."""
    if mode not in EVENT_MODES:
        raise ConfigError(f"events must be one of {', '.join(EVENT_MODES)}; found {mode!r}")
    default_f, default_i = DEFAULT_THRESHOLDS[mode]
    tf = check_threshold("forget_threshold", default_f if forget_threshold is None else forget_threshold)
    ti = check_threshold("input_threshold", default_i if input_threshold is None else input_threshold)
    return mode, tf, ti


def gate_events(insp: GateInspection, units: Sequence[int], mode: str = "relative", forget_threshold: float | None = None,
                input_threshold: float | None = None) -> GateEvents:
    """Memory reset and memory written shares per step (definitions in the module docstring)."""
    mode, tf, ti = event_thresholds(mode, forget_threshold, input_threshold)
    idx = list(units)
    reset, written, f_limits, i_limits = [], [], [], []
    for d in insp.directions:
        f, i = d.forget_gate[:, idx], d.input_gate[:, idx]
        if mode == "relative":
            f_limit, i_limit = np.median(f, axis=0) - tf, np.median(i, axis=0) + ti
            reset.append((f <= f_limit).mean(axis=1))
            written.append((i >= i_limit).mean(axis=1))
        else:
            f_limit, i_limit = np.full(len(idx), tf), np.full(len(idx), ti)
            reset.append((f < tf).mean(axis=1))
            written.append((i > ti).mean(axis=1))
        f_limits.append(f_limit)
        i_limits.append(i_limit)
    return GateEvents(reset, written, mode, tf, ti, f_limits, i_limits)


def top_events(insp: GateInspection, shares: np.ndarray, limit: int = 10) -> list[tuple[int, str, float]]:
    """Up to ``limit`` ``(step, label, share)`` with a share above 0, largest first (ties: earlier step)."""
    order = np.argsort(-shares, kind="stable")
    return [(int(t), insp.steps[t], float(shares[t])) for t in order[:limit] if shares[t] > 0]


# -------------------------------------------------------------------------------------------- figure
def display_label(label: str) -> str:
    """A step label for an axis: newlines and spaces made visible, long labels shortened."""
    label = label.replace("\n", "\u21b5").replace("\t", "\u21e5")
    if label == " ":
        return "\u2423"
    return label if len(label) <= 16 else label[:15] + "\u2026"


def heatmap_png(insp: GateInspection, units: Sequence[int], *, dpi: int = 100) -> bytes:
    """PNG bytes: per direction, four heatmaps (forget, input, output gate; cell state) of ``units`` x steps.

    Gates share the colour scale 0..1; the cell state is centred on 0 (``+-`` its largest ``|c|``).
    The panels are placed by hand (in inches), so the time it takes grows with the labels drawn, not
    with a layout search.
    """
    from matplotlib.figure import Figure

    units = list(units)
    L, U, D = insp.length, len(units), len(insp.directions)
    ticks = list(range(L)) if L <= 60 else [int(round(t)) for t in np.linspace(0, L - 1, 25)]
    tick_labels = [display_label(insp.steps[t]) for t in ticks]
    left, right, top, gap = 0.75, 1.0, 0.7, 0.3  # inches
    panel = 0.25 + 0.2 * U
    label_room = 0.45 + 0.065 * max(len(t) for t in tick_labels)
    block = 4 * (panel + gap) + label_room
    width = float(np.clip(3.5 + 0.16 * L, 8.0, 22.0))
    signal_room = 1.3 if insp.signal is not None else 0.0  # a series' input values, above the heatmaps
    height = top + signal_room + D * block
    fig = Figure(figsize=(width, height), dpi=dpi)

    def rect(x0: float, y_top: float, w: float, h: float) -> list[float]:
        return [x0 / width, 1 - (y_top + h) / height, w / width, h / height]

    if insp.signal is not None:
        ax = fig.add_axes(rect(left, top + gap, width - left - right, signal_room - gap - 0.1))
        ax.plot(np.arange(L), insp.signal, color="black", linewidth=1.0)
        ax.set_xlim(-0.5, L - 0.5)
        ax.set_xticks(ticks)
        ax.set_xticklabels([])
        ax.tick_params(labelsize=7)
        ax.set_title(f"input: {insp.signal_name}", fontsize=9, loc="left", pad=3)
    top += signal_room
    for d, direction in enumerate(insp.directions):
        bound = float(max(np.abs(direction.cell_state[:, units]).max(), 1e-6))
        for q, quantity in enumerate(QUANTITIES):
            y_top = top + d * block + q * (panel + gap) + gap
            ax = fig.add_axes(rect(left, y_top, width - left - right, panel))
            values = direction.get(quantity)[:, units].T  # (U, L)
            if quantity == "cell_state":
                image = ax.imshow(values, aspect="auto", cmap="PuOr_r", vmin=-bound, vmax=bound, interpolation="nearest")
            else:
                image = ax.imshow(values, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
            cbar = fig.colorbar(image, cax=fig.add_axes(rect(width - right + 0.1, y_top, 0.14, panel)))
            cbar.ax.tick_params(labelsize=7)
            ax.set_title(LABELS[quantity] + (f" ({direction.name})" if D > 1 else ""), fontsize=9, loc="left", pad=3)
            ax.set_ylabel("unit", fontsize=8)
            ax.set_yticks(range(U))
            ax.set_yticklabels([str(u) for u in units], fontsize=7)
            ax.set_xticks(ticks)
            if q == 3:
                ax.set_xticklabels(tick_labels, fontsize=7, rotation=90)
                ax.set_xlabel(insp.step_kind, fontsize=8)
            else:
                ax.set_xticklabels([])
    fig.suptitle(f"{insp.model}\nLSTM layer {insp.layer} of {insp.layers}: {insp.source}, {L} steps", fontsize=9,
                 y=1 - 0.12 / height, va="top")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_heatmap(insp: GateInspection, units: Sequence[int], path: str | PathLike[str]) -> Path:
    """Write :func:`heatmap_png` atomically to ``path``."""
    from lstmkit.models.serialization import write_bytes_atomic

    out = Path(path)
    write_bytes_atomic(out, heatmap_png(insp, units), what="image")
    return out


def trace_json(insp: GateInspection, units: Sequence[int], digits: int = 4) -> dict[str, Any]:
    """The traces of ``units`` as JSON-able lists: ``directions[d][quantity][k][t]`` for unit ``units[k]``."""
    units = list(units)
    return {
        "steps": insp.steps,
        "units": units,
        "directions": [
            {"name": d.name, **{q: np.round(d.get(q)[:, units].T, digits).tolist() for q in QUANTITIES}}
            for d in insp.directions
        ],
    }


__all__ = [
    "GateInspection", "DirectionTrace", "GateEvents", "inspect_model", "trace_lstm",
    "select_units", "unit_activity", "parse_units", "gate_events", "top_events", "heatmap_png", "write_heatmap",
    "read_input_text", "read_array_steps", "time_labels", "trace_json", "display_label", "check_threshold",
    "QUANTITIES", "EVENT_MODES", "DEFAULT_THRESHOLDS", "event_thresholds", "DEFAULT_TOP", "DEFAULT_MAX_STEPS",
]
