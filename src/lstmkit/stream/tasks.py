r"""Stream programs for the task models: :class:`StreamEngine` steps a Forecaster, a SequenceClassifier,
a TextClassifier (and the sentiment demo's classifier) or a language model one event at a time.

Each program keeps everything a stream needs in one flat float32 vector (``layout`` names the parts)
and steps its recurrent layers on the kernels of :mod:`lstmkit.nn.step`, so ``StreamEngine(model)``
works for any lstmkit model whose network is recurrent and causal. What an event is and what it gives:

**Forecaster** (:class:`ForecasterProgram`; only ``method_ == "lstm"``). An event is one new row of
the series, in the data's units: the targets then the covariates (``columns_`` order), as a list of
numbers, a single number when the model reads one column, or a ``{column: value}`` dict. Priming:
the first ``P = context_`` rows only fill a buffer kept in the state; their output is
``{"ready": False, "rows_needed": k, ...}``. The ``P``-th row primes the stream exactly as
:meth:`Forecaster.stream` does on those rows (instance-normalisation statistics of the ``P`` rows,
one LSTM state per segment phase), and from then on every event is one LSTM step of the phase the
new row completes. The output after ``t >= P`` rows ``d[:t]`` is the forecast of the next
``horizon`` rows, ``{"ready": True, "forecast": {target: [H values], target_lower: ..., target_upper:
...}}``, equal (1e-5) to ``forecaster.predict(d[:t], window="all", stats_rows=P)`` (for ``t = P``:
``predict(d[:P])``), which is what :class:`~lstmkit.tasks.timeseries.stream.ForecastStream` gives.
Rows carry no timestamps: they are taken to be consecutive. To restore the trained setting after a
long run (the statistics grow stale), delete the stream and prime it again.

**SequenceClassifier** (:class:`SequenceClassifierProgram`; only ``model="lstm"``, forward,
``normalize`` ``"feature"`` or ``"none"``, no ``downsample``). An event is one time step: ``F``
numbers (one number when ``F == 1``; audio models: one feature frame). The output after ``t``
steps is ``{"label", "probabilities": {label: p}, "steps": t}``, equal (1e-5) to ``predict_proba``
on the first ``t`` steps. Pooling ``last`` reads the top layer's state; ``mean`` keeps a running sum
(and the count); ``attention`` keeps an online softmax (running maximum score, the sum of
``exp(score - max)`` and the weighted sum of outputs). Ensembles keep each member's state and
average the members' probabilities, as ``predict_proba`` does.

**TextClassifier** and the sentiment demo's classifier (:class:`TextClassifierProgram`; forward
networks only). An event is a token id, a list of token ids, or a text (tokenised with the
classifier's own vectorizer; all its tokens are applied, one step each, in the one event). The
output is ``{"label", "probabilities", "tokens": n, ...}`` after every token so far, equal (1e-5)
to ``predict_proba`` of the texts joined (with a space at word level; directly at character level)
as long as ``n <= max_length``. Past ``max_length`` the stream keeps stepping over every token
(``"beyond_max_length": True``), while ``predict`` would read only the last (``truncation="pre"``)
or first ``max_length`` tokens. Poolings ``last``, ``mean`` (running sum), ``max`` (running max)
and ``attention`` (online softmax) are all stepped exactly.

**Language models** (:class:`LanguageModelProgram`, a :class:`LanguageModelGenerator`). An event is
a token id, a list of ids, or a text chunk (tokenised with the model's vocabulary: characters, or
words with ``<eos>`` at each newline; unseen tokens are ``<oov>``). The output is the next-token
distribution after every token so far (``"next"``: the ``top_k`` most probable tokens; the whole
distribution with ``full_distribution=True``), equal (1e-5) to the model run over all the tokens at
once, and a sampled ``"continuation"`` of a few tokens, drawn from a copy of the state (the stored
state is not changed) with a generator seeded from the stream id and the event's number, so a
repeated ``seq`` or a replayed stream gives the same continuation.

Every program has a ``signature`` (sha256 of the configuration, the preprocessing and the weights:
a state written by another model is refused), ``layout``, ``info()`` (JSON-able) and ``decode``
returning JSON-able dicts. ``run(..., trace=True)`` gives, per recurrent layer, the gates of the
step each event made (``input_gate, forget_gate, candidate, output_gate, cell_state,
hidden_state`` for an LSTM; ``reset_gate, update_gate, candidate, hidden_state`` for a GRU): for
events of several tokens, those of the last token; for a forecaster, ``(targets, units)`` per event,
NaN for events that stepped no LSTM (priming rows).
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Sequence

import numpy as np

from lstmkit.errors import ConfigError, InputValueError, ShapeError
from lstmkit.stream.programs import StreamProgram

#: tokens at most in one event of a token model (a longer text is split into several events)
MAX_EVENT_TOKENS = 100_000


# ------------------------------------------------------------------------------------------- helpers
def _np(t: Any) -> np.ndarray:
    """A tensor or array as a contiguous float32 NumPy array (a copy)."""
    if hasattr(t, "detach"):
        t = t.detach().cpu().float().numpy()
    return np.array(t, dtype=np.float32, copy=True, order="C")


def _signature(kind: str, config: dict[str, Any], tensors: dict[str, Any]) -> str:
    """sha256 over the kind, a JSON-able configuration and the named tensors (bytes as stored)."""
    h = hashlib.sha256()
    h.update(kind.encode())
    h.update(json.dumps(config, sort_keys=True, default=str).encode())
    for name in sorted(tensors):
        t = tensors[name]
        arr = t.detach().cpu().contiguous().numpy() if hasattr(t, "detach") else np.ascontiguousarray(t)
        h.update(name.encode())
        h.update(str(arr.dtype).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


class _Layout:
    """Builds a program's flat-state layout: ``(name, offset, size)`` parts, in order."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, int, int]] = []
        self.size = 0

    def add(self, name: str, size: int) -> slice:
        self.parts.append((name, self.size, int(size)))
        self.size += int(size)
        return slice(self.size - int(size), self.size)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class _LSTMPStep:
    """One LSTM step with an output projection (``weight_hr``), PyTorch layout: ``h' = W_hr (o * tanh(c'))``."""

    def __init__(self, weight_ih: Any, weight_hh: Any, bias_ih: Any, bias_hh: Any, weight_hr: Any) -> None:
        wi, wh, wr = _np(weight_ih), _np(weight_hh), _np(weight_hr)
        self.hidden = wi.shape[0] // 4
        self.wi, self.wh, self.wr = wi.T.copy(), wh.T.copy(), wr.T.copy()
        self.b = np.zeros(wi.shape[0], np.float32)
        for bias in (bias_ih, bias_hh):
            if bias is not None:
                self.b = self.b + _np(bias)

    def __call__(self, x: np.ndarray, h: np.ndarray, c: np.ndarray, trace: bool = False):
        H = self.hidden
        z = x @ self.wi + h @ self.wh + self.b
        i, f, o = _sigmoid(z[:, :H]), _sigmoid(z[:, H:2 * H]), _sigmoid(z[:, 3 * H:])
        g = np.tanh(z[:, 2 * H:3 * H])
        c_new = f * c + i * g
        h_new = (o * np.tanh(c_new)) @ self.wr
        if not trace:
            return h_new, c_new
        return h_new, c_new, {"input_gate": i, "forget_gate": f, "candidate": g, "output_gate": o}


class _ReluRNNStep:
    """SimpleRNN with ``nonlinearity="relu"``: ``h' = relu(x W_ih^T + h W_hh^T + b)``."""

    def __init__(self, weight_ih: Any, weight_hh: Any, bias_ih: Any, bias_hh: Any) -> None:
        self.wi, self.wh = _np(weight_ih).T.copy(), _np(weight_hh).T.copy()
        self.b = np.zeros(self.wi.shape[1], np.float32)
        for bias in (bias_ih, bias_hh):
            if bias is not None:
                self.b = self.b + _np(bias)

    def __call__(self, x: np.ndarray, h: np.ndarray, trace: bool = False):
        h_new = np.maximum(x @ self.wi + h @ self.wh + self.b, 0.0)
        return (h_new, {}) if trace else h_new


class _Layer:
    """One forward recurrent layer on a step kernel, with its slices of the flat state."""

    def __init__(self, kind: str, kernel: Any, name: str, h: slice, c: slice | None) -> None:
        self.kind, self.kernel, self.name, self.h, self.c = kind, kernel, name, h, c

    def step(self, x: np.ndarray, s: np.ndarray, rows: Any, trace: dict | None) -> np.ndarray:
        """Step rows ``rows`` of the state ``s`` (updated in place) with inputs ``x``; returns the output."""
        if self.kind == "lstm":
            got = self.kernel(x, s[rows, self.h], s[rows, self.c], trace is not None)
            s[rows, self.h], s[rows, self.c] = got[0], got[1]
            if trace is not None:
                trace[self.name] = {**got[2], "cell_state": got[1], "hidden_state": got[0]}
            return got[0]
        got = self.kernel(x, s[rows, self.h], trace is not None)
        h = got[0] if trace is not None else got
        s[rows, self.h] = h
        if trace is not None:
            trace[self.name] = {**got[1], "hidden_state": h}
        return h


def _recurrent_layers(rnn: Any, layout: _Layout, prefix: str, what: str, hint: str) -> list[_Layer]:
    """The layers of a forward :mod:`lstmkit.nn` LSTM / GRU / SimpleRNN (any ``num_layers``) on step kernels;
    their state parts ``{prefix}layer{k}.h`` (and ``.c``) are added to ``layout``."""
    from lstmkit.nn import GRU, LSTM, SimpleRNN
    from lstmkit.nn.step import GRUStep, LSTMStep, RNNStep

    if getattr(rnn, "bidirectional", False):
        raise ConfigError(f"{what}: a bidirectional recurrent layer reads the sequence from its end too, so it "
                          f"cannot be stepped one event at a time; {hint}")
    if isinstance(rnn, LSTM):
        kind = "lstm"
        for part in ("peephole", "layer_norm"):
            if getattr(rnn, part, False):
                raise ConfigError(f"{what}: an LSTM with {part}=True is not supported by the step kernels")
    elif isinstance(rnn, GRU):
        kind = "gru"
    elif isinstance(rnn, SimpleRNN):
        kind = "rnn"
    else:
        raise ConfigError(f"{what}: {type(rnn).__name__} is not a recurrent layer the stream engine can step")
    layers = []
    for k in range(int(rnn.num_layers)):
        w = [getattr(rnn, f"{n}_l{k}", None) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        name = f"{prefix}layer{k}"
        if kind == "lstm":
            proj = getattr(rnn, f"weight_hr_l{k}", None)
            kernel = LSTMStep(*w) if proj is None else _LSTMPStep(*w, proj)
            h = layout.add(f"{name}.h", rnn.proj_size or rnn.hidden_size)
            c = layout.add(f"{name}.c", rnn.hidden_size)
        else:
            if kind == "gru":
                kernel = GRUStep(*w)
            else:
                kernel = RNNStep(*w) if getattr(rnn, "nonlinearity", "tanh") == "tanh" else _ReluRNNStep(*w)
            h, c = layout.add(f"{name}.h", rnn.hidden_size), None
        layers.append(_Layer(kind, kernel, name, h, c))
    return layers


def _step_layers(layers: list[_Layer], x: np.ndarray, s: np.ndarray, rows: Any, trace: dict | None) -> np.ndarray:
    for layer in layers:
        x = layer.step(x, s, rows, trace)
    return x


def _keep_trace(store: dict, got: dict, rows: np.ndarray, batch: int) -> None:
    """Write the gates ``got`` of rows ``rows`` into ``store`` ``{layer: {gate: (B, ...)}}`` (NaN until written)."""
    for layer, gates in got.items():
        into = store.setdefault(layer, {})
        for gate, value in gates.items():
            if gate not in into:
                into[gate] = np.full((batch,) + value.shape[1:], np.nan, np.float32)
            into[gate][rows] = value


def _check_number_row(x: Any, n: int, sid: str, columns: Sequence[str] | None = None) -> np.ndarray:
    """One event of ``n`` numbers (a number when ``n == 1``, a list, an array; with ``columns`` also a dict)."""
    if isinstance(x, dict) and columns is not None:
        missing = [c for c in columns if c not in x]
        if missing:
            raise InputValueError(f"stream {sid!r}: input: missing column {missing[0]!r}; the model reads "
                                  f"{', '.join(map(str, columns))}"[:300])
        x = [x[c] for c in columns]
    if isinstance(x, (str, bytes, dict, bool, np.bool_)) or x is None:
        raise InputValueError(f"stream {sid!r}: input: expected {n} number(s), found {x!r}"[:300])
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputValueError(f"stream {sid!r}: input: expected {n} number(s), found {x!r}"[:300]) from None
    if arr.size != n or arr.ndim > 1 and arr.shape != (1, n):
        raise ShapeError(f"stream {sid!r}: input: expected {n} number(s) per event, found shape {np.shape(x)}")
    arr = arr.reshape(n)
    if not np.isfinite(arr).all():
        raise InputValueError(f"stream {sid!r}: input: NaN or infinite value in {arr.tolist()}"[:300])
    return arr


def _label_json(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label


def _classes_out(classes: Sequence[Any], probs: np.ndarray) -> dict[str, Any]:
    p = [float(v) for v in probs]
    best = int(np.argmax(probs))
    return {"label": _label_json(classes[best]), "probabilities": {str(c): v for c, v in zip(classes, p)}}


# ------------------------------------------------------------------------------------------- pooling
class _Pooling:
    """A pooling over the recurrent outputs carried in the state: ``last``, ``mean`` (running sum),
    ``max`` (running maximum) or ``attention`` (online softmax: running max score, sum of weights,
    weighted sum of outputs). ``count`` (the steps so far, before this one) is the caller's."""

    def __init__(self, kind: str, width: int, layout: _Layout, prefix: str, attention: Any = None) -> None:
        self.kind = kind
        if kind == "mean":
            self.sum = layout.add(f"{prefix}pool.sum", width)
        elif kind == "max":
            self.max = layout.add(f"{prefix}pool.max", width)
        elif kind == "attention":
            self.kernel, self.bias = _np(attention.kernel), _np(attention.bias)
            self.context = _np(attention.context).reshape(-1)
            self.top = layout.add(f"{prefix}pool.score_max", 1)
            self.den = layout.add(f"{prefix}pool.weight_sum", 1)
            self.num = layout.add(f"{prefix}pool.weighted", width)
        elif kind != "last":
            raise ConfigError(f"pooling {kind!r} cannot be stepped (supported: last, mean, max, attention)")

    def update(self, h: np.ndarray, s: np.ndarray, rows: Any, count: np.ndarray) -> None:
        """Fold the new top-layer output ``h`` of ``rows`` into their pooling state (``count`` before this step)."""
        first = (count == 0)[:, None]
        if self.kind == "mean":
            s[rows, self.sum] = s[rows, self.sum] + h
        elif self.kind == "max":
            s[rows, self.max] = np.where(first, h, np.maximum(s[rows, self.max], h))
        elif self.kind == "attention":
            score = (np.tanh(h @ self.kernel + self.bias) @ self.context)[:, None]
            top = np.where(first, score, np.maximum(s[rows, self.top], score))
            old = np.where(first, 0.0, np.exp(s[rows, self.top] - top)).astype(np.float32)
            w = np.exp(score - top).astype(np.float32)
            s[rows, self.den] = s[rows, self.den] * old + w
            s[rows, self.num] = s[rows, self.num] * old + h * w
            s[rows, self.top] = top

    def pooled(self, s: np.ndarray, top_h: np.ndarray, count: np.ndarray) -> np.ndarray:
        """The pooled vector ``(B, width)`` from the state after the step (``count``: steps so far)."""
        if self.kind == "last":
            return top_h
        if self.kind == "mean":
            return s[:, self.sum] / np.maximum(count, 1.0)[:, None].astype(np.float32)
        if self.kind == "max":
            return s[:, self.max]
        return s[:, self.num] / s[:, self.den]


# ------------------------------------------------------------------------------------------- forecaster
class ForecasterProgram(StreamProgram):
    """A :class:`~lstmkit.tasks.timeseries.forecaster.Forecaster`'s LSTM, one row per event (see the module docstring).

    State parts: ``count`` (rows seen), ``phase`` (the newest row's segment phase), ``stats.*``
    (instance-normalisation statistics of the priming rows), ``recent`` (the last ``segment - 1``
    normalised rows), ``buffer`` (the priming rows, z-scored), ``layer{k}.h`` / ``.c`` (one LSTM
    state per phase: ``(segment, targets, units)``).
    """

    kind = "forecaster"

    def __init__(self, forecaster: Any) -> None:
        fc = forecaster
        if getattr(fc, "method_", None) is None and getattr(fc, "network_", None) is None:
            raise ConfigError("Forecaster: not fitted yet; call fit(df) or Forecaster.load(path) before streaming it")
        if fc.method_ != "lstm" or fc.network_ is None:
            raise ConfigError(
                f"Forecaster: method {fc.method_!r} cannot be stepped by StreamEngine: only the LSTM carries a state "
                "from one row to the next (ETS, seasonal naive and the ensemble re-read the history); "
                "train the forecaster with method='lstm' to stream it")
        net = fc.network_.eval()
        self.fc, self.net = fc, net
        self.targets, self.covariates = list(fc.targets_), list(fc.covariates_ or [])
        self.columns = self.targets + self.covariates
        self.C, self.K = len(self.targets), len(self.covariates)
        self.W = self.C + self.K
        self.P, self.S, self.H = int(fc.context_), int(net.segment), int(net.horizon)
        self.d, self.L = int(net.hidden_size), int(net.num_layers)
        self.intervals = bool(fc.intervals)
        lay = _Layout()
        self._count, self._phase = lay.add("count", 1), lay.add("phase", 1)
        self._loc, self._scale = lay.add("stats.loc", self.C), lay.add("stats.scale", self.C)
        if self.K:
            self._cov_loc, self._cov_scale = lay.add("stats.cov_loc", self.K), lay.add("stats.cov_scale", self.K)
        self._recent = lay.add("recent", (self.S - 1) * self.W)
        self._buffer = lay.add("buffer", self.P * self.W)
        from lstmkit.nn.step import LSTMStep

        self.layers = []
        for k in range(self.L):
            w = [getattr(net.lstm, f"{n}_l{k}", None) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            h = lay.add(f"layer{k}.h", self.S * self.C * self.d)
            c = lay.add(f"layer{k}.c", self.S * self.C * self.d)
            self.layers.append((f"lstm.layer{k}", LSTMStep(*w), h, c))
        self.layout, self.state_size = lay.parts, lay.size
        self.embed_w, self.embed_b = _np(net.embed.weight).T.copy(), _np(net.embed.bias)
        self.n_out = self.H * self.C * (3 if self.intervals else 1)
        self.plan = [("input", None)]
        transform = getattr(fc, "transform_", None)
        self.signature = _signature(self.kind, {
            "network": net.get_config(), "scaler": fc.scaler_.get_config(), "targets": self.targets,
            "covariates": self.covariates, "context": self.P, "intervals": fc.intervals, "level": float(fc.level),
            "transform": None if transform is None else transform.to_json(), "nonneg": [bool(v) for v in fc.nonneg_],
        }, dict(net.state_dict()))

    # ------------------------------------------------------------------ inputs
    def encode_many(self, xs: Sequence[Any], ids: Sequence[str]) -> np.ndarray:
        n = len(xs)
        rows = None
        try:
            arr = np.asarray(xs) if not any(isinstance(x, dict) for x in xs) else None
            if arr is not None and arr.dtype.kind in "fiu" and (arr.ndim == 2 or arr.ndim == 1 and self.W == 1):
                arr = arr.astype(np.float64).reshape(n, -1)
                if arr.shape == (n, self.W) and np.isfinite(arr).all():
                    rows = arr
        except (ValueError, TypeError):
            rows = None
        if rows is None:
            rows = np.stack([_check_number_row(x, self.W, sid, self.columns) for x, sid in zip(xs, ids)]) \
                if n else np.zeros((0, self.W))
        with np.errstate(all="ignore"):
            z = self.fc._scale_rows(rows)
        bad = ~np.isfinite(z).all(axis=1)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputValueError(f"stream {ids[i]!r}: input: {rows[i].tolist()} has no finite value under the "
                                  f"forecaster's transform ({self.fc.transform_.kind if self.fc.transform_ else 'none'})"[:300])
        return z

    # ------------------------------------------------------------------ one step
    def _prime(self, s: np.ndarray, row: int) -> None:
        """Prime row ``row`` of ``s`` from its buffer, exactly as :meth:`LSTMForecastNetwork.prime`."""
        import torch

        buf = torch.from_numpy(s[row, self._buffer].reshape(self.P, self.W).copy())
        with torch.no_grad():
            st = self.net.prime(buf[:, :self.C], buf[:, self.C:] if self.K else None)
        s[row, self._loc] = st.stats.loc.reshape(-1).numpy()
        s[row, self._scale] = st.stats.scale.reshape(-1).numpy()
        if self.K:
            s[row, self._cov_loc] = st.stats.cov_loc.reshape(-1).numpy()
            s[row, self._cov_scale] = st.stats.cov_scale.reshape(-1).numpy()
        s[row, self._recent] = st.recent.reshape(-1).numpy()
        for k, (_, _, h, c) in enumerate(self.layers):
            s[row, h] = st.h[:, k].reshape(-1).numpy()   # (S, L, C, d) -> phase-major (S, C, d)
            s[row, c] = st.c[:, k].reshape(-1).numpy()
        s[row, self._phase] = self.P % self.S
        s[row, self._buffer] = 0.0

    def _step(self, x: np.ndarray, s: np.ndarray, rows: np.ndarray, traces: dict | None, batch: int) -> None:
        """One LSTM step of the phase each new row completes (rows already primed)."""
        m, C, K, S, d = len(rows), self.C, self.K, self.S, self.d
        sub = s[rows]
        z = (x[:, :C] - sub[:, self._loc]) / sub[:, self._scale]
        if K:
            z = np.concatenate([z, (x[:, C:] - sub[:, self._cov_loc]) / sub[:, self._cov_scale]], axis=1)
        seg = np.concatenate([sub[:, self._recent].reshape(m, S - 1, self.W), z[:, None, :]], axis=1)  # (m, S, C+K)
        feats = seg[:, :, :C].transpose(0, 2, 1)  # (m, C, S)
        if K:
            cov = np.broadcast_to(seg[:, :, C:].reshape(m, 1, S * K), (m, C, S * K))
            feats = np.concatenate([feats, cov], axis=2)
        h_in = np.maximum(feats.reshape(m * C, -1) @ self.embed_w + self.embed_b, 0.0).astype(np.float32)
        phase = ((sub[:, self._phase].reshape(-1).astype(np.int64) + 1) % S)
        at = np.arange(m)
        got: dict[str, dict[str, np.ndarray]] = {}
        for name, kernel, hs, cs in self.layers:
            hh = sub[:, hs].reshape(m, S, C, d)
            cc = sub[:, cs].reshape(m, S, C, d)
            out = kernel(h_in, hh[at, phase].reshape(m * C, d), cc[at, phase].reshape(m * C, d), traces is not None)
            hh[at, phase] = out[0].reshape(m, C, d)
            cc[at, phase] = out[1].reshape(m, C, d)
            sub[:, hs], sub[:, cs] = hh.reshape(m, -1), cc.reshape(m, -1)
            if traces is not None:
                got[name] = {g: v.reshape(m, C, d) for g, v in out[2].items()}
                got[name].update(cell_state=out[1].reshape(m, C, d), hidden_state=out[0].reshape(m, C, d))
            h_in = out[0]
        sub[:, self._recent] = seg[:, 1:].reshape(m, -1)
        sub[:, self._phase] = phase[:, None]
        s[rows] = sub
        if traces is not None:
            _keep_trace(traces, got, rows, batch)

    def _forecast(self, s: np.ndarray) -> dict[str, np.ndarray]:
        """The forecasts ``{"point", ["lower", "upper"]}`` ``(m, H, C)`` in the data's units from primed states."""
        import torch

        from lstmkit.tasks.timeseries.network import InstanceStats

        m, C, S, d = len(s), self.C, self.S, self.d
        phase = s[:, self._phase].reshape(-1).astype(np.int64)
        at = np.arange(m)
        h = np.stack([s[:, hs].reshape(m, S, C, d)[at, phase].reshape(m * C, d) for _, _, hs, _ in self.layers])
        c = np.stack([s[:, cs].reshape(m, S, C, d)[at, phase].reshape(m * C, d) for _, _, _, cs in self.layers])
        stats = InstanceStats(torch.from_numpy(s[:, self._loc].reshape(m, 1, C).copy()),
                              torch.from_numpy(s[:, self._scale].reshape(m, 1, C).copy()))
        parts: dict[str, list[np.ndarray]] = {"point": [], "lower": [], "upper": []}
        with torch.no_grad():
            out = self.net.decode((torch.from_numpy(h), torch.from_numpy(c)), stats)
            self.fc._collect(out, parts)
        fc = self.fc
        values = {k: fc._original(fc._unscale_targets(v[0].astype(np.float64))) for k, v in parts.items() if v}
        return fc._clip(values, warn=False)

    def run(self, x: np.ndarray, s: np.ndarray, trace: bool = False):
        B = len(x)
        new = np.array(s, dtype=np.float32, copy=True)
        traces: dict[str, dict[str, np.ndarray]] | None = {} if trace else None
        count = new[:, self._count].reshape(-1).astype(np.int64)
        priming = np.nonzero(count < self.P)[0]
        for r in priming:
            k = int(count[r])
            new[r, self._buffer.start + k * self.W: self._buffer.start + (k + 1) * self.W] = x[r]
            if k + 1 == self.P:
                self._prime(new, r)
        stepping = np.nonzero(count >= self.P)[0]
        if len(stepping):
            self._step(np.asarray(x[stepping], np.float32), new, stepping, traces, B)
        count = count + 1
        new[:, self._count] = count[:, None].astype(np.float32)
        y = np.full((B, 2 + self.n_out), np.nan, np.float32)
        y[:, 0] = np.maximum(self.P - count, 0)
        y[:, 1] = count
        ready = np.nonzero(count >= self.P)[0]
        if len(ready):
            values = self._forecast(new[ready])
            parts = [values["point"]] + ([values["lower"], values["upper"]] if self.intervals else [])
            y[ready, 2:] = np.concatenate([p.reshape(len(ready), -1) for p in parts], axis=1)
        if traces is not None:
            _keep_trace(traces, {name: {g: np.full((0, self.C, self.d), np.nan, np.float32) for g in
                                        ("input_gate", "forget_gate", "candidate", "output_gate", "cell_state",
                                         "hidden_state")} for name, _, _, _ in self.layers}, np.zeros(0, np.int64), B)
        return y, new, traces

    def decode(self, y: np.ndarray) -> dict[str, Any]:
        need, count = int(y[0]), int(y[1])
        if need > 0:
            return {"ready": False, "rows_needed": need, "observations": count, "context": self.P}
        H, C = self.H, self.C
        blocks = y[2:].reshape(-1, H, C)
        forecast: dict[str, list[float]] = {}
        for j, name in enumerate(self.targets):
            forecast[name] = [float(v) for v in blocks[0, :, j]]
            if self.intervals:
                forecast[f"{name}_lower"] = [float(v) for v in blocks[1, :, j]]
                forecast[f"{name}_upper"] = [float(v) for v in blocks[2, :, j]]
        return {"ready": True, "observations": count, "horizon": H, "forecast": forecast,
                "interval_level": self.fc.interval_level_}

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "signature": self.signature,
            "input": {"kind": "row", "dtype": "float", "columns": self.columns, "shape": [self.W],
                      "accepts": "a list of numbers in column order, a number (one column) or a {column: value} dict",
                      "priming_rows": self.P},
            "output": {"kind": "forecast", "horizon": self.H, "targets": self.targets,
                       "columns": [c for t in self.targets for c in ([t, f"{t}_lower", f"{t}_upper"] if self.intervals else [t])],
                       "interval_level": self.fc.interval_level_,
                       "before_priming": "{ready: false, rows_needed, observations, context}"},
            "model": {"context": self.P, "segment": self.S, "units": self.d, "layers": self.L,
                      "frequency": getattr(self.fc, "freq_", None)},
            "state": {name: [size] for name, _, size in self.layout},
        }


# ------------------------------------------------------------------------------------------- sequence classifier
class SequenceClassifierProgram(StreamProgram):
    """A :class:`~lstmkit.tasks.sequences.classifier.SequenceClassifier` with ``model="lstm"``, one time step per event."""

    kind = "sequence_classifier"

    def __init__(self, classifier: Any) -> None:
        clf = classifier
        if not getattr(clf, "nets_", None):
            raise ConfigError("SequenceClassifier: not fitted yet; call fit(sequences, labels) or "
                              "SequenceClassifier.load(path) before streaming it")
        s = dict(clf.settings_ or {})
        how = "train a steppable one with SequenceClassifier(model='lstm', normalize='feature')"
        model = s.get("model", "lstm")
        if model != "lstm":
            raise ConfigError(
                f"SequenceClassifier: model={model!r} cannot be stepped one time step at a time: its LSTM reads the "
                "dimension-shuffled series (each step is a whole variable over all time) and its convolutions read "
                f"the whole series; {how}")
        if s.get("bidirectional", False):
            raise ConfigError("SequenceClassifier: bidirectional=True reads each series from its end too, so it cannot "
                              "be stepped; train one with SequenceClassifier(model='lstm', bidirectional=False)")
        if int(s.get("downsample") or 1) > 1:
            raise ConfigError(
                f"SequenceClassifier: downsample={s.get('downsample')} (PAA) averages runs of steps, so a step's input "
                "depends on points that have not arrived yet; it cannot be stepped: train one without downsample")
        if s.get("normalize") == "series":
            raise ConfigError(
                "SequenceClassifier: normalize='series' z-normalises each series with the statistics of the whole "
                "series (future points included), so it cannot be stepped; train one with normalize='feature' "
                "(statistics of the training data) or 'none'")
        self.clf, self.classes = clf, list(clf.classes_)
        self.F = int(clf.n_features_)
        scaler = clf.scaler_
        self.mean = None if scaler is None else np.asarray(scaler.mean, np.float32)
        self.std = None if scaler is None else np.asarray(scaler.std, np.float32)
        lay = _Layout()
        self._count = lay.add("count", 1)
        self.members = []
        many = len(clf.nets_) > 1
        for i, net in enumerate(clf.nets_):
            net.eval()
            prefix = f"member{i}." if many else ""
            layers = _recurrent_layers(net.rnn, lay, prefix, "SequenceClassifier",
                                       "train one with SequenceClassifier(model='lstm', bidirectional=False)")
            width = int(net.head.in_features)
            pool = _Pooling(net.pooling, width, lay, prefix, net.attention)
            self.members.append((layers, pool, _np(net.head.weight).T.copy(), _np(net.head.bias)))
        self.layout, self.state_size = lay.parts, lay.size
        self.plan = [("input", None)]
        keys = ("model", "cell", "units", "layers", "bidirectional", "pooling", "attention_units", "normalize", "downsample")
        tensors = {f"net{i}.{k}": v for i, net in enumerate(clf.nets_) for k, v in net.state_dict().items()}
        if self.mean is not None:
            tensors.update({"standardize.mean": self.mean, "standardize.std": self.std})
        self.signature = _signature(self.kind, {"settings": {k: s.get(k) for k in keys}, "classes": self.classes,
                                                "n_features": self.F, "members": len(clf.nets_)}, tensors)

    def encode_many(self, xs: Sequence[Any], ids: Sequence[str]) -> np.ndarray:
        n = len(xs)
        arr = None
        try:
            a = np.asarray(xs)
            if a.dtype.kind in "fiu" and (a.ndim == 2 or a.ndim == 1 and self.F == 1):
                a = a.astype(np.float32).reshape(n, -1)
                if a.shape == (n, self.F) and np.isfinite(a).all():
                    arr = a
        except (ValueError, TypeError):
            arr = None
        if arr is None:
            arr = np.stack([_check_number_row(x, self.F, sid) for x, sid in zip(xs, ids)]).astype(np.float32)
        if self.mean is not None:
            arr = ((arr - self.mean) / self.std).astype(np.float32)
        return arr

    def run(self, x: np.ndarray, s: np.ndarray, trace: bool = False):
        new = np.array(s, dtype=np.float32, copy=True)
        traces: dict | None = {} if trace else None
        rows = slice(None)
        count = new[:, self._count].reshape(-1).copy()
        total = np.zeros((len(x), len(self.classes)), np.float64)
        for layers, pool, w, b in self.members:
            top = _step_layers(layers, np.asarray(x, np.float32), new, rows, traces)
            pool.update(top, new, rows, count)
            logits = (pool.pooled(new, top, count + 1) @ w + b).astype(np.float64)
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            total += p / p.sum(axis=1, keepdims=True)
        new[:, self._count] = (count + 1)[:, None]
        y = np.concatenate([total / len(self.members), (count + 1)[:, None]], axis=1).astype(np.float32)
        return y, new, traces

    def decode(self, y: np.ndarray) -> dict[str, Any]:
        return {**_classes_out(self.classes, y[:-1]), "steps": int(y[-1])}

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "signature": self.signature,
            "input": {"kind": "vector", "dtype": "float", "shape": [self.F],
                      "normalisation": "feature" if self.mean is not None else "none"},
            "output": {"kind": "classes", "classes": [_label_json(c) for c in self.classes],
                       "fields": ["label", "probabilities", "steps"]},
            "members": len(self.members),
            "state": {name: [size] for name, _, size in self.layout},
        }


# ------------------------------------------------------------------------------------------- token programs
def _stream_hash(sid: str) -> int:
    return int.from_bytes(hashlib.sha256(sid.encode("utf-8")).digest()[:8], "little") >> 1


class _TokenProgram(StreamProgram):
    """Shared by the token models: events of one or more tokens, ``encode_many`` gives ``(B, 1)``
    object cells, each an int64 array ``[stream hash, token ids...]``; ``run`` steps them with a per-row mask."""

    vocabulary_size = 0
    min_id = 0

    def _text_ids(self, text: str) -> list[int]:
        raise NotImplementedError

    def _event_ids(self, x: Any, sid: str) -> np.ndarray:
        if isinstance(x, str):
            ids = self._text_ids(x)
            if not ids:
                raise InputValueError(f"stream {sid!r}: input: the text {x[:60]!r} has no tokens")
            ids = np.asarray(ids, np.int64)
        elif isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
            ids = np.asarray([int(x)], np.int64)
        elif isinstance(x, (list, tuple, np.ndarray)) and len(x) and all(
                isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in x):
            ids = np.asarray([int(v) for v in x], np.int64)
        else:
            raise InputValueError(f"stream {sid!r}: input: expected a token id, a list of token ids or a text, "
                                  f"found {x!r}"[:300])
        if len(ids) > MAX_EVENT_TOKENS:
            raise InputValueError(f"stream {sid!r}: input: {len(ids)} tokens in one event; at most {MAX_EVENT_TOKENS}, "
                                  "send the text in several events")
        low, high = int(ids.min()), int(ids.max())
        if low < self.min_id or high >= self.vocabulary_size:
            bad = low if low < self.min_id else high
            why = " (0 is padding, not a token)" if bad == 0 and self.min_id == 1 else ""
            raise InputValueError(f"stream {sid!r}: input: token id must be in {self.min_id}.."
                                  f"{self.vocabulary_size - 1}, found {bad}{why}")
        return ids

    def encode_many(self, xs: Sequence[Any], ids: Sequence[str]) -> np.ndarray:
        out = np.empty((len(xs), 1), dtype=object)
        for i, (x, sid) in enumerate(zip(xs, ids)):
            out[i, 0] = np.concatenate([[_stream_hash(sid)], self._event_ids(x, sid)]).astype(np.int64)
        return out

    @staticmethod
    def _cells(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(hashes (B,), tokens (B, Lmax) with -1 padding, lengths (B,))`` of ``encode_many`` cells."""
        cells = [np.asarray(c, np.int64) for c in np.asarray(x, dtype=object).reshape(-1)]
        lengths = np.array([len(c) - 1 for c in cells], np.int64)
        tokens = np.full((len(cells), int(lengths.max(initial=0))), -1, np.int64)
        for i, c in enumerate(cells):
            tokens[i, : len(c) - 1] = c[1:]
        return np.array([c[0] for c in cells], np.int64), tokens, lengths


class TextClassifierProgram(_TokenProgram):
    """A text classifier's forward network (Embedding -> LSTM / GRU / SimpleRNN -> pooling -> Dense softmax),
    one event of one or more tokens at a time; see the module docstring."""

    def __init__(self, model: Any, vectorizer: Any, classes: Sequence[Any], *, kind: str, max_length: int | None,
                 truncation: str, hint: str) -> None:
        from lstmkit.layers import (GRU, LSTM, AttentionPooling, Bidirectional, Dense, Dropout, Embedding,
                                    GlobalAveragePooling1D, GlobalMaxPooling1D, InputLayer, SimpleRNN)
        from lstmkit.stream.programs import model_signature

        self.kind, self.model, self.vectorizer, self.classes = kind, model, vectorizer, list(classes)
        self.max_length, self.truncation = max_length, truncation
        model.eval()
        layers = [layer for layer in model.layers if not isinstance(layer, (InputLayer, Dropout))]
        if len(layers) < 3 or not isinstance(layers[0], Embedding):
            raise ConfigError(f"{kind}: expected Embedding -> recurrent layer -> ... -> Dense, found "
                              f"{[type(layer).__name__ for layer in model.layers]}")
        emb, rnn, rest = layers[0], layers[1], layers[2:]
        if isinstance(rnn, Bidirectional):
            raise ConfigError(f"{kind}: a bidirectional classifier reads each text from its end too, so it cannot be "
                              f"stepped one token at a time; {hint}")
        if not isinstance(rnn, (LSTM, GRU, SimpleRNN)):
            raise ConfigError(f"{kind}: layer {rnn.name!r} ({type(rnn).__name__}) is not a recurrent layer the stream "
                              "engine can step")
        if getattr(rnn, "go_backwards", False):
            raise ConfigError(f"{kind}: layer {rnn.name!r} has go_backwards=True: it reads the text from its end")
        if isinstance(rnn, GRU) and not rnn.reset_after:
            raise ConfigError(f"{kind}: layer {rnn.name!r} is a GRU with reset_after=False, which the step kernels "
                              "do not compute (they compute reset_after=True)")
        pool_kind = "last"
        attention = None
        if rest and isinstance(rest[0], (AttentionPooling, GlobalAveragePooling1D, GlobalMaxPooling1D)):
            pool_kind = {AttentionPooling: "attention", GlobalAveragePooling1D: "mean",
                         GlobalMaxPooling1D: "max"}[type(rest[0])]
            attention = rest[0] if pool_kind == "attention" else None
            rest = rest[1:]
        if len(rest) != 1 or not isinstance(rest[0], Dense) or (pool_kind == "last" and rnn.return_sequences):
            raise ConfigError(f"{kind}: expected one pooling (or the last state) then a Dense output layer, found "
                              f"{[type(layer).__name__ for layer in model.layers]}")
        from lstmkit.nn.step import DenseStep

        self.embeddings = _np(emb.embeddings)
        self.vocabulary_size = int(emb.input_dim)
        self.min_id = 1 if getattr(emb, "mask_zero", False) else 0
        lay = _Layout()
        self._tokens = lay.add("tokens", 1)
        self.layers = _recurrent_layers(rnn.cell, lay, "", kind, hint)
        for layer in self.layers:
            layer.name = rnn.name
        self.pool = _Pooling(pool_kind, int(rnn.units), lay, "", attention)
        self.head = DenseStep(rest[0].kernel, rest[0].bias, rest[0].activation)
        self.layout, self.state_size = lay.parts, lay.size
        self.pooling = pool_kind
        self.plan = [("embedding", emb)]
        self.signature = _signature(kind, {"model": model_signature(model), "vectorizer": vectorizer.get_config(),
                                           "classes": [str(c) for c in self.classes]}, {})

    @classmethod
    def from_text_classifier(cls, clf: Any) -> "TextClassifierProgram":
        if getattr(clf, "model_", None) is None:
            raise ConfigError("TextClassifier: not fitted yet; call fit(texts, labels) or TextClassifier.load(path) "
                              "before streaming it")
        from lstmkit.tasks.text.defaults import MAX_LENGTH_CAP

        vec = clf.vectorizer_
        return cls(clf.model_, vec, clf.classes_, kind="text_classifier",
                   max_length=int(vec.output_sequence_length or MAX_LENGTH_CAP), truncation=vec.truncation,
                   hint="train a forward one with TextClassifier(bidirectional=False)")

    @classmethod
    def from_sentiment(cls, clf: Any) -> "TextClassifierProgram":
        from lstmkit.tasks.text.sentiment import LABELS

        vec = clf.vectorizer
        return cls(clf.model, vec, LABELS, kind="sentiment", max_length=vec.output_sequence_length,
                   truncation=vec.truncation, hint="train a forward one")

    def _text_ids(self, text: str) -> list[int]:
        return self.vectorizer.encode(text)

    def run(self, x: np.ndarray, s: np.ndarray, trace: bool = False):
        _, tokens, lengths = self._cells(x)
        B = len(tokens)
        new = np.array(s, dtype=np.float32, copy=True)
        traces: dict | None = {} if trace else None
        top = np.zeros((B, self.layers[-1].h.stop - self.layers[-1].h.start), np.float32)
        count = new[:, self._tokens].reshape(-1).copy()
        for j in range(tokens.shape[1]):
            rows = np.nonzero(lengths > j)[0]
            got: dict | None = {} if trace else None
            h = _step_layers(self.layers, self.embeddings[tokens[rows, j]], new, rows, got)
            self.pool.update(h, new, rows, count[rows])
            count[rows] += 1
            top[rows] = h
            if got is not None:
                _keep_trace(traces, got, rows, B)
        new[:, self._tokens] = count[:, None]
        if self.pool.kind == "last":
            top = new[:, self.layers[-1].h]
        probs = self.head(self.pool.pooled(new, top, count))
        return np.concatenate([probs, count[:, None]], axis=1).astype(np.float32), new, traces

    def decode(self, y: np.ndarray) -> dict[str, Any]:
        n = int(y[-1])
        out = {**_classes_out(self.classes, y[:-1]), "tokens": n}
        if self.max_length is not None:
            out.update(max_length=self.max_length, beyond_max_length=n > self.max_length)
        return out

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "signature": self.signature,
            "input": {"kind": "tokens", "accepts": "a token id, a list of token ids or a text",
                      "vocabulary": self.vocabulary_size, "level": self.vectorizer.level,
                      "padding_id": 0 if self.min_id == 1 else None},
            "output": {"kind": "classes", "classes": [_label_json(c) for c in self.classes],
                       "fields": ["label", "probabilities", "tokens", "max_length", "beyond_max_length"]},
            "pooling": self.pooling, "max_length": self.max_length, "truncation": self.truncation,
            "state": {name: [size] for name, _, size in self.layout},
        }


class LanguageModelProgram(_TokenProgram):
    """A :class:`~lstmkit.tasks.text.language_model.LanguageModelGenerator` stepped token by token.

    ``top_k``: tokens listed in ``"next"``; ``continuation``: tokens sampled after each event (0: none),
    at ``temperature`` (``<oov>`` is never sampled, as in ``generate``); ``full_distribution``: also
    return (and record) the whole next-token distribution (``vocabulary`` floats per event).
    """

    kind = "language_model"

    def __init__(self, generator: Any, *, top_k: int = 10, continuation: int = 5, temperature: float = 1.0,
                 full_distribution: bool = False) -> None:
        for name, value, low in (("top_k", top_k, 1), ("continuation", continuation, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name}: expected an integer >= {low}, found {value!r}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
                temperature > 0 and math.isfinite(temperature)):
            raise ConfigError(f"temperature: expected a positive number, found {temperature!r}")
        lm, vocab = generator.model.eval(), generator.vocab
        self.lm, self.vocab = lm, vocab
        self.vocabulary_size = int(lm.vocab_size)
        self.top_k = min(int(top_k), self.vocabulary_size)
        self.n_cont, self.temperature, self.full = int(continuation), float(temperature), bool(full_distribution)
        self.embeddings = _np(lm.embedding.weight) * np.float32(lm.embed_scale)
        lay = _Layout()
        self._events, self._tokens, self._last = lay.add("events", 1), lay.add("tokens", 1), lay.add("last_token", 1)
        self.layers = _recurrent_layers(lm.lstm, lay, "lstm.", "language model", "")
        self.layout, self.state_size = lay.parts, lay.size
        self.dec_w, self.dec_b = _np(lm.decoder.weight).T.copy(), _np(lm.decoder.bias)
        self.plan = [("embedding", None)]
        self.signature = _signature(self.kind, {"model": lm.get_config(), "vocabulary": vocab.get_config()},
                                    dict(lm.state_dict()))

    def _text_ids(self, text: str) -> list[int]:
        from lstmkit.data.corpus import tokenize

        return self.vocab.encode(tokenize(text, self.vocab.level, final_eos=False))

    def _probs(self, top_h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(probabilities, logits)`` ``(B, vocabulary)`` float64 from the top layer's output."""
        logits = (top_h @ self.dec_w + self.dec_b).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True), logits

    def _sample(self, s: np.ndarray, logits: np.ndarray, seeds: list[list[int]]) -> np.ndarray:
        """``(B, n)`` tokens sampled from copies of the states ``s`` (``s`` is not changed)."""
        B = len(s)
        work = s.copy()
        rngs = [np.random.default_rng(seed) for seed in seeds]
        out = np.zeros((B, self.n_cont), np.int64)
        rows = np.arange(B)
        for k in range(self.n_cont):
            scores = logits / self.temperature
            scores[:, 0] = -np.inf  # never sample <oov>
            scores -= scores.max(axis=1, keepdims=True)
            p = np.exp(scores)
            cum = np.cumsum(p, axis=1)
            for i in range(B):
                u = rngs[i].random() * cum[i, -1]
                out[i, k] = min(int(np.searchsorted(cum[i], u, side="right")), self.vocabulary_size - 1)
            if k + 1 < self.n_cont:
                h = _step_layers(self.layers, self.embeddings[out[:, k]], work, rows, None)
                logits = (h @ self.dec_w + self.dec_b).astype(np.float64)
        return out

    def run(self, x: np.ndarray, s: np.ndarray, trace: bool = False):
        hashes, tokens, lengths = self._cells(x)
        B = len(tokens)
        new = np.array(s, dtype=np.float32, copy=True)
        traces: dict | None = {} if trace else None
        for j in range(tokens.shape[1]):
            rows = np.nonzero(lengths > j)[0]
            got: dict | None = {} if trace else None
            _step_layers(self.layers, self.embeddings[tokens[rows, j]], new, rows, got)
            if got is not None:
                _keep_trace(traces, got, rows, B)
        events = new[:, self._events].reshape(-1) + 1
        ntok = new[:, self._tokens].reshape(-1) + lengths
        last = tokens[np.arange(B), lengths - 1]
        new[:, self._events], new[:, self._tokens], new[:, self._last] = events[:, None], ntok[:, None], last[:, None]
        probs, logits = self._probs(new[:, self.layers[-1].h])
        top = np.argpartition(-probs, self.top_k - 1, axis=1)[:, : self.top_k] if self.top_k < probs.shape[1] \
            else np.tile(np.arange(probs.shape[1]), (B, 1))
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(probs, top, axis=1), axis=1, kind="stable"), axis=1)
        cont = self._sample(new, logits, [[int(h), int(e)] for h, e in zip(hashes, events)]) if self.n_cont else \
            np.zeros((B, 0), np.int64)
        head = np.stack([np.full(B, self.top_k), np.full(B, self.n_cont), ntok, events, last], axis=1)
        parts = [head, top, np.take_along_axis(probs, top, axis=1), cont] + ([probs] if self.full else [])
        return np.concatenate(parts, axis=1).astype(np.float32), new, traces

    def decode(self, y: np.ndarray) -> dict[str, Any]:
        from lstmkit.data.corpus import EOS, join_tokens

        k, n, ntok, events, last = (int(v) for v in y[:5])
        ids = [int(v) for v in y[5:5 + k]]
        probs = [float(v) for v in y[5 + k:5 + 2 * k]]
        cont = [int(v) for v in y[5 + 2 * k:5 + 2 * k + n]]
        itos = self.vocab.itos
        words = [itos[i] for i in cont]
        text = join_tokens(words, self.vocab.level)
        if self.vocab.level != "char" and words and itos[last] != EOS and words[0] != EOS:
            text = " " + text  # words continue the line the stream is on
        out: dict[str, Any] = {
            "next": [{"token": itos[i], "id": i, "p": p} for i, p in zip(ids, probs)],
            "continuation": text, "continuation_ids": cont, "tokens": ntok,
        }
        rest = y[5 + 2 * k + n:]
        if len(rest) == self.vocabulary_size:
            out["distribution"] = [float(v) for v in rest]
        return out

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "signature": self.signature,
            "input": {"kind": "tokens", "accepts": "a token id, a list of token ids or a text chunk",
                      "vocabulary": self.vocabulary_size, "level": self.vocab.level, "oov_id": 0},
            "output": {"kind": "next_token", "top_k": self.top_k, "continuation": self.n_cont,
                       "temperature": self.temperature, "full_distribution": self.full,
                       "fields": ["next", "continuation", "continuation_ids", "tokens"]
                       + (["distribution"] if self.full else [])},
            "state": {name: [size] for name, _, size in self.layout},
        }


# ------------------------------------------------------------------------------------------- dispatch
def task_program(model: Any, **options: Any) -> StreamProgram:
    """The :class:`StreamProgram` of a task model; a model that cannot be stepped is a ConfigError saying why.

    ``options`` go to the program (e.g. ``top_k``, ``continuation``, ``temperature``,
    ``full_distribution`` for a language model).
    """
    own = getattr(model, "task_program", None)
    if callable(own):
        return own(**options)
    name = type(model).__name__
    from lstmkit.tasks.sequences.classifier import SequenceClassifier
    from lstmkit.tasks.text.classifier import TextClassifier
    from lstmkit.tasks.text.language_model import LanguageModelGenerator
    from lstmkit.tasks.text.sentiment import SentimentClassifier
    from lstmkit.tasks.timeseries.forecaster import Forecaster

    if options and not isinstance(model, LanguageModelGenerator):
        raise ConfigError(f"{name}: no stream options ({', '.join(sorted(options))} given)")
    if isinstance(model, Forecaster):
        return ForecasterProgram(model)
    if isinstance(model, SequenceClassifier):
        return SequenceClassifierProgram(model)
    if isinstance(model, TextClassifier):
        return TextClassifierProgram.from_text_classifier(model)
    if isinstance(model, SentimentClassifier):
        return TextClassifierProgram.from_sentiment(model)
    if isinstance(model, LanguageModelGenerator):
        return LanguageModelProgram(model, **options)
    from lstmkit.tasks.text.lm_network import LanguageModel

    if isinstance(model, LanguageModel):
        raise ConfigError("LanguageModel: a bare network has no vocabulary; stream "
                          "LanguageModelGenerator(model, vocab) (what lstmkit.load returns for a language model file)")
    from lstmkit.models import Sequential

    if isinstance(model, Sequential):  # a user's subclass of Sequential: stepped by its layers
        from lstmkit.stream.programs import SequentialProgram

        return SequentialProgram(model)
    raise ConfigError(f"model: a {name} cannot be stepped by StreamEngine (it steps a Sequential with recurrent "
                      "layers, a Forecaster, a SequenceClassifier, a TextClassifier, the sentiment classifier and "
                      "language models)")


__all__ = ["task_program", "ForecasterProgram", "SequenceClassifierProgram", "TextClassifierProgram",
           "LanguageModelProgram", "MAX_EVENT_TOKENS"]
