r"""ONNX export of the task models: :class:`~lstmkit.tasks.timeseries.forecaster.Forecaster` and
:class:`~lstmkit.tasks.sequences.classifier.SequenceClassifier` (:func:`export_task`).

Both follow the conventions of :mod:`lstmkit.export.base` (data input ``input`` first, then the
recurrent state ``h0_<k>``/``c0_<k>``, then further inputs; ``output`` first, then ``hn_<k>``/``cn_<k>``;
batch and time axes dynamic). Opset 17 by default (any from 13 on), float32.

Forecaster (``method_ == "lstm"``; any other method has no recurrent network and is refused)
----------------------------------------------------------------------------------------------
The graph is the network (:class:`~lstmkit.tasks.timeseries.network.LSTMForecastNetwork`) with its
instance normalisation, segments, embedding, encoder, head and de-normalisation in-graph. It works in
the *model space* of the forecaster: the rows the network reads, i.e. the columns (targets, then
covariates) after the transform (log / Box-Cox, targets only) and the training scaler, exactly what
``Forecaster._scale_rows`` gives. The transform, the scaler's statistics, the non-negative clipping
and the formulas to go from data units to ``input`` and from ``output`` back to forecasts are in the
metadata (``transform``, ``scaler``, ``nonneg``, ``preprocessing``, ``postprocessing``): keeping them
outside the graph keeps the graph's check at 1e-5 meaningful whatever the data's magnitude.

Inputs (``C`` targets, ``K`` covariates, ``d`` units, ``S`` segment, ``H`` horizon, ``P`` parameters)::

    input    (batch, T, C+K)          T a positive multiple of S
    h0_k     (1, batch, C*d)          encoder layer k's initial h: [0, n, c*d:(c+1)*d] is series n's
    c0_k     (1, batch, C*d)          target c (the LSTM's (1, batch*C, d), one row per series)
    loc      (batch, C+K)             instance-normalisation statistics to use; an entry whose
    scale    (batch, C+K)             scale is <= 0 takes the statistic of this window instead

Outputs::

    output   (batch, H, C, P)         the forecast in model space (P: value | quantiles | mean, scale)
    hn_k     (1, batch, C*d)          encoder state after this window's segments
    cn_k     (1, batch, C*d)
    loc_n    (batch, C+K)             the statistics used (feed them back as loc, scale)
    scale_n  (batch, C+K)

The call computes: statistics ``(loc, scale)`` = the given ones where ``scale > 0``, else the window's
(the network's ``instance_norm`` rule); the encoder LSTM run from ``(h0, c0)`` over the window's
segments, normalised with them; the head on the final state, de-normalised with them. One window
with zero states and zero ``loc``/``scale`` is exactly ``network(x)`` (``Forecaster.predict``).

A state carried over two calls: call 1 on window ``A`` (zero states, zero ``loc``/``scale``), call 2 on
window ``B`` (the rows right after ``A``) with call 1's ``hn_k``, ``cn_k``, ``loc_n``, ``scale_n``. Call
2's outputs are exactly the network run from a zero state over the segments of ``A`` followed by
those of ``B`` with ``A``'s statistics, ``network(cat(A, B), stats=stats_of(A))``, which is
``Forecaster.predict(d, window="all", stats_rows=len(A))`` (``d`` the rows of ``A`` then ``B``) and, when
``A`` is ``context`` rows, what the stream ``Forecaster.stream(A)`` forecasts after ``update`` with ``B``'s rows
(:class:`~lstmkit.tasks.timeseries.stream.ForecastStream`); ``len(A)`` and ``len(B)`` multiples of ``S``.
Further calls continue the same way. ``hn_k, cn_k`` are the encoder's state only: the
autoregressive head's extra decoding steps never change it. The forecast itself (point, bounds, in
data units) comes from ``output`` by the metadata's ``postprocessing``.

SequenceClassifier
------------------
The whole prediction path is in-graph: the masking of padded steps, PAA downsampling, the
normalisation (per-feature statistics, or per-series z-normalisation over each row's real steps, in
float64 as lstmkit does it), every ensemble member and the average of their softmax.

Inputs (``F`` features, ``D`` directions, ``u`` units; ``k`` numbers the recurrent layers of all
members in order, ``k = member * layers + layer``)::

    input    (batch, T, F)            the sequences in data units (the features lstmkit's predict_proba
                                      takes), zero-padded or padded with anything: padding is ignored
    h0_k     (D, batch, u)            initial state of recurrent layer k (c0_k for an LSTM)
    lengths  (batch,) int64           real steps of each row, 1..T (model="lstm": 0 keeps the row's state)

Outputs::

    output   (batch, n_classes)       class probabilities, columns in metadata["classes"] order
    hn_k     (D, batch, u)            each row's state after its last real step (cn_k for an LSTM)

``model="lstm"`` (any cell, pooling, layers, bidirectional): the state is the encoder's. For a
unidirectional encoder a carried state means: call 1 on ``A``, call 2 on ``B`` with call 1's
``hn/cn`` runs the encoder exactly as over ``cat(A, B)``; with ``pooling="last"`` call 2's output is
the classifier's on ``cat(A, B)``, with ``"mean"``/``"attention"`` the pooling covers call 2's own
steps only. The backward direction of a bidirectional encoder starts at each call's end, so carrying
it is not a continuation. ``model="lstm_fcn"``/``"alstm_fcn"``: the state is that of the LSTM branch,
which reads the dimension-shuffled series (its steps are the F variables, each the whole time axis);
lstmkit starts it from zeros for every series, so feed zeros: carrying it across calls has no meaning.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lstmkit.errors import ConfigError
from lstmkit.export._task_graph import OPSET, GraphBuilder, batch_major, cell_of, recurrent_layer, sequence_major
from lstmkit.export.base import Exported, Feeds


# ------------------------------------------------------------------------------------------ dispatch
def export_task(obj: Any, opset: int = OPSET) -> Exported:
    """The :class:`~lstmkit.export.base.Exported` of a fitted Forecaster or SequenceClassifier (or of
    a bare :class:`~lstmkit.tasks.timeseries.network.LSTMForecastNetwork`), for ``opset`` (13 or newer)."""
    from lstmkit.tasks.sequences.classifier import SequenceClassifier
    from lstmkit.tasks.timeseries.forecaster import Forecaster
    from lstmkit.tasks.timeseries.network import LSTMForecastNetwork

    if isinstance(obj, Forecaster):
        return _export_forecaster(obj, opset)
    if isinstance(obj, LSTMForecastNetwork):
        return export_forecast_network(obj, opset)
    if isinstance(obj, SequenceClassifier):
        return _export_classifier(obj, opset)
    raise ConfigError(f"export_task: expected a fitted Forecaster or SequenceClassifier, found {type(obj).__name__}")


def _f32(t: Any) -> np.ndarray:
    return np.ascontiguousarray(t.detach().float().cpu().numpy() if hasattr(t, "detach") else np.asarray(t, np.float32))


class _EvalMode:
    """Modules in eval mode for the block (dropout off), their modes restored after; torch.no_grad."""

    def __init__(self, *modules: Any) -> None:
        self.modules = modules

    def __enter__(self) -> None:
        import torch

        self._modes = [m.training for m in self.modules]
        self._grad = torch.no_grad()
        self._grad.__enter__()
        for m in self.modules:
            m.eval()

    def __exit__(self, *exc: Any) -> None:
        for m, mode in zip(self.modules, self._modes):
            m.train(mode)
        self._grad.__exit__(*exc)


# ------------------------------------------------------------------------------------------ forecaster
def _export_forecaster(fc: Any, opset: int = OPSET) -> Exported:
    if fc.method_ is None and fc.network_ is None:
        raise ConfigError("ONNX export: this Forecaster is not fitted yet; call fit(df) or Forecaster.load(path)")
    if fc.method_ == "ensemble":
        raise ConfigError("ONNX export: this Forecaster uses method 'ensemble' (the LSTM averaged with ETS, which has no "
                          "ONNX form); export needs a forecaster fitted with method='lstm'")
    if fc.method_ != "lstm":
        raise ConfigError(f"ONNX export: this Forecaster uses method {fc.method_!r}, a statistical method with no "
                          "recurrent network to export; export needs a forecaster fitted with method='lstm'")
    net = fc.network_
    transform = fc.transform_.to_json() if fc.transform_ is not None else {"kind": "none", "lambdas": []}
    meta = {
        "columns": {"targets": list(fc.targets_), "covariates": list(fc.covariates_ or [])},
        "context": int(fc.context_),
        "freq": fc.freq_,
        "interval_level": fc.interval_level_,
        "scaler": {"mean": [float(v) for v in fc.scaler_.mean_], "scale": [float(v) for v in fc.scaler_.scale_]},
        "transform": transform,
        "nonneg": [bool(v) for v in fc.nonneg_],
        "preprocessing": (
            "input[..., j] = (f_j(x_j) - scaler.mean[j]) / scaler.scale[j] for the columns in order (targets, then "
            "covariates); f_j is the transform for a target (log: log x; boxcox with lambda l: (x^l - 1) / l, or "
            "log x when l == 0) and the identity for a covariate"
        ),
        "postprocessing": (
            "for target c: point = output[..., c, 0] (quantile: output[..., c, p] at the quantile closest to 0.5); "
            "bounds: quantile: the first and last p; gaussian: output[..., c, 0] -/+ z * output[..., c, 1] with "
            "z = Phi^-1(0.5 + interval_level/2); "
            "then each value v -> g_c(v * scaler.scale[c] + scaler.mean[c]) with g_c the inverse transform (log: exp; "
            "boxcox: max(l v + 1, 1e-12)^(1/l), exp when l == 0), then max(v, 0) where nonneg[c]"
        ),
    }
    out = export_forecast_network(net, opset)
    out.metadata.update(meta)
    return out


def export_forecast_network(net: Any, opset: int = OPSET) -> Exported:
    """The graph of an :class:`~lstmkit.tasks.timeseries.network.LSTMForecastNetwork` (see the module docstring)."""
    import torch

    from lstmkit.tasks.timeseries.network import MIN_SCALE, REVIN_EPS, InstanceStats

    C, K, S, d, L = net.n_targets, net.n_covariates, net.segment, net.hidden_size, net.num_layers
    H, M, P, F = net.horizon, net.n_out_segments, net.n_params, net.n_targets + net.n_covariates
    cell_of(net.lstm)
    b = GraphBuilder("lstmkit_forecaster", opset)
    x = b.input("input", ["batch", "time", F])
    state_in = []
    for k in range(L):
        h0, c0 = b.input(f"h0_{k}", [1, "batch", C * d]), b.input(f"c0_{k}", [1, "batch", C * d])
        state_in.append((b.op("Reshape", h0, b.ints(1, -1, d)), b.op("Reshape", c0, b.ints(1, -1, d))))
    loc_in = b.input("loc", ["batch", F])
    scale_in = b.input("scale", ["batch", F])

    # instance-normalisation statistics: the given ones where scale > 0, else the window's
    mode = net.instance_norm
    if mode == "mean":
        loc_w = b.reduce("ReduceMean", x, [1])
        dev = b.op("Sub", x, b.op("Unsqueeze", loc_w, b.ints(1)))
        var = b.reduce("ReduceMean", b.op("Mul", dev, dev), [1])
        scale_w = b.op("Sqrt", b.op("Add", var, b.scalar(REVIN_EPS)))
    else:
        shape_nf = b.op("Concat", b.dim(x, 0), b.ints(F), axis=0)
        ones = b.op("ConstantOfShape", shape_nf, value=_tensor_attr(1.0))
        scale_w = ones
        if mode == "last":
            loc_w = b.op("Gather", x, b.const(np.array(-1, np.int64)), axis=1)
        else:
            loc_w = b.op("ConstantOfShape", shape_nf, value=_tensor_attr(0.0))
    given = b.op("Greater", scale_in, b.scalar(0.0))
    loc = b.op("Where", given, loc_in, loc_w)
    scale = b.op("Where", given, scale_in, scale_w)
    z = b.op("Div", b.op("Sub", x, b.op("Unsqueeze", loc, b.ints(1))), b.op("Unsqueeze", scale, b.ints(1)))

    # segment features (N*C, T/S, S*(1+K)) -> embedding -> encoder
    zt = b.op("Slice", z, b.ints(0), b.ints(C), b.ints(2)) if K else z
    feats = b.op("Reshape", b.op("Transpose", zt, perm=[0, 2, 1]), b.ints(0, 0, -1, S))  # (N, C, T/S, S)
    if K:
        zc = b.op("Slice", z, b.ints(C), b.ints(F), b.ints(2))
        cov = b.op("Unsqueeze", b.op("Reshape", zc, b.ints(0, -1, S * K)), b.ints(1))  # (N, 1, T/S, S*K)
        feats = b.op("Concat", feats, b.op("Expand", cov, b.ints(1, C, 1, 1)), axis=-1)
    feats = b.op("Reshape", b.op("Flatten", feats, axis=2), b.ints(0, -1, S * (1 + K)))
    emb = b.op("Relu", b.linear(feats, net.embed.weight, net.embed.bias, "embed"))
    seq = b.op("Transpose", emb, perm=[1, 0, 2])  # (T/S, N*C, d)
    states = []
    for k, (h0, c0) in enumerate(state_in):
        y, h, c = recurrent_layer(b, net.lstm, k, seq, h0, c0)
        seq = b.op("Squeeze", y, b.ints(1))
        states.append((h, c))
    final = list(states)

    # head -> raw (N, C, M, S*P)
    h_top = b.op("Squeeze", states[-1][0], b.ints(0))  # (N*C, d)
    if net.head == "direct":
        c_top = b.op("Squeeze", states[-1][1], b.ints(0))
        with _EvalMode(net):
            queries = torch.cat([net.position_embedding[:, None, :].expand(M, C, -1),
                                 net.channel_embedding[None].expand(M, C, -1)], dim=-1)
            table = net.query_input(queries).permute(1, 0, 2)  # (C, M, 4d), weights only
        pre = b.op("Add", b.op("Reshape", b.linear(h_top, net.query_hidden.weight, None, "query_hidden"),
                               b.ints(-1, C, 1, 4 * d)), b.const(_f32(table), "query_table"))
        i, f, g, o = b.op("Split", pre, b.ints(d, d, d, d), axis=-1, outputs=4)
        c_new = b.op("Add", b.op("Mul", b.op("Sigmoid", f), b.op("Reshape", c_top, b.ints(-1, C, 1, d))),
                     b.op("Mul", b.op("Sigmoid", i), b.op("Tanh", g)))
        h_new = b.op("Mul", b.op("Sigmoid", o), b.op("Tanh", c_new))
        raw = b.linear(h_new, net.project.weight, net.project.bias, "project")
    else:
        outs = []
        for m in range(M):
            step = b.linear(h_top, net.project.weight, net.project.bias, "project")  # (N*C, S*P)
            outs.append(b.op("Unsqueeze", step, b.ints(1)))
            if m + 1 == M:
                break
            r3 = b.op("Reshape", step, b.ints(-1, S, P))
            if net.output == "quantile":
                r3 = b.op("TopK", r3, b.ints(P), axis=-1, largest=0, sorted=1, outputs=2)[0]
                pick = net.median_index
            else:
                pick = 0
            seg = b.op("Gather", r3, b.const(np.array(pick, np.int64)), axis=2)  # (N*C, S), normalised point
            inp = b.op("Unsqueeze", b.op("Relu", b.linear(seg, net.embed.weight, net.embed.bias, "embed")), b.ints(0))
            for k in range(L):
                y, h, c = recurrent_layer(b, net.lstm, k, inp, *states[k])
                states[k] = (h, c)
                inp = b.op("Squeeze", y, b.ints(1))
            h_top = b.op("Squeeze", states[-1][0], b.ints(0))
        raw = b.op("Reshape", b.op("Concat", *outs, axis=1), b.ints(-1, C, M, S * P))

    # crop to H, (N, H, C, P), de-normalise
    raw = b.op("Reshape", raw, b.ints(-1, C, M * S, P))
    raw = b.op("Transpose", b.op("Slice", raw, b.ints(0), b.ints(H), b.ints(2)), perm=[0, 2, 1, 3])
    loc_t = b.op("Reshape", b.op("Slice", loc, b.ints(0), b.ints(C), b.ints(1)), b.ints(-1, 1, C, 1))
    scale_t = b.op("Reshape", b.op("Slice", scale, b.ints(0), b.ints(C), b.ints(1)), b.ints(-1, 1, C, 1))
    if net.output == "gaussian":
        mean = b.op("Add", b.op("Mul", b.op("Slice", raw, b.ints(0), b.ints(1), b.ints(3)), scale_t), loc_t)
        sigma = b.op("Mul", b.op("Add", b.op("Softplus", b.op("Slice", raw, b.ints(1), b.ints(2), b.ints(3))),
                                 b.scalar(MIN_SCALE)), scale_t)
        out = b.op("Concat", mean, sigma, axis=-1)
    else:
        out = b.op("Add", b.op("Mul", raw, scale_t), loc_t)
        if net.output == "quantile":
            out = b.op("TopK", out, b.ints(P), axis=-1, largest=0, sorted=1, outputs=2)[0]
    b.output(out, "output", ["batch", H, C, P])
    for k, (h, c) in enumerate(final):
        b.output(b.op("Reshape", h, b.ints(1, -1, C * d)), f"hn_{k}", [1, "batch", C * d])
        b.output(b.op("Reshape", c, b.ints(1, -1, C * d)), f"cn_{k}", [1, "batch", C * d])
    b.output(loc, "loc_n", ["batch", F])
    b.output(scale, "scale_n", ["batch", F])
    model = b.model("lstmkit forecaster network (see lstmkit.export.tasks)")

    def reference(feeds: Feeds) -> list[np.ndarray]:
        x_ = torch.from_numpy(np.ascontiguousarray(feeds["input"], dtype=np.float32))
        xt, xc = x_[..., :C], (x_[..., C:] if K else None)
        with _EvalMode(net):
            w = net.instance_stats(xt, xc)
            loc_w_ = torch.cat([w.loc, w.cov_loc], -1) if K else w.loc
            scale_w_ = torch.cat([w.scale, w.cov_scale], -1) if K else w.scale
            loc_g = torch.from_numpy(np.asarray(feeds["loc"], np.float32))[:, None, :]
            scale_g = torch.from_numpy(np.asarray(feeds["scale"], np.float32))[:, None, :]
            loc_ = torch.where(scale_g > 0, loc_g, loc_w_)
            scale_ = torch.where(scale_g > 0, scale_g, scale_w_)
            stats = InstanceStats(loc_[..., :C], scale_[..., :C], loc_[..., C:] if K else None,
                                  scale_[..., C:] if K else None)
            z_, zc_ = net.normalise(xt, xc, stats)
            h0_, c0_ = (torch.cat([torch.from_numpy(np.asarray(feeds[f"{p}_{k}"], np.float32)).reshape(1, -1, d)
                                   for k in range(L)]) for p in ("h0", "c0"))
            _, (hn, cn) = net.lstm(net._embed(net.segment_features(z_, zc_)), (h0_, c0_))
            result = [net.decode((hn, cn), stats)]
        for k in range(L):
            result += [hn[k : k + 1].reshape(1, -1, C * d), cn[k : k + 1].reshape(1, -1, C * d)]
        result += [loc_[:, 0], scale_[:, 0]]
        return [_f32(r) for r in result]

    def sample_feeds(batch: int, length: int, seed: int) -> Feeds:
        """Random feeds; ``length`` is rounded up to a multiple of the segment. Every other ``scale``
        entry (``(n + j)`` even) is 0, so it takes the window's own statistic; the others are in [0.5, 2]."""
        rng = np.random.default_rng(seed)
        T = S * max(1, math.ceil(length / S))
        feeds = {"input": rng.standard_normal((batch, T, F)).astype(np.float32)}
        for k in range(L):
            feeds[f"h0_{k}"] = (0.5 * rng.standard_normal((1, batch, C * d))).astype(np.float32)
            feeds[f"c0_{k}"] = rng.standard_normal((1, batch, C * d)).astype(np.float32)
        feeds["loc"] = (0.5 * rng.standard_normal((batch, F))).astype(np.float32)
        scale_ = rng.uniform(0.5, 2.0, (batch, F))
        scale_[(np.arange(batch)[:, None] + np.arange(F)[None, :]) % 2 == 0] = 0.0
        feeds["scale"] = scale_.astype(np.float32)
        return feeds

    params = {"point": ["value"], "gaussian": ["mean", "scale"]}.get(net.output) or [f"q{q:g}" for q in net.quantiles]
    meta = {
        "network": net.get_config(),
        "horizon": H, "segment": S, "targets": C, "covariates": K, "hidden_size": d, "layers": L,
        "instance_norm": mode, "head": net.head, "output_type": net.output,
        "quantiles": list(net.quantiles) or None, "parameters": params,
        "input": f"(batch, T, {F}) rows in the network's space (targets then covariates), T a multiple of {S}",
        "state": (f"h0_k/c0_k (1, batch, {C}*{d}): encoder LSTM layer k, [0, n, c*{d}:(c+1)*{d}] for series n and "
                  "target c; hn_k/cn_k: the encoder state after the window (the autoregressive head's decoding never "
                  "changes it)"),
        "input_defaults": {"loc": 0.0, "scale": 0.0},
        "stats": ("loc/scale (batch, C+K): instance-normalisation statistics; an entry with scale <= 0 takes the "
                  f"window's own ({mode!r}: " + {"mean": "mean and sqrt(var + 1e-5) over time",
                                                  "last": "the last row, scale 1", "none": "0 and 1"}[mode]
                  + "); loc_n/scale_n are the statistics used. Zeros for one window; to continue a series, feed the "
                  "previous call's hn/cn/loc_n/scale_n (the network run over both windows with the first one's "
                  "statistics)"),
        "output": (f"(batch, {H}, {C}, {P}) the forecast of the {H} steps after the window, in the input's space; "
                   f"last axis: parameters ({', '.join(params)})"),
        "output_axes": ["batch", "step", "target", "parameter"],
    }
    return Exported(model, "forecaster", meta, sample_feeds, reference, None)


def _tensor_attr(value: float) -> Any:
    from onnx import TensorProto, helper

    return helper.make_tensor("value", TensorProto.FLOAT, [1], [float(value)])


# ------------------------------------------------------------------------------------------ classifier
def _export_classifier(clf: Any, opset: int = OPSET) -> Exported:
    import torch

    from lstmkit.tasks.sequences.classifier import pad_batch
    from lstmkit.tasks.sequences.networks import LSTMFCNNet

    if not clf.nets_:
        raise ConfigError("ONNX export: this SequenceClassifier is not fitted yet; call fit(sequences, labels) "
                          "or SequenceClassifier.load(path)")
    s, nets, nf = clf.settings_, list(clf.nets_), int(clf.n_features_)
    fcn = isinstance(nets[0], LSTMFCNNet)
    rnn0 = nets[0].rnn
    cell = cell_of(rnn0)
    L, D, U = rnn0.num_layers, 2 if rnn0.bidirectional else 1, rnn0.hidden_size
    lstm = cell == "lstm"
    norm = "series" if s.get("normalize") == "series" else ("feature" if clf.scaler_ is not None else "none")
    factor = int(s.get("downsample", 1) or 1)

    b = GraphBuilder("lstmkit_sequence_classifier", opset)
    x = b.input("input", ["batch", "time", nf])
    state_in: list[list[tuple[str, str | None]]] = []
    for m in range(len(nets)):
        layers = []
        for layer in range(L):
            k = m * L + layer
            h0 = b.input(f"h0_{k}", [D, "batch", U])
            layers.append((h0, b.input(f"c0_{k}", [D, "batch", U]) if lstm else None))
        state_in.append(layers)
    lengths = b.input("lengths", ["batch"], np.int64)

    # preprocessing: padding to 0, PAA, normalisation (as SequenceClassifier._transform, then pad_batch)
    lens = lengths
    mask = b.step_mask(lens, x)
    x = b.op("Where", b.op("Unsqueeze", mask, b.ints(2)), x, b.scalar(0.0))
    if factor > 1:
        xd = b.op("Cast", x, to=_DOUBLE)
        T = b.dim_scalar(x, 1)
        k_ = b.const(np.array(factor, np.int64))
        pad = b.op("Mod", b.op("Sub", k_, b.op("Mod", T, k_)), k_)
        xd = b.op("Pad", xd, b.op("Concat", b.ints(0, 0, 0, 0), b.op("Unsqueeze", pad, b.ints(0)), b.ints(0), axis=0))
        sums = b.op("ReduceSum", b.op("Reshape", xd, b.ints(0, -1, factor, nf)), b.ints(2), keepdims=0)
        runs = b.op("Range", b.const(np.array(0, np.int64)), b.dim_scalar(sums, 1), b.const(np.array(1, np.int64)))
        count = b.op("Cast", b.op("Sub", b.op("Unsqueeze", lens, b.ints(1)),
                                  b.op("Mul", b.op("Unsqueeze", runs, b.ints(0)), k_)), to=_DOUBLE)
        count = b.op("Max", b.op("Min", count, b.const(np.array(factor, np.float64), dtype=np.float64)),
                     b.const(np.array(1.0), dtype=np.float64))
        x = b.op("Cast", b.op("Div", sums, b.op("Unsqueeze", count, b.ints(2))), to=_FLOAT)
        lens = b.op("Div", b.op("Add", lens, b.const(np.array(factor - 1, np.int64))), k_)
        mask = b.step_mask(lens, x)
    mask3 = b.op("Unsqueeze", mask, b.ints(2))
    if norm == "feature":
        x = b.op("Div", b.op("Sub", x, b.const(clf.scaler_.mean.astype(np.float32), "feature_mean")),
                 b.const(clf.scaler_.std.astype(np.float32), "feature_std"))
    elif norm == "series":
        xd = b.op("Cast", x, to=_DOUBLE)
        md = b.op("Cast", mask3, to=_DOUBLE)
        n = b.op("Cast", b.op("Reshape", lens, b.ints(-1, 1, 1)), to=_DOUBLE)
        mean = b.op("Div", b.op("ReduceSum", b.op("Mul", xd, md), b.ints(1), keepdims=1), n)
        dev = b.op("Mul", b.op("Sub", xd, mean), md)
        std = b.op("Sqrt", b.op("Div", b.op("ReduceSum", b.op("Mul", dev, dev), b.ints(1), keepdims=1), n))
        one = b.const(np.array(1.0), dtype=np.float64)
        floor = b.op("Mul", b.const(np.array(1e-8), dtype=np.float64), b.op("Max", b.op("Abs", mean), one))
        scale = b.op("Where", b.op("Greater", std, floor), std, one)
        x = b.op("Cast", b.op("Div", b.op("Sub", xd, mean), scale), to=_FLOAT)
    x = b.op("Where", mask3, x, b.scalar(0.0))

    lens_f = b.op("Cast", b.op("Unsqueeze", lens, b.ints(1)), to=_FLOAT)  # (N, 1)
    total = None
    final_states: list[tuple[str, str | None]] = []
    for m, net in enumerate(nets):
        if fcn:
            logits, states = _fcn_member(b, net, x, mask, lens_f, state_in[m])
        else:
            logits, states = _lstm_member(b, net, x, mask, mask3, lens, lens_f, state_in[m])
        final_states += states
        probs = b.op("Softmax", logits, axis=1)
        total = probs if total is None else b.op("Add", total, probs)
    if len(nets) > 1:
        total = b.op("Div", total, b.scalar(float(len(nets))))
    n_classes = len(clf.classes_)
    b.output(total, "output", ["batch", n_classes])
    for k, (h, c) in enumerate(final_states):
        b.output(h, f"hn_{k}", [D, "batch", U])
        if c is not None:
            b.output(c, f"cn_{k}", [D, "batch", U])
    model = b.model("lstmkit sequence classifier (see lstmkit.export.tasks)")

    def reference(feeds: Feeds) -> list[np.ndarray]:
        xin = np.asarray(feeds["input"], np.float32)
        lens_ = np.asarray(feeds["lengths"]).astype(np.int64)
        seqs = clf._transform([np.ascontiguousarray(xin[i, : lens_[i]]) for i in range(len(xin))])
        xb, lb = pad_batch(seqs, list(range(len(seqs))))
        total_ = None
        states_: list[np.ndarray] = []
        with _EvalMode(*nets):
            for m, net in enumerate(nets):
                def state(prefix: str) -> Any:
                    return torch.cat([torch.from_numpy(np.asarray(feeds[f"{prefix}_{m * L + layer}"], np.float32))
                                      for layer in range(L)])
                hx = (state("h0"), state("c0")) if lstm else state("h0")
                logits, st = _with_state(net, hx, xb, lb)
                p = torch.softmax(logits.float(), dim=1).double()
                total_ = p if total_ is None else total_ + p
                h_n, c_n = st if lstm else (st, None)
                for layer in range(L):
                    states_.append(_f32(h_n[layer * D : (layer + 1) * D]))
                    if lstm:
                        states_.append(_f32(c_n[layer * D : (layer + 1) * D]))
        return [_f32(total_ / len(nets))] + states_

    mean_ = clf.scaler_.mean if clf.scaler_ is not None else np.zeros(nf, np.float32)
    std_ = clf.scaler_.std if clf.scaler_ is not None else np.ones(nf, np.float32)

    def _feeds(rng: np.random.Generator, batch: int, length: int, lens_: np.ndarray) -> Feeds:
        feeds = {"input": (mean_ + std_ * rng.standard_normal((batch, length, nf))).astype(np.float32)}
        for k in range(len(nets) * L):
            feeds[f"h0_{k}"] = (0.5 * rng.standard_normal((D, batch, U))).astype(np.float32)
            if lstm:
                feeds[f"c0_{k}"] = rng.standard_normal((D, batch, U)).astype(np.float32)
        feeds["lengths"] = lens_.astype(np.int64)
        return feeds

    def sample_feeds(batch: int, length: int, seed: int) -> Feeds:
        """Random sequences of ``length`` real steps each (in the data's units), random states."""
        length = max(int(length), 1)
        return _feeds(np.random.default_rng(seed), batch, length, np.full(batch, length))

    def ragged_feeds(seed: int) -> Feeds:
        """Four sequences of 10, 6, 1 and 4 real steps in one batch; the padding holds random values."""
        return _feeds(np.random.default_rng(seed), 4, 10, np.array([10, 6, 1, 4]))

    meta = {
        "classes": [c if isinstance(c, (int, str)) else str(c) for c in clf.classes_],
        "n_features": nf, "model": s.get("model", "lstm"), "cell": cell, "units": U, "layers": L,
        "bidirectional": D == 2, "pooling": s.get("pooling"), "ensemble": len(nets),
        "normalize": norm, "downsample": factor, "shuffle_length": s.get("shuffle_length") if fcn else None,
        "feature_mean": [float(v) for v in clf.scaler_.mean] if norm == "feature" else None,
        "feature_std": [float(v) for v in clf.scaler_.std] if norm == "feature" else None,
        "audio": clf.audio.to_dict() if clf.audio is not None else None,
        "input": (f"(batch, T, {nf}) sequences in the data's units (audio: the MFCC features of the audio config), "
                  "padded to T; downsampling and normalisation are in the graph"),
        "input_defaults": {"lengths": "time"},
        "lengths": ("(batch,) int64, real steps of each row, 1..T; steps at or after it are ignored" + (
            "" if fcn else " (0: the row keeps its state, hn = h0)")),
        "state": (("h0_k/c0_k" if lstm else "h0_k") + f" ({D}, batch, {U}): recurrent layer k = member * {L} + layer; "
                  + ("the LSTM branch over the dimension-shuffled series (steps = the features); lstmkit starts it "
                     "from zeros for every series: feed zeros, carrying it across calls has no meaning"
                     if fcn else
                     "the encoder over time; hn/cn: each row's state after its last real step. Carried into the "
                     "next call it continues the encoder over the concatenation (forward direction; with "
                     "pooling='last' and one direction the output is the classifier's on the concatenation)")),
        "state_layers": [{"index": m * L + layer, "member": m, "layer": layer}
                         for m in range(len(nets)) for layer in range(L)],
        "output": f"(batch, {n_classes}) class probabilities (the mean of the members' softmax), columns in classes order",
    }
    return Exported(model, "sequence_classifier", meta, sample_feeds, reference, ragged_feeds)


_FLOAT, _DOUBLE, _INT32 = 1, 11, 6  # onnx.TensorProto.FLOAT, DOUBLE, INT32


def _with_state(net: Any, hx: Any, x: Any, lengths: Any) -> tuple[Any, Any]:
    """``(logits, final state)`` of ``net(x, lengths)`` (its own forward) with its RNN started from ``hx``."""
    captured: list[Any] = []

    def pre(module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        return (args[0], hx), kwargs

    def post(module: Any, args: Any, output: Any) -> None:
        captured.append(output[1])

    handles = [net.rnn.register_forward_pre_hook(pre, with_kwargs=True), net.rnn.register_forward_hook(post)]
    try:
        logits = net(x, lengths)
    finally:
        for h in handles:
            h.remove()
    return logits, captured[0]


def _pool(b: GraphBuilder, net: Any, out: str, h_last: str, mask: str | None, mask3: str | None,
          lens_f: str | None) -> str:
    """The recurrent pooling of SequenceNet / LSTMFCNNet: ``out`` ``(N, steps, D*H)`` -> ``(N, D*H)``."""
    if net.pooling == "last":
        return b.op("Reshape", b.op("Transpose", h_last, perm=[1, 0, 2]), b.ints(0, -1))
    if net.pooling == "mean":
        if mask is None:
            return b.reduce("ReduceMean", out, [1])
        return b.op("Div", b.op("ReduceSum", b.op("Where", mask3, out, b.scalar(0.0)), b.ints(1), keepdims=0), lens_f)
    att = net.attention
    kernel = b.const(_f32(att.kernel), "attention_kernel")
    scores = b.op("MatMul", b.op("Tanh", b.op("Add", b.op("MatMul", out, kernel), b.const(_f32(att.bias), "attention_bias"))),
                  b.const(_f32(att.context), "attention_context"))
    scores = b.op("Squeeze", scores, b.ints(2))  # (N, steps)
    if mask is None:
        weights = b.op("Softmax", scores, axis=1)
    else:
        scores = b.op("Where", mask, scores, b.scalar(float("-inf")))
        weights = b.op("Mul", b.op("Softmax", scores, axis=1), b.op("Cast", mask, to=_FLOAT))
    return b.op("ReduceSum", b.op("Mul", b.op("Unsqueeze", weights, b.ints(2)), out), b.ints(1), keepdims=0)


def _recurrent_stack(b: GraphBuilder, rnn: Any, seq: str, states: list[tuple[str, str | None]],
                     lens: str | None = None) -> tuple[str, list[tuple[str, str | None]]]:
    """The layers of ``rnn`` over ``seq`` ``(steps, N, in)``: ``(Y of the last layer, [(h_n, c_n)] per layer)``.

    With ``lens`` (int64 ``(N,)``) a row of length 0 keeps its initial state, as in lstmkit (ONNX Runtime
    would give zeros)."""
    finals = []
    y = seq
    seq_lens = alive = ""
    if lens is not None:
        seq_lens = b.op("Cast", lens, to=_INT32)
        alive = b.op("Reshape", b.op("Greater", lens, b.const(np.array(0, np.int64))), b.ints(1, -1, 1))
    for layer, (h0, c0) in enumerate(states):
        y, h, c = recurrent_layer(b, rnn, layer, seq, h0, c0, seq_lens)
        if alive:
            h = b.op("Where", alive, h, h0)
            c = b.op("Where", alive, c, c0) if c is not None else None
        finals.append((h, c))
        seq = sequence_major(b, y)
    return y, finals


def _lstm_member(b: GraphBuilder, net: Any, x: str, mask: str, mask3: str, lens: str, lens_f: str,
                 states: list[tuple[str, str | None]]) -> tuple[str, list[tuple[str, str | None]]]:
    seq = b.op("Transpose", x, perm=[1, 0, 2])
    y, finals = _recurrent_stack(b, net.rnn, seq, states, lens)
    pooled = _pool(b, net, batch_major(b, y), finals[-1][0], mask, mask3, lens_f)
    return b.linear(pooled, net.head.weight, net.head.bias, "head"), finals


def _fcn_member(b: GraphBuilder, net: Any, x: str, mask: str, lens_f: str,
                states: list[tuple[str, str | None]]) -> tuple[str, list[tuple[str, str | None]]]:
    # recurrent branch: the dimension-shuffled series, the time axis padded or cut to shuffle_length
    W = int(net.shuffle_length)
    s_ = b.op("Transpose", x, perm=[0, 2, 1])  # (N, F, T)
    pad = b.op("Max", b.op("Sub", b.const(np.array(W, np.int64)), b.dim_scalar(s_, 2)), b.const(np.array(0, np.int64)))
    s_ = b.op("Pad", s_, b.op("Concat", b.ints(0, 0, 0, 0, 0), b.op("Unsqueeze", pad, b.ints(0)), axis=0))
    s_ = b.op("Slice", s_, b.ints(0), b.ints(W), b.ints(2))
    y, finals = _recurrent_stack(b, net.rnn, b.op("Transpose", s_, perm=[1, 0, 2]), states)
    r = _pool(b, net, batch_major(b, y), finals[-1][0], None, None, None)
    # convolution branch over real steps
    y = b.op("Transpose", x, perm=[0, 2, 1])
    maskf = b.op("Cast", b.op("Unsqueeze", mask, b.ints(1)), to=_FLOAT)  # (N, 1, T)
    for i, (conv, norm) in enumerate(zip(net.convs, net.norms)):
        k = int(conv.kernel_size[0])
        y = b.op("Pad", y, b.ints(0, 0, (k - 1) // 2, 0, 0, k // 2))
        y = b.op("Conv", y, b.const(_f32(conv.weight), f"conv{i}_w"), b.const(_f32(conv.bias), f"conv{i}_b"),
                 kernel_shape=[k])
        y = b.op("BatchNormalization", y, b.const(_f32(norm.weight), f"bn{i}_scale"), b.const(_f32(norm.bias), f"bn{i}_b"),
                 b.const(_f32(norm.running_mean), f"bn{i}_mean"), b.const(_f32(norm.running_var), f"bn{i}_var"),
                 epsilon=float(norm.eps))
        y = b.op("Relu", b.op("Mul", y, maskf))
    g = b.op("Div", b.op("ReduceSum", y, b.ints(2), keepdims=0), lens_f)
    return b.linear(b.op("Concat", r, g, axis=1), net.head.weight, net.head.bias, "head"), finals


__all__ = ["export_task", "export_forecast_network"]
