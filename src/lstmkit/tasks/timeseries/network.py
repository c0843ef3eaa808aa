r"""A segment-wise, channel-independent LSTM forecasting network, with exact stateful stepping.

The network maps the last ``T`` observations of ``C`` target channels (and optionally ``K``
covariate channels that are read but not forecast) to the next ``H`` values of each target::

    x (N, T, C) [+ cov (N, T, K)]  ->  out (N, H, C, P)

``P`` is the number of output parameters per value: 1 for ``output="point"``, ``Q`` quantiles for
``output="quantile"``, 2 (mean, scale) for ``output="gaussian"``. ``T`` may be any multiple of the
segment length ``S``: the LSTM runs over however many segments it is given (training uses a
fixed context; stepping uses longer inputs, see :class:`StepState`).

The recipe (SegRNN-style, Lin et al. 2023, with an LSTM):

1. **Instance normalisation** (RevIN-style, no affine part), per series ``n`` and channel ``c``,
   with statistics of the input window::

       "mean":  loc = mean_t x[n, t, c],  scale = sqrt(var_t x[n, t, c] + 1e-5)
       "last":  loc = x[n, T-1, c],       scale = 1
       "none":  loc = 0,                  scale = 1
       z = (x - loc) / scale              (covariates get their own loc/scale the same way)

2. **Channel independence**: each target channel is a separate univariate series; the ``N * C``
   series share every weight. Covariates, when present, are appended to *each* target channel's
   segment features (so every channel sees all covariates; targets never see each other).

3. **Segments**: ``z[n, :, c]`` is cut into ``T / S`` non-overlapping segments of ``S`` steps; the
   ``j``-th segment's features are its ``S`` target values followed by the ``S * K`` covariate
   values of the same steps (time-major). An embedding turns each into a ``d``-vector::

       e_j = ReLU(W_e [z_seg_j ; cov_seg_j] + b_e)          (N*C, T/S, d)

4. **Encoder**: :class:`lstmkit.nn.LSTM` (fused kernel) over ``e_1 .. e_{T/S}`` from a zero
   state gives the final ``(h_T, c_T)``, each ``(layers, N*C, d)``.

5. **Head** (``M = ceil(H / S)`` output segments of ``S`` steps; the last is cropped to ``H``):

   * ``"direct"`` (parallel multi-step decoding, SegRNN's "PMF"): output segment ``m`` of channel
     ``c`` gets a query ``q_{m,c} = [pos_m ; chan_c]`` (learnt, ``d - d//2`` and ``d//2`` wide) and
     one LSTM-cell step from the encoder's top-layer state, all ``M`` segments at once::

         [i f g o] = W_q q_{m,c} + b_q + U_q h_T
         c'_m = sigmoid(f) * c_T + sigmoid(i) * tanh(g),   h'_m = sigmoid(o) * tanh(c'_m)
         y_m  = W_p dropout(h'_m) + b_p                       (N*C, M, S*P)

     (``U_q h_T`` is computed once and shared by the ``M`` queries.)
   * ``"autoregressive"``: ``y_1 = W_p h_T + b_p``; then the point forecast of segment ``m``
     is embedded like an input segment and fed to the encoder LSTM for one more step, whose
     output predicts segment ``m + 1``. Training uses teacher forcing (the true segments are fed).
     Needs no covariates (their future values are unknown).

6. **Output** ``(N, H, C, P)``, de-normalised: values ``* scale + loc``; the Gaussian scale is
   ``(softplus(raw) + 1e-3) * scale``; quantiles are sorted along ``P`` so they never cross.

Stepping: :meth:`LSTMForecastNetwork.prime` / :meth:`~LSTMForecastNetwork.step` /
:meth:`~LSTMForecastNetwork.forecast_state` carry the LSTM state one observation at a time and give
exactly (float round-off aside) the full-window output; see :class:`StepState` for the definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.errors import ConfigError, ShapeError
from lstmkit.nn.lstm import LSTM
from lstmkit.train.batches import TensorBatches

INSTANCE_NORMS = ("mean", "last", "none")
HEADS = ("direct", "autoregressive")
OUTPUTS = ("point", "quantile", "gaussian")
POINT_LOSSES = ("mse", "mae")
REVIN_EPS = 1e-5
MIN_SCALE = 1e-3


@dataclass
class InstanceStats:
    """Instance-normalisation statistics of a batch of windows.

    ``loc``, ``scale``: ``(N, 1, C)`` for the targets; ``cov_loc``, ``cov_scale``: ``(N, 1, K)``
    for the covariates, or ``None`` without covariates.
    """

    loc: Tensor
    scale: Tensor
    cov_loc: Tensor | None = None
    cov_scale: Tensor | None = None


def window_stats(values: Tensor, mode: str) -> tuple[Tensor, Tensor]:
    """``(loc, scale)``, each ``(N, 1, C)``, of ``values`` ``(N, T, C)`` for an instance-norm ``mode``."""
    if mode == "mean":
        loc = values.mean(dim=1, keepdim=True)
        scale = torch.sqrt(values.var(dim=1, keepdim=True, unbiased=False) + REVIN_EPS)
    elif mode == "last":
        loc = values[:, -1:, :]
        scale = torch.ones_like(loc)
    else:
        loc = values.new_zeros(values.size(0), 1, values.size(2))
        scale = torch.ones_like(loc)
    return loc, scale


def _choice(name: str, value: object, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}; found {value!r}")
    return str(value)


def _positive(name: str, value: object, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}; found {value!r}")
    return value


def check_quantiles(quantiles: Sequence[float]) -> tuple[float, ...]:
    """Strictly increasing levels in (0, 1), at least two."""
    try:
        q = tuple(float(v) for v in quantiles)
    except (TypeError, ValueError):
        raise ConfigError(f"quantiles must be numbers in (0, 1); found {quantiles!r}") from None
    if len(q) < 2 or any(not 0 < v < 1 for v in q) or any(b <= a for a, b in zip(q, q[1:])):
        raise ConfigError(f"quantiles must be at least two increasing numbers in (0, 1); found {quantiles!r}")
    return q


@dataclass
class StepState:
    r"""What a stream carries between observations (one series; ``C`` targets, ``K`` covariates).

    Definition of what stepping computes: the stream is primed with ``P`` rows ``x_0 .. x_{P-1}``
    (``P >= S``) and then gets rows ``x_P, x_{P+1}, ...`` one at a time. After ``t`` rows in all
    (``t >= P``), :meth:`LSTMForecastNetwork.forecast_state` equals the full-window output::

        network(x[a : t], stats=stats_of(x[0 : P])),     a = t mod S

    i.e. the network run from a zero state over every complete segment since the stream began
    that ends at the newest row (the first ``t mod S`` rows are left out so the segments line up
    with the newest observation), with the instance-normalisation statistics of the priming rows
    kept fixed. With ``S = 1`` that is simply every row since the stream began.

    To do that without re-reading rows it keeps one LSTM state per phase ``a = 0 .. S-1`` (the
    state after the segments ``x[a : a + kS]`` with the largest ``a + kS <= t``), and the last
    ``S - 1`` normalised rows (the partial segment). A new row completes exactly one phase's next
    segment, so an update costs one LSTM step.

    Fields: ``stats`` (fixed :class:`InstanceStats`, ``N = 1``); ``h``, ``c``:
    ``(S, layers, C, d)``; ``recent``: ``(S - 1, C + K)`` normalised rows, newest last; ``seen``: rows
    consumed since priming began (``t``).
    """

    stats: InstanceStats
    h: Tensor
    c: Tensor
    recent: Tensor
    seen: int


class LSTMForecastNetwork(nn.Module):
    """Segment-wise LSTM forecaster (see the module docstring for the equations).

    Args:
        n_targets: ``C``, channels forecast (each one a separate series, weights shared).
        horizon: ``H``, steps forecast.
        n_covariates: ``K``, channels read but not forecast.
        segment: ``S``, steps per segment (1 = a plain per-step LSTM).
        hidden_size: ``d``, embedding and LSTM width.
        num_layers: stacked LSTM layers.
        instance_norm: ``"last"`` (subtract the last value), ``"mean"`` (RevIN) or ``"none"``.
        head: ``"direct"`` or ``"autoregressive"``.
        output: ``"point"``, ``"quantile"`` or ``"gaussian"``.
        quantiles: levels for ``output="quantile"``.
        dropout: before the output projection (and between LSTM layers).
        point_loss: ``"mse"`` or ``"mae"`` for ``output="point"``.

    Shapes: ``forward(x (N, T, C), cov (N, T, K) | None) -> (N, H, C, P)``, ``T`` a multiple of ``S``.
    """

    def __init__(
        self,
        n_targets: int,
        horizon: int,
        *,
        n_covariates: int = 0,
        segment: int = 48,
        hidden_size: int = 256,
        num_layers: int = 1,
        instance_norm: str = "last",
        head: str = "direct",
        output: str = "point",
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
        dropout: float = 0.0,
        point_loss: str = "mse",
    ) -> None:
        super().__init__()
        self.n_targets = _positive("n_targets", n_targets)
        self.horizon = _positive("horizon", horizon)
        self.n_covariates = _positive("n_covariates", n_covariates, 0)
        self.segment = _positive("segment", segment)
        self.hidden_size = _positive("hidden_size", hidden_size, 2)
        self.num_layers = _positive("num_layers", num_layers)
        self.instance_norm = _choice("instance_norm", instance_norm, INSTANCE_NORMS)
        self.head = _choice("head", head, HEADS)
        self.output = _choice("output", output, OUTPUTS)
        self.point_loss = _choice("point_loss", point_loss, POINT_LOSSES)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ConfigError(f"dropout must be a number in [0, 1); found {dropout!r}")
        if self.head == "autoregressive" and self.n_covariates:
            raise ConfigError(
                "head='autoregressive' cannot use covariates (their future values are unknown); use head='direct'"
            )
        self.quantiles = check_quantiles(quantiles) if self.output == "quantile" else ()
        self.n_params = {"point": 1, "quantile": len(self.quantiles), "gaussian": 2}[self.output]
        self.n_out_segments = math.ceil(self.horizon / self.segment)
        d, S = self.hidden_size, self.segment
        self.embed = nn.Linear(S * (1 + self.n_covariates), d)
        self.lstm = LSTM(d, d, self.num_layers, batch_first=True, dropout=float(dropout) if self.num_layers > 1 else 0.0)
        if self.head == "direct":
            half = d // 2
            self.position_embedding = nn.Parameter(torch.randn(self.n_out_segments, d - half))
            self.channel_embedding = nn.Parameter(torch.randn(self.n_targets, half))
            self.query_input = nn.Linear(d, 4 * d)
            self.query_hidden = nn.Linear(d, 4 * d, bias=False)
        self.dropout = nn.Dropout(float(dropout))
        self.project = nn.Linear(d, S * self.n_params)
        if self.output == "quantile":
            self.register_buffer("quantile_levels", torch.tensor(self.quantiles), persistent=False)

    def get_config(self) -> dict:
        """The constructor arguments (JSON-able); ``LSTMForecastNetwork(**config)`` rebuilds it."""
        return {
            "n_targets": self.n_targets, "horizon": self.horizon, "n_covariates": self.n_covariates,
            "segment": self.segment, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
            "instance_norm": self.instance_norm, "head": self.head, "output": self.output,
            "quantiles": list(self.quantiles) or [0.1, 0.5, 0.9], "dropout": self.dropout.p,
            "point_loss": self.point_loss,
        }

    # ------------------------------------------------------------------------------- encoder
    def instance_stats(self, x: Tensor, cov: Tensor | None = None) -> InstanceStats:
        """:class:`InstanceStats` of windows ``x`` ``(N, T, C)`` (and ``cov`` ``(N, T, K)``)."""
        loc, scale = window_stats(x, self.instance_norm)
        if cov is None or not self.n_covariates:
            return InstanceStats(loc, scale)
        cov_loc, cov_scale = window_stats(cov, self.instance_norm)
        return InstanceStats(loc, scale, cov_loc, cov_scale)

    def _check(self, x: Tensor, cov: Tensor | None) -> None:
        if x.dim() != 3 or x.size(2) != self.n_targets:
            raise ShapeError(f"forecast network input: expected (N, T, {self.n_targets}), found {tuple(x.shape)}")
        if x.size(1) == 0 or x.size(1) % self.segment:
            raise ShapeError(
                f"forecast network input: expected a length that is a positive multiple of segment={self.segment}, "
                f"found {x.size(1)}"
            )
        if self.n_covariates:
            if cov is None or cov.shape != (x.size(0), x.size(1), self.n_covariates):
                found = None if cov is None else tuple(cov.shape)
                raise ShapeError(
                    f"forecast network covariates: expected ({x.size(0)}, {x.size(1)}, {self.n_covariates}), found {found}"
                )

    def segment_features(self, z: Tensor, zc: Tensor | None) -> Tensor:
        """Normalised ``z`` ``(N, T, C)`` and ``zc`` ``(N, T, K)`` -> segment features ``(N*C, T/S, S*(1+K))``."""
        N, T, C = z.shape
        S = self.segment
        feats = z.permute(0, 2, 1).reshape(N, C, T // S, S)
        if self.n_covariates:
            cov_feats = zc.reshape(N, 1, T // S, S * self.n_covariates).expand(N, C, T // S, S * self.n_covariates)
            feats = torch.cat([feats, cov_feats], dim=-1)
        return feats.reshape(N * C, T // S, -1)

    def _embed(self, feats: Tensor) -> Tensor:
        # Under bf16 autocast the Linear gives bfloat16; the LSTM takes its weights' dtype (and autocasts inside).
        return F.relu(self.embed(feats)).to(self.lstm.weight_ih_l0.dtype)

    def normalise(self, x: Tensor, cov: Tensor | None, stats: InstanceStats) -> tuple[Tensor, Tensor | None]:
        """``((x - loc) / scale, (cov - cov_loc) / cov_scale)``."""
        z = (x - stats.loc) / stats.scale
        zc = None
        if self.n_covariates:
            zc = (cov - stats.cov_loc) / stats.cov_scale
        return z, zc

    def encode(
        self, x: Tensor, cov: Tensor | None = None, stats: InstanceStats | None = None
    ) -> tuple[tuple[Tensor, Tensor], InstanceStats]:
        """Run the encoder over every segment of ``x``: ``((h_T, c_T) (layers, N*C, d), stats)``."""
        self._check(x, cov)
        if stats is None:
            stats = self.instance_stats(x, cov)
        z, zc = self.normalise(x, cov, stats)
        _, state = self.lstm(self._embed(self.segment_features(z, zc)))
        return state, stats

    # ------------------------------------------------------------------------------- heads
    def _decode_direct(self, state: tuple[Tensor, Tensor], n: int) -> Tensor:
        C, M, d = self.n_targets, self.n_out_segments, self.hidden_size
        h, c = state[0][-1], state[1][-1]  # top layer (N*C, d)
        queries = torch.cat(
            [self.position_embedding[:, None, :].expand(M, C, -1), self.channel_embedding[None].expand(M, C, -1)], dim=-1
        )  # (M, C, d)
        table = self.query_input(queries).permute(1, 0, 2)  # (C, M, 4d)
        pre = self.query_hidden(h).view(n, C, 1, 4 * d) + table.unsqueeze(0)  # (N, C, M, 4d)
        i, f, g, o = pre.chunk(4, dim=-1)
        c_new = torch.sigmoid(f) * c.view(n, C, 1, d) + torch.sigmoid(i) * torch.tanh(g)
        h_new = torch.sigmoid(o) * torch.tanh(c_new)
        return self.project(self.dropout(h_new))  # (N, C, M, S*P)

    def _decode_autoregressive(self, state: tuple[Tensor, Tensor], n: int, teacher: Tensor | None) -> Tensor:
        C, M, S, P = self.n_targets, self.n_out_segments, self.segment, self.n_params
        top = state[0][-1]  # (N*C, d)
        if teacher is not None and M > 1:
            # Teacher forcing: feed the true (normalised) segments 1..M-1 in one fused call.
            feats = self.segment_features(teacher[:, : (M - 1) * S], None)
            out, _ = self.lstm(self._embed(feats), state)
            hidden = torch.cat([top.unsqueeze(1), out], dim=1)  # (N*C, M, d)
            return self.project(self.dropout(hidden)).view(n, C, M, S * P)
        outs = []
        for m in range(M):
            raw = self.project(self.dropout(top))  # (N*C, S*P)
            outs.append(raw)
            if m + 1 < M:
                seg = self._normalised_point(raw.view(-1, S, P))  # (N*C, S)
                out, state = self.lstm(self._embed(seg).unsqueeze(1), state)
                top = out[:, -1]
        return torch.stack(outs, dim=1).view(n, C, M, S * P)

    def _normalised_point(self, raw: Tensor) -> Tensor:
        """The point forecast of raw head outputs ``(..., P)`` in the normalised space."""
        if self.output == "quantile":
            return raw.sort(dim=-1).values[..., self.median_index]
        return raw[..., 0]

    @property
    def median_index(self) -> int:
        """Index of the quantile level closest to 0.5 (the point forecast of a quantile model)."""
        return min(range(len(self.quantiles)), key=lambda k: abs(self.quantiles[k] - 0.5))

    def decode(self, state: tuple[Tensor, Tensor], stats: InstanceStats, teacher: Tensor | None = None) -> Tensor:
        """Head on an encoder state ``(layers, N*C, d)``: the de-normalised ``(N, H, C, P)`` output.

        ``teacher``: the true future ``(N, >= (M-1)*S, C)`` normalised with ``stats``, for
        teacher forcing of the autoregressive head (ignored by the direct head).
        """
        n = state[0].size(1) // self.n_targets
        if self.head == "direct":
            raw = self._decode_direct(state, n)
        else:
            raw = self._decode_autoregressive(state, n, teacher)
        C, S, P = self.n_targets, self.segment, self.n_params
        raw = raw.reshape(n, C, self.n_out_segments * S, P)[:, :, : self.horizon].permute(0, 2, 1, 3)  # (N, H, C, P)
        loc, scale = stats.loc.unsqueeze(-1), stats.scale.unsqueeze(-1)  # (N, 1, C, 1)
        if self.output == "gaussian":
            mean = raw[..., :1] * scale + loc
            sigma = (F.softplus(raw[..., 1:]) + MIN_SCALE) * scale
            return torch.cat([mean, sigma], dim=-1)
        out = raw * scale + loc
        return out.sort(dim=-1).values if self.output == "quantile" else out

    def forward(
        self, x: Tensor, cov: Tensor | None = None, *, stats: InstanceStats | None = None, target: Tensor | None = None
    ) -> Tensor:
        """``x`` ``(N, T, C)``, ``cov`` ``(N, T, K)`` -> ``(N, H, C, P)``.

        ``stats`` fixes the instance-normalisation statistics (default: those of ``x``);
        ``target`` ``(N, H, C)``, in training, teacher-forces the autoregressive head.
        """
        state, stats = self.encode(x, cov, stats)
        teacher = None
        if target is not None and self.head == "autoregressive" and self.training:
            teacher = (target - stats.loc) / stats.scale
        return self.decode(state, stats, teacher)

    # ------------------------------------------------------------------------------- outputs
    def point(self, out: Tensor) -> Tensor:
        """Point forecast ``(N, H, C)``: the value, the median quantile or the Gaussian mean."""
        if self.output == "quantile":
            return out[..., self.median_index]
        return out[..., 0]

    def interval(self, out: Tensor, level: float) -> tuple[Tensor, Tensor]:
        """``(lower, upper)`` ``(N, H, C)``: the outer quantiles, or ``mean -/+ z sigma`` with ``z`` for ``level``."""
        if self.output == "quantile":
            return out[..., 0], out[..., -1]
        if self.output == "gaussian":
            z = NormalDist().inv_cdf(0.5 + level / 2)
            return out[..., 0] - z * out[..., 1], out[..., 0] + z * out[..., 1]
        raise ConfigError("this forecaster has no intervals (output='point'); train it with intervals='quantile' or 'gaussian'")

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        """Training loss of ``out`` ``(N, H, C, P)`` against ``y`` ``(N, H, C)``.

        point: MSE or MAE; quantile: mean pinball loss ``max(q e, (q - 1) e)`` with ``e = y - y_q``;
        gaussian: mean negative log-likelihood ``log sigma + (y - mu)^2 / (2 sigma^2)`` (+ const).
        """
        if self.output == "point":
            err = out[..., 0] - y
            return (err * err).mean() if self.point_loss == "mse" else err.abs().mean()
        if self.output == "quantile":
            e = y.unsqueeze(-1) - out
            q = self.quantile_levels
            return torch.maximum(q * e, (q - 1) * e).mean()
        mu, sigma = out[..., 0], out[..., 1]
        return (torch.log(sigma) + 0.5 * ((y - mu) / sigma) ** 2).mean() + 0.5 * math.log(2 * math.pi)

    # ------------------------------------------------------------------------------- stepping
    def prime(self, x: Tensor, cov: Tensor | None = None) -> StepState:
        """Start stepping from the rows ``x`` ``(P, C)`` (``cov`` ``(P, K)``), ``P >= S``; see :class:`StepState`."""
        x = x.unsqueeze(0)
        cov = cov.unsqueeze(0) if cov is not None else None
        P, S = x.size(1), self.segment
        if P < S:
            raise ShapeError(f"stream priming: expected at least segment={S} rows, found {P}")
        stats = self.instance_stats(x, cov)
        z, zc = self.normalise(x, cov, stats)
        L, C, d = self.num_layers, self.n_targets, self.hidden_size
        h = x.new_zeros(S, L, C, d)
        c = x.new_zeros(S, L, C, d)
        for a in range(S):
            k = (P - a) // S
            if k == 0:
                continue  # no complete segment in this phase yet: the zero state
            sl = slice(a, a + k * S)
            feats = self.segment_features(z[:, sl], zc[:, sl] if zc is not None else None)
            _, (h[a], c[a]) = self.lstm(self._embed(feats))
        rows = z[0] if zc is None else torch.cat([z[0], zc[0]], dim=-1)
        return StepState(stats, h, c, rows[P - S + 1 :].clone(), P)

    def step(self, state: StepState, x: Tensor, cov: Tensor | None = None) -> StepState:
        """Consume one new row ``x`` ``(C,)`` (``cov`` ``(K,)``): one LSTM step of the phase it completes."""
        stats = state.stats
        z = (x - stats.loc[0, 0]) / stats.scale[0, 0]
        row = z if not self.n_covariates else torch.cat([z, (cov - stats.cov_loc[0, 0]) / stats.cov_scale[0, 0]])
        segment = torch.cat([state.recent, row.unsqueeze(0)], dim=0)  # (S, C + K)
        state.seen += 1
        a = state.seen % self.segment
        C = self.n_targets
        feats = self.segment_features(segment[None, :, :C], segment[None, :, C:] if self.n_covariates else None)
        _, (h, c) = self.lstm(self._embed(feats), (state.h[a], state.c[a]))
        state.h[a], state.c[a] = h, c
        state.recent = segment[1:]
        return state

    def forecast_state(self, state: StepState) -> Tensor:
        """The ``(1, H, C, P)`` output from a stream's current state (the state is not changed)."""
        a = state.seen % self.segment
        return self.decode((state.h[a], state.c[a]), state.stats)


class ReplayedOrder(TensorBatches):
    """:class:`lstmkit.train.TensorBatches` whose epoch ``e`` order is the ``(e + 1)``-th permutation of one generator.

    The forecaster and DLinear have always shuffled this way: one generator, seeded once per fit,
    draws one permutation per epoch. Keeping that stream under the engine keeps a seed's model what
    it was (on CPU with the same threads, bit for bit). ``new_generator()`` gives a freshly seeded
    generator; ``draw(generator, n)`` a permutation of ``range(n)`` (an int64 tensor). Any epoch can
    be asked for again (the stream is replayed from the start), so the source stays deterministic
    in ``(epoch, index)`` as the engine requires; in order it costs one draw per epoch.
    """

    def __init__(self, *tensors: Tensor, new_generator: Callable[[], Any], draw: Callable[[Any, int], Tensor],
                 batch_size: int = 32) -> None:
        super().__init__(*tensors, batch_size=batch_size, shuffle=True)
        self._new_generator, self._draw = new_generator, draw
        self._generator: Any = None
        self._drawn = -1  # epochs drawn from self._generator so far, minus one

    def order(self, epoch: int) -> Tensor:
        if self._order is not None and self._order[0] == epoch:
            return self._order[1]
        if self._generator is None or epoch <= self._drawn:
            self._generator, self._drawn = self._new_generator(), -1
        perm = None
        while self._drawn < epoch:
            perm = self._draw(self._generator, self.n)
            self._drawn += 1
        self._order = (epoch, perm)
        return perm


__all__ = [
    "LSTMForecastNetwork", "InstanceStats", "StepState", "window_stats", "check_quantiles",
    "INSTANCE_NORMS", "HEADS", "OUTPUTS", "POINT_LOSSES", "ReplayedOrder",
]
