"""Exporters for Keras-style models: ``Sequential``, ``TextClassifier``, the sentiment demo's model, language models.

Each returns an :class:`~lstmkit.export.base.Exported` (graph, metadata, sample inputs, lstmkit's own
answers); :mod:`lstmkit.export.core` checks and writes it.

**Sequential** (layers ``Input``, ``Embedding``, ``LSTM``, ``GRU``, ``SimpleRNN``, ``Bidirectional``,
``Dense``, ``Dropout``, ``GlobalAveragePooling1D``, ``GlobalMaxPooling1D``, ``AttentionPooling``)::

    input   (N, T) int64 token ids (an Embedding first)  or  (N, T, F) float32
    h0_k    (D_k, N, H_k) float32, one per recurrent layer k (D_k = 2 for Bidirectional), c0_k too for an LSTM
    output  the model's output: (N, units) or (N, T, units)
    hn_k    (D_k, N, H_k), cn_k for an LSTM: the state after each row's last real step

Masks: with ``Embedding(mask_zero=True)`` id 0 is padding and is skipped wherever it is (before,
after or between the tokens), exactly as lstmkit does: the graph moves each row's real tokens to the
front, runs the recurrent operators with ``sequence_lens`` and puts per-step outputs back where they
were (see :mod:`lstmkit.export.onnx_graph`). A row of padding only keeps its initial state. Without a
mask, every step is real.

**State.** ``hn_k`` of one call fed as ``h0_k`` of the next continues the sequence: two calls on
``x[:, :t]`` then ``x[:, t:]`` give what one call on ``x`` gives (for a forward-only model; a
Bidirectional layer's backward direction starts at each call's end). Zeros start a sequence, as
lstmkit's ``predict`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmkit.errors import ConfigError
from lstmkit.export import onnx_graph as og
from lstmkit.export.base import Exported, Feeds

SUPPORTED_LAYERS = ("Input", "Embedding", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "Dense", "Dropout",
                    "GlobalAveragePooling1D", "GlobalMaxPooling1D", "AttentionPooling")


# ------------------------------------------------------------------------------------------------ helpers
def _rnn_kind(layer: Any) -> str:
    from lstmkit.layers import GRU, LSTM

    return "lstm" if isinstance(layer, LSTM) else "gru" if isinstance(layer, GRU) else "rnn"


def _state_names(k: int, kind: str) -> list[str]:
    return [f"h0_{k}", f"c0_{k}"] if kind == "lstm" else [f"h0_{k}"]


def _is_recurrent(layer: Any) -> bool:
    from lstmkit.layers.recurrent import _Recurrent

    return isinstance(layer, _Recurrent)


def _plan(model: Any) -> list[Any]:
    """The layers to export (Input and Dropout are identities at inference), checked."""
    from lstmkit.layers import (AttentionPooling, Bidirectional, Dense, Dropout, Embedding, GlobalAveragePooling1D,
                                GlobalMaxPooling1D, InputLayer)

    if not len(getattr(model, "layers", [])):
        raise ConfigError(f"model {getattr(model, 'name', '')!r}: has no layers; there is nothing to export")
    if not model.built or model.input_shape is None:
        raise ConfigError(f"model {model.name!r}: is not built (its input shape is unknown); call it on data or "
                          "give the first layer input_shape= before exporting")
    plan = []
    for i, layer in enumerate(model.layers):
        if isinstance(layer, (InputLayer, Dropout)):
            continue
        if isinstance(layer, Embedding) and i != 0:
            raise ConfigError(f"layer {layer.name!r}: an Embedding must be the first layer to be exported")
        if isinstance(layer, Bidirectional):
            f, b = layer.forward_layer, layer.backward_layer
            if f.go_backwards or not b.go_backwards or type(f) is not type(b) or f.units != b.units:
                raise ConfigError(f"layer {layer.name!r}: the ONNX export supports a Bidirectional layer whose backward "
                                  "layer is the forward one with go_backwards=True (the default), found another pairing")
        elif not (_is_recurrent(layer) or isinstance(layer, (Embedding, Dense, GlobalAveragePooling1D,
                                                             GlobalMaxPooling1D, AttentionPooling))):
            raise ConfigError(f"layer {layer.name!r} ({type(layer).__name__}): not supported by the ONNX export "
                              f"(supported: {', '.join(SUPPORTED_LAYERS)})")
        plan.append(layer)
    if not any(_is_recurrent(layer) or isinstance(layer, Bidirectional) for layer in plan):
        raise ConfigError(f"model {model.name!r}: has no recurrent layer (LSTM, GRU or SimpleRNN), so there is no "
                          "state to export; the ONNX export is for recurrent models")
    return plan


def _np(t: Any) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().float().numpy()


# ------------------------------------------------------------------------------------------------ graph
def sequential_graph(model: Any, opset: int) -> tuple[Any, dict[str, Any]]:
    """The ONNX graph of a Keras-style Sequential (see the module docstring) and a description of it:
    ``{"recurrent": [(k, kind, directions, units), ...], "token_input": bool, "mask_zero": bool, ...}``."""
    from lstmkit.layers import AttentionPooling, Bidirectional, Dense, Embedding, GlobalAveragePooling1D, GlobalMaxPooling1D

    plan = _plan(model)
    g = og.Graph(opset, name=model.name or "sequential")
    first = plan[0]
    token_input = isinstance(first, Embedding)
    in_shape = model.input_shape[1:]
    if token_input:
        cur = g.add_input("input", "int64", ["batch", "time"])
        rank = 2
    else:
        if len(in_shape) != 2 or in_shape[-1] is None:
            raise ConfigError(f"model {model.name!r}: input shape {model.input_shape}: a recurrent model's input must "
                              "be (N, T, features) with known features")
        cur = g.add_input("input", "float", ["batch", "time", int(in_shape[-1])])
        rank = 3
    masked = flipped = False
    mask = dest = lengths = lengths32 = steps = None
    states_out: list[tuple[str, str, list[Any]]] = []
    recurrent_info: list[tuple[int, str, int, int]] = []
    k = 0
    feat = int(in_shape[-1]) if not token_input else None
    for layer in plan:
        if isinstance(layer, Embedding):
            ids = cur
            if layer.mask_zero:
                mask = g.op("Not", g.op("Equal", ids, g.const(0, np.int64)))
                dest, lengths = og.compaction(g, mask)
                lengths32 = g.op("Cast", lengths, to=_onnx().TensorProto.INT32)
                ids = og.to_compact(g, ids, dest, 2)
                masked = True
            cur = og.embedding(g, ids, _np(layer.embeddings), hint=layer.name)
            rank, feat = 3, layer.output_dim
        elif _is_recurrent(layer) or isinstance(layer, Bidirectional):
            bidi = isinstance(layer, Bidirectional)
            subs = [layer.forward_layer, layer.backward_layer] if bidi else [layer]
            kind, units, D = _rnn_kind(subs[0]), subs[0].units, len(subs)
            names = _state_names(k, kind)
            h0 = g.add_input(names[0], "float", [D, "batch", units])
            c0 = g.add_input(names[1], "float", [D, "batch", units]) if kind == "lstm" else None
            direction = "bidirectional" if bidi else ("reverse" if layer.go_backwards else "forward")
            x_tm = g.transpose(cur, [1, 0, 2])
            weights = [og.cell_weights(s.cell)[:4] for s in subs]
            if kind == "gru" and len({s.reset_after for s in subs}) > 1:
                raise ConfigError(f"layer {layer.name!r}: the ONNX export needs both directions of a Bidirectional "
                                  "GRU to have the same reset_after")
            # GRU(reset_after=False) is ONNX's linear_before_reset=0 (its one bias goes in Wb, Rb stays 0)
            lbr = 0 if kind == "gru" and not subs[0].reset_after else 1
            y, y_h, y_c = og.recurrent(g, kind, x_tm, weights, units, direction=direction,
                                       seq_lens=lengths32 if masked else None, h0=h0, c0=c0, hint=layer.name,
                                       linear_before_reset=lbr)
            if masked:  # a row with no real step keeps its initial state (ONNX Runtime returns zeros there)
                empty = g.unsqueeze(g.op("Equal", lengths, g.const(0, np.int64)), [0, 2])   # (1, N, 1)
                y_h = g.op("Where", empty, h0, y_h)
                if y_c is not None:
                    y_c = g.op("Where", empty, c0, y_c)
            states_out.append((f"hn_{k}", y_h, [D, "batch", units]))
            if y_c is not None:
                states_out.append((f"cn_{k}", y_c, [D, "batch", units]))
            recurrent_info.append((k, kind, D, units))
            merge = layer.merge_mode if bidi else "concat"
            if layer.return_sequences:
                y = g.transpose(y, [2, 0, 1, 3])                       # (N, T, D, H)
                cur = _merge(g, y, D, merge, axis=2)
                rank = 3
                if not bidi and layer.go_backwards:                     # lstmkit returns them in reversed order
                    if masked:
                        cur = og.reverse_real_steps(g, cur, lengths)
                        flipped = not flipped
                    else:
                        cur = g.flip_time(cur)
            else:
                cur = _merge(g, g.transpose(y_h, [1, 0, 2]), D, merge, axis=1)   # (N, D*H) or (N, H)
                rank, masked = 2, False
            feat = units * (D if merge == "concat" else 1)
            k += 1
        elif isinstance(layer, Dense):
            cur = og.dense(g, cur, _np(layer.kernel), _np(layer.bias), layer.activation, hint=layer.name)
            feat = layer.units
        elif isinstance(layer, (GlobalAveragePooling1D, GlobalMaxPooling1D, AttentionPooling)):
            live = None
            if masked:
                if steps is None:
                    steps = og.step_mask(g, cur, lengths)
                live = steps
            if isinstance(layer, GlobalAveragePooling1D):
                cur = og.mean_pool(g, cur, live)
            elif isinstance(layer, GlobalMaxPooling1D):
                cur = og.max_pool(g, cur, live)
            else:
                cur = og.attention_pool(g, cur, live, _np(layer.kernel), _np(layer.bias), _np(layer.context))
            rank, masked = 2, False
    if rank == 3 and masked:  # per-step outputs back at their own steps (lstmkit's time order)
        if flipped:
            dest, _ = og.compaction(g, g.flip_time(mask))
        cur = og.from_compact(g, cur, dest)
    out_shape: list[Any] = ["batch", feat] if rank == 2 else ["batch", "time", feat]
    g.add_output("output", cur, "float", out_shape)
    for name, value, shape in states_out:
        g.add_output(name, value, "float", shape)
    info = {
        "recurrent": recurrent_info,
        "token_input": token_input,
        "mask_zero": bool(token_input and first.mask_zero),
        "vocab_size": int(first.input_dim) if token_input else None,
        "features": None if token_input else int(in_shape[-1]),
        "input_length": in_shape[0] if in_shape else None,
        "output_shape": out_shape,
    }
    return g, info


def _onnx():
    import onnx

    return onnx


def _merge(g: og.Graph, y: str, D: int, mode: str, axis: int) -> str:
    """Merge the direction axis ``axis`` of ``y`` (size D): concat (forward then backward), sum, mul or ave."""
    if D == 1 or mode == "concat":
        return g.reshape(y, [0, 0, -1] if axis == 2 else [0, -1])
    fwd = g.squeeze(g.slice(y, [0], [1], [axis]), [axis])
    bwd = g.squeeze(g.slice(y, [1], [2], [axis]), [axis])
    if mode == "sum":
        return g.op("Add", fwd, bwd)
    if mode == "mul":
        return g.op("Mul", fwd, bwd)
    return g.op("Mul", g.op("Add", fwd, bwd), g.const(np.float32(0.5), np.float32))


# ------------------------------------------------------------------------------------------------ lstmkit's answers
def _call_with_state(layer: Any, x: Any, mask: Any, initial: list[Any]) -> list[Any]:
    """Run an lstmkit recurrent layer from ``initial`` and get ``[y, h, (c)]`` (its own return_state path)."""
    old = layer.return_state
    layer.return_state = True
    try:
        return list(layer(x, mask, initial_state=initial))
    finally:
        layer.return_state = old


def sequential_reference(model: Any, feeds: Feeds) -> list[np.ndarray]:
    """lstmkit's outputs for ``feeds`` in the graph's output order: the model's layers, each recurrent one
    started from the state in ``feeds`` (its own code path with ``initial_state`` and ``return_state``)."""
    import torch

    from lstmkit.layers import Bidirectional

    plan = _plan(model)
    param = next(model.parameters())
    device, dtype = param.device, param.dtype  # a model on a GPU or in float64 runs as it is
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = torch.from_numpy(np.asarray(feeds["input"])).to(device)
            if x.is_floating_point():
                x = x.to(dtype)
            mask = None
            states: list[np.ndarray] = []
            k = 0
            for layer in plan:
                if _is_recurrent(layer) or isinstance(layer, Bidirectional):
                    subs = [layer.forward_layer, layer.backward_layer] if isinstance(layer, Bidirectional) else [layer]
                    names = _state_names(k, _rnn_kind(subs[0]))
                    init = [torch.from_numpy(np.asarray(feeds[n], np.float32)).to(device, dtype) for n in names]
                    results = [_call_with_state(s, x, mask, [t[d] for t in init]) for d, s in enumerate(subs)]
                    if len(subs) == 1:
                        y = results[0][0]
                    else:
                        y_fwd, y_bwd = results[0][0], results[1][0]
                        if layer.return_sequences:
                            y_bwd = y_bwd.flip(1)
                        y = {"concat": lambda: torch.cat([y_fwd, y_bwd], dim=-1), "sum": lambda: y_fwd + y_bwd,
                             "mul": lambda: y_fwd * y_bwd, "ave": lambda: (y_fwd + y_bwd) / 2}[layer.merge_mode]()
                    for j in range(len(names)):
                        states.append(torch.stack([r[1 + j] for r in results]).float().cpu().numpy())
                    k += 1
                else:
                    y = layer(x, mask)
                if mask is not None or layer.supports_masking:
                    mask = layer.compute_mask(x, mask)
                x = y
    finally:
        model.train(was_training)
    return [x.float().cpu().numpy(), *states]


def _sample_feeds_for(info: dict[str, Any]):
    def sample_feeds(batch: int, length: int, seed: int) -> Feeds:
        rng = np.random.default_rng(seed)
        T = info["input_length"] or length
        if info["token_input"]:
            low = 1 if info["mask_zero"] else 0
            feeds: Feeds = {"input": rng.integers(low, info["vocab_size"], size=(batch, T)).astype(np.int64)}
        else:
            feeds = {"input": rng.normal(size=(batch, T, info["features"])).astype(np.float32)}
        for k, kind, D, units in info["recurrent"]:
            for name in _state_names(k, kind):
                feeds[name] = (0.5 * rng.normal(size=(D, batch, units))).astype(np.float32)
        return feeds

    return sample_feeds


def _ragged_feeds_for(info: dict[str, Any], sample_feeds: Any):
    """Token rows padded every way lstmkit's mask allows: none, after, before, holes, all padding, one token."""
    def ragged_feeds(seed: int) -> Feeds:
        feeds = sample_feeds(6, 7, seed)
        ids = feeds["input"]
        T = ids.shape[1]
        ids[1, max(1, T // 2):] = 0                      # padding after (post)
        ids[2, : max(1, T // 3)] = 0                     # padding before (pre)
        ids[3, 1::2] = 0                                 # holes
        ids[4, :] = 0                                    # nothing but padding
        ids[5, :-1] = 0                                  # one token, at the end
        return feeds

    return ragged_feeds


def _describe_io(info: dict[str, Any]) -> dict[str, Any]:
    if info["token_input"]:
        what = "int64 (batch, time) token ids in [0, {}){}".format(
            info["vocab_size"], "; id 0 is padding, skipped wherever it is" if info["mask_zero"] else "")
    else:
        what = f"float32 (batch, time, {info['features']}) feature vectors"
    state = {}
    for k, kind, D, units in info["recurrent"]:
        names = _state_names(k, kind)
        for n in names:
            state[n] = f"float32 ({D}, batch, {units}): recurrent layer {k}'s initial {'h' if n[0] == 'h' else 'c'}" + \
                       (" (forward, backward)" if D == 2 else "") + "; zeros to start a sequence"
    return {"input": what, **state, "output": "float32 " + str(tuple(info["output_shape"])).replace("'", ""),
            "state_outputs": "hn_k / cn_k: the state after each row's last real step; feed them as h0_k / c0_k "
                             "of the next call to continue the sequences"}


def export_sequential(model: Any, opset: int = og.DEFAULT_OPSET, *, kind: str = "sequential",
                      metadata: dict[str, Any] | None = None) -> Exported:
    """The :class:`Exported` of a Keras-style Sequential (see the module docstring)."""
    g, info = sequential_graph(model, opset)
    from lstmkit._version import __version__

    onnx_model = g.to_model(doc=f"lstmkit {kind} export", producer_version=__version__)
    meta: dict[str, Any] = {
        "layers": [type(layer).__name__ for layer in model.layers],
        "io": _describe_io(info),
    }
    if info["input_length"] is not None:
        meta["input_length"] = info["input_length"]
        meta["input_length_note"] = ("the model was built for this many steps; the graph's time axis is dynamic "
                                     "(the recurrence is the same at any length)")
    if info["token_input"]:
        meta["vocab_size"] = int(info["vocab_size"])  # token ids must be in [0, vocab_size)
    if info["mask_zero"]:
        meta["padding"] = ("id 0 is padding and is skipped wherever it is (before, after or between tokens): "
                           "a row's output does not depend on its padding")
    meta.update(metadata or {})
    sample = _sample_feeds_for(info)
    return Exported(
        model=onnx_model, kind=kind, metadata=meta, sample_feeds=sample,
        reference=lambda feeds: sequential_reference(model, feeds),
        ragged_feeds=_ragged_feeds_for(info, sample) if info["mask_zero"] else None,
    )


# ------------------------------------------------------------------------------------------------ text models
_STANDARDIZE_RULES = {
    "lower_and_strip_punctuation": "lower-case (Python str.lower), then delete every match of the regular expression "
                                   r"[^\w\s]|_ (Unicode: any character that is not a letter, digit or whitespace, and '_')",
    "lower": "lower-case (Python str.lower)",
    "strip_punctuation": r"delete every match of the regular expression [^\w\s]|_ (Unicode)",
    None: "none (the text as it is)",
}
_SPLIT_RULES = {
    "whitespace": "split on runs of whitespace (Python str.split() with no argument); leading/trailing whitespace ignored",
    "character": "every Unicode code point is a token (spaces and newlines included)",
}


def _text_preprocessing(vec: Any, max_length: int, padding: str) -> dict[str, Any]:
    vocab = vec.get_vocabulary()
    keep = "last" if vec.truncation == "pre" else "first"
    return {
        "standardize": vec.standardize,
        "standardize_rule": _STANDARDIZE_RULES.get(vec.standardize, str(vec.standardize)),
        "split": vec.split,
        "split_rule": _SPLIT_RULES.get(vec.split, str(vec.split)),
        "level": vec.level,
        "vocabulary": vocab,
        "padding_id": 0,
        "unknown_id": 1,
        "max_length": int(max_length),
        "truncation": vec.truncation,
        "padding": padding,
        "steps": [
            "1. standardize the text (standardize_rule)",
            "2. split it into tokens (split_rule)",
            "3. map each token to its index in vocabulary (index 0 is padding, 1 is an unknown token: use 1 for "
            "every token not in the list)",
            f"4. keep the {keep} max_length ids (truncation '{vec.truncation}')",
            "5. a text with no ids becomes the single id 0",
            f"6. {padding}",
        ],
    }


def export_text_classifier(clf: Any, opset: int = og.DEFAULT_OPSET) -> Exported:
    """A fitted :class:`~lstmkit.tasks.text.classifier.TextClassifier`: its network, with the vectorizer
    (vocabulary, tokenisation, max_length) and the classes in the metadata."""
    from lstmkit.tasks.text.defaults import MAX_LENGTH_CAP

    if getattr(clf, "model_", None) is None or getattr(clf, "vectorizer_", None) is None:
        raise ConfigError("TextClassifier: is not fitted; call fit(texts, labels) (or load a saved one) before exporting")
    vec = clf.vectorizer_
    max_length = vec.output_sequence_length or MAX_LENGTH_CAP  # what TextClassifier.predict reads
    padding = ("batch texts by padding each row with id 0 to the longest (before or after the ids: id 0 is masked, "
               "so the probabilities do not depend on it); or run each text alone")
    meta = {
        "task": "text_classifier",
        "classes": list(clf.classes_),
        "output_meaning": "probabilities, column j is P(classes[j]); the prediction is classes[argmax]",
        "preprocessing": _text_preprocessing(vec, max_length, padding),
    }
    return export_sequential(clf.model_, opset, kind="text_classifier", metadata=meta)


def export_sentiment(clf: Any, opset: int = og.DEFAULT_OPSET) -> Exported:
    """The sentiment demo's :class:`~lstmkit.tasks.text.sentiment.SentimentClassifier` (the article's model)."""
    from lstmkit.tasks.text.sentiment import LABELS

    vec = clf.vectorizer
    padding = ("do not pad: run each text at its own length (texts of equal length may share a batch); the model "
               "has no mask, so padding would change its output")
    max_length = vec.output_sequence_length or 10**9
    meta = {
        "task": "sentiment",
        "classes": list(LABELS),
        "output_meaning": "probabilities [P(negative), P(positive)]",
        "preprocessing": _text_preprocessing(vec, max_length, padding),
    }
    return export_sequential(clf.model, opset, kind="sentiment", metadata=meta)


# ------------------------------------------------------------------------------------------------ language models
def lm_graph(net: Any, opset: int) -> Any:
    """The ONNX graph of a :class:`~lstmkit.tasks.text.lm_network.LanguageModel`, batch-major ids in, logits out."""
    lstm = net.lstm
    g = og.Graph(opset, name="language_model")
    ids = g.add_input("input", "int64", ["batch", "time"])
    H, P, L = lstm.hidden_size, lstm.proj_size, lstm.num_layers
    out_size = P or H
    h0s, c0s = [], []
    for k in range(L):
        h0s.append(g.add_input(f"h0_{k}", "float", [1, "batch", out_size]))
        c0s.append(g.add_input(f"c0_{k}", "float", [1, "batch", H]))
    x = og.embedding(g, g.transpose(ids, [1, 0]), _np(net.embedding.weight), scale=float(net.embed_scale))  # (T, N, E)
    states = []
    for k in range(L):
        w_ih, w_hh, b_ih, b_hh, w_hr = og.cell_weights(lstm, k)
        if P:
            x, h_n, c_n = og.lstm_projected(g, x, w_ih, w_hh, b_ih, b_hh, w_hr, h0s[k], c0s[k], hint=f"lstm{k}")
        else:
            y, h_n, c_n = og.recurrent(g, "lstm", x, [(w_ih, w_hh, b_ih, b_hh)], H, h0=h0s[k], c0=c0s[k], hint=f"lstm{k}")
            x = g.squeeze(y, [1])
        states += [(f"hn_{k}", h_n, [1, "batch", out_size]), (f"cn_{k}", c_n, [1, "batch", H])]
    logits = og.dense(g, x, np.ascontiguousarray(_np(net.decoder.weight).T), _np(net.decoder.bias), hint="decoder")
    g.add_output("output", g.transpose(logits, [1, 0, 2]), "float", ["batch", "time", int(net.vocab_size)])
    for name, value, shape in states:
        g.add_output(name, value, "float", shape)
    return g


def export_language_model(obj: Any, opset: int = og.DEFAULT_OPSET) -> Exported:
    """A :class:`~lstmkit.tasks.text.language_model.LanguageModelGenerator` (network + vocabulary) or a bare
    :class:`~lstmkit.tasks.text.lm_network.LanguageModel` (no vocabulary in the metadata then)."""
    import torch

    net = getattr(obj, "model", obj)
    vocab = getattr(obj, "vocab", None)
    g = lm_graph(net, opset)
    from lstmkit._version import __version__

    lstm = net.lstm
    H, P, L = lstm.hidden_size, lstm.proj_size, lstm.num_layers
    meta: dict[str, Any] = {
        "task": "language_model",
        "config": net.get_config(),
        "io": {
            "input": f"int64 (batch, time) token ids in [0, {net.vocab_size}) (batch-major)",
            **{f"h0_{k}": f"float32 (1, batch, {P or H}): layer {k}'s initial h; zeros to start" for k in range(L)},
            **{f"c0_{k}": f"float32 (1, batch, {H}): layer {k}'s initial c; zeros to start" for k in range(L)},
            "output": f"float32 (batch, time, {net.vocab_size}): next-token logits after each step (not softmaxed)",
            "state_outputs": "hn_k / cn_k after the last step; feed them back as h0_k / c0_k with the next token(s)",
        },
    }
    if vocab is not None:
        from lstmkit.data.corpus import EOS, OOV

        meta["vocabulary"] = {
            "level": vocab.level,
            "tokens": list(vocab.itos),
            "oov_id": 0,
            "oov_token": OOV,
            "eos_token": EOS if vocab.level == "word" else None,
            "tokenize": ("char level: every character (newlines included) is a token" if vocab.level == "char" else
                         "word level: split each line on whitespace (Python str.split()), and end each line with "
                         f"{EOS!r} (Penn Treebank style)"),
            "steps": [
                "1. tokenize the prime text (tokenize)",
                "2. id = index of the token in tokens; 0 (<oov>) for a token not in the list",
                "3. run the ids with zero states; softmax(output[:, -1] / temperature) is the next token's "
                "distribution (lstmkit's generator never samples id 0 and can keep only the top_k scores)",
                "4. feed the sampled id alone with hn_k / cn_k as h0_k / c0_k, and repeat",
            ],
        }

    def sample_feeds(batch: int, length: int, seed: int) -> Feeds:
        rng = np.random.default_rng(seed)
        feeds: Feeds = {"input": rng.integers(0, net.vocab_size, size=(batch, length)).astype(np.int64)}
        for k in range(L):
            feeds[f"h0_{k}"] = (0.5 * rng.normal(size=(1, batch, P or H))).astype(np.float32)
            feeds[f"c0_{k}"] = (0.5 * rng.normal(size=(1, batch, H))).astype(np.float32)
        return feeds

    def reference(feeds: Feeds) -> list[np.ndarray]:
        was_training = net.training
        net.eval()
        try:
            with torch.no_grad():
                w = net.decoder.bias
                x = torch.from_numpy(np.asarray(feeds["input"])).t().to(w.device)
                h0 = torch.cat([torch.from_numpy(feeds[f"h0_{k}"]) for k in range(L)]).to(w.device, w.dtype)
                c0 = torch.cat([torch.from_numpy(feeds[f"c0_{k}"]) for k in range(L)]).to(w.device, w.dtype)
                logits, (h, c) = net(x, (h0, c0))
        finally:
            net.train(was_training)
        h, c = h.float().cpu(), c.float().cpu()
        outs = [logits.transpose(0, 1).float().cpu().numpy()]
        for k in range(L):
            outs += [h[k:k + 1].numpy(), c[k:k + 1].numpy()]
        return outs

    return Exported(model=g.to_model(doc="lstmkit language model export", producer_version=__version__),
                    kind="language_model", metadata=meta, sample_feeds=sample_feeds, reference=reference)


__all__ = ["SUPPORTED_LAYERS", "sequential_graph", "sequential_reference", "export_sequential", "export_text_classifier",
           "export_sentiment", "lm_graph", "export_language_model"]
