r"""Keras 3's attention layers: ``Attention`` (Luong), ``AdditiveAttention`` (Bahdanau) and
``MultiHeadAttention`` (Vaswani et al.), with Keras's arguments, weight layouts and masking rules.

Shapes (``N`` batch, ``Tq`` query steps, ``Tv`` value/key steps; shapes given to ``build`` and
``compute_output_shape`` never include the batch axis):

* ``Attention`` / ``AdditiveAttention``: called on a list, ``layer([query, value])`` or
  ``layer([query, value, key])``: query ``(N, Tq, dim)``, value ``(N, Tv, dim_v)``, key ``(N, Tv, dim)``
  (the value when absent); output ``(N, Tq, dim_v)``, scores ``(N, Tq, Tv)``; ``mask=[query_mask,
  value_mask]``, each ``(N, T)`` bool.
* ``MultiHeadAttention``: ``layer(query, value, key=None, ...)``: query ``(N, Tq, dim_q)``, value
  ``(N, Tv, dim_v)``, key ``(N, Tv, dim_k)``; output ``(N, Tq, dim_q)`` (or ``output_shape``),
  scores ``(N, heads, Tq, Tv)``.

>>> import torch
>>> from lstmkit.layers import Attention, MultiHeadAttention
>>> q, v = torch.randn(2, 4, 8), torch.randn(2, 6, 8)
>>> Attention()([q, v]).shape
torch.Size([2, 4, 8])
>>> mha = MultiHeadAttention(num_heads=2, key_dim=4)
>>> out, scores = mha(q, v, return_attention_scores=True)
>>> out.shape, scores.shape, mha.count_params()
(torch.Size([2, 4, 8]), torch.Size([2, 2, 4, 6]), 288)
"""

from __future__ import annotations

import math
from typing import Any

import torch

from lstmkit.errors import ConfigError, ShapeError
from lstmkit.layers.base import Layer, Shape, check_positive_int, format_shape, found_shape
from lstmkit.layers.initializers import check_initializer, initialize
from lstmkit.layers.keras_args import split_unsupported

# Keras's "minus a large number" for masked scores: Attention subtracts 1e9 (65504 in float16),
# MultiHeadAttention's softmax puts -1e9 (-3e4 in float16), its fused path adds -0.7 * 3.38953e38.
_LARGE = 1e9
_LARGE_F16 = 65504.0
_SDPA_NEGATIVE = -0.7 * 3.38953e38
_SDPA_NEGATIVE_F16 = -0.7 * 65500.0


def _check_bool(value: Any, argument: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{argument}: expected True or False, found {value!r}")
    return value


def _check_dropout(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"dropout: expected a float in [0, 1), found {value!r}")
    return float(value)


def _check_seed(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"seed: expected an int or None, found {value!r}")
    return value


def _keras_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras's ``compute_fans``: the fans its initialisers use for a kernel of ``shape``."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _causal(tq: int, tv: int, device: torch.device) -> torch.Tensor:
    """Keras's causal mask ``(1, Tq, Tv)``: query step ``i`` sees value steps ``j <= i``."""
    return torch.ones(tq, tv, dtype=torch.bool, device=device).tril().unsqueeze(0)


def _as_mask(mask: Any, like: torch.Tensor, layer: Layer, what: str) -> torch.Tensor | None:
    """``mask`` as a bool tensor of shape ``like.shape[:-1]`` (a one-line ShapeError otherwise)."""
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        mask = torch.as_tensor(mask)
    if tuple(mask.shape) != tuple(like.shape[:-1]):
        raise ShapeError(f"{type(layer).__name__} '{layer.name}' {what}: expected shape {tuple(like.shape[:-1])}, "
                         f"found {tuple(mask.shape)}")
    return mask.to(device=like.device, dtype=torch.bool)


class _Dropout:
    """Keras-style dropout on attention weights; with ``seed``, a private generator (reproducible)."""

    def __init__(self, rate: float, seed: int | None) -> None:
        self.rate, self.seed = rate, seed
        self._generator: torch.Generator | None = None

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        keep = 1.0 - self.rate
        generator = None
        if self.seed is not None:
            if self._generator is None or self._generator.device != w.device:
                self._generator = torch.Generator(device=w.device)
                self._generator.manual_seed(self.seed)
            generator = self._generator
        kept = torch.rand(w.shape, generator=generator, device=w.device, dtype=w.dtype) < keep
        return w * kept.to(w.dtype) / keep


# ============================================================================ Attention, AdditiveAttention
class _DotAttention(Layer):
    """What ``Attention`` and ``AdditiveAttention`` share: the list call, masks, softmax, dropout."""

    supports_masking = True
    _unsupported: dict[str, Any] = {}

    def __init__(self, use_scale: bool, dropout: float, seed: int | None, **kwargs: Any) -> None:
        super().__init__(**split_unsupported(type(self).__name__, kwargs, self._unsupported))
        self.use_scale = _check_bool(use_scale, "use_scale")
        self.dropout = _check_dropout(dropout)
        self.seed = _check_seed(seed)
        self._dropout = _Dropout(self.dropout, self.seed)

    # ------------------------------------------------------------------ shapes
    def _shapes(self, input_shape: Any) -> tuple[Shape, Shape, Shape]:
        name = type(self).__name__
        if not isinstance(input_shape, (list, tuple)) or not 2 <= len(input_shape) <= 3 or not all(
                isinstance(s, (list, tuple)) for s in input_shape):
            raise ShapeError(f"{name} '{self.name}' inputs: expected a list [query, value] or [query, value, key], "
                             f"found {input_shape!r:.80}")
        shapes = [tuple(s) for s in input_shape]
        q, v = shapes[0], shapes[1]
        k = shapes[2] if len(shapes) > 2 else v
        for what, s in (("query", q), ("value", v), ("key", k)):
            if len(s) < 2 or s[-1] is None:
                raise ShapeError(f"{name} '{self.name}' {what}: expected (N, T, dim) with a known dim, "
                                 f"found {format_shape(s)}")
        if not len(q) == len(v) == len(k):
            raise ShapeError(f"{name} '{self.name}' inputs: expected query, value and key of the same rank, found "
                             f"{format_shape(q)}, {format_shape(v)}, {format_shape(k)}")
        if q[-1] != k[-1]:
            raise ShapeError(f"{name} '{self.name}' key: expected the query's dim {q[-1]} (query and key are "
                             f"compared), found {format_shape(k)}")
        if v[-2] is not None and k[-2] is not None and v[-2] != k[-2]:
            raise ShapeError(f"{name} '{self.name}' key: expected as many steps as the value ({v[-2]}), "
                             f"found {format_shape(k)}")
        return q, v, k

    def build(self, input_shape: Any) -> None:
        """Build from ``[query_shape, value_shape]`` or ``[query_shape, value_shape, key_shape]`` (no batch axis)."""
        q, v, k = self._shapes(input_shape)
        self._make_weights(q, v, k)
        super().build([tuple(s) for s in input_shape])

    def _make_weights(self, q: Shape, v: Shape, k: Shape) -> None:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Any, return_attention_scores: bool = False) -> Any:
        """``(*query[:-1], value_dim)``; with ``return_attention_scores``, ``[that, (*query[:-1], Tv)]``."""
        q, v, k = self._shapes(input_shape)
        out = (*q[:-1], v[-1])
        if return_attention_scores:
            return [out, (*q[:-1], k[-2])]
        return out

    def compute_mask(self, inputs: Any, mask: Any = None) -> torch.Tensor | None:
        """The query's mask (Keras passes it on); ``None`` without one."""
        if mask is None or not isinstance(mask, (list, tuple)) or not mask or mask[0] is None:
            return None
        return mask[0]

    # ------------------------------------------------------------------ running
    def forward(self, inputs: Any, mask: Any = None, return_attention_scores: bool = False,
                use_causal_mask: bool = False) -> Any:
        """``inputs`` ``[query, value]`` or ``[query, value, key]``; ``mask`` ``[query_mask, value_mask]``
        (``None`` entries allowed). Returns the output, or ``(output, scores)`` with ``return_attention_scores``."""
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3 or not all(
                isinstance(t, torch.Tensor) for t in inputs):
            raise ConfigError(f"inputs: {name} '{self.name}' expected a list [query, value] or [query, value, key] "
                              f"of tensors, found {type(inputs).__name__}")
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ConfigError(f"mask: {name} '{self.name}' expected a list [query_mask, value_mask] "
                              f"(None entries allowed), found {type(mask).__name__}")
        if not self.built:
            self.build([self.generalize_shape(tuple(t.shape[1:])) for t in inputs])
            if inputs[0].device.type != "cpu":
                self.to(inputs[0].device)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        built = self.built_input_shape
        for what, t, want in (("query", q, built[0]), ("value", v, built[1]), ("key", k, built[-1])):
            if t.dim() != len(want) + 1 or t.shape[-1] != want[-1]:
                raise ShapeError(f"{name} '{self.name}' {what}: expected {format_shape(want, batch='N')}, "
                                 f"found {found_shape(t)}")
        q_mask = _as_mask(mask[0], q, self, "query_mask") if mask else None
        v_mask = _as_mask(mask[1], v, self, "value_mask") if mask else None
        scores = self._scores(q, k)                                          # (N, Tq, Tv)
        scores_mask = None if v_mask is None else v_mask.unsqueeze(-2)       # (N, 1, Tv)
        if use_causal_mask:
            causal = _causal(scores.shape[-2], scores.shape[-1], scores.device)
            scores_mask = causal if scores_mask is None else scores_mask & causal
        if scores_mask is not None:
            large = _LARGE_F16 if scores.dtype == torch.float16 else _LARGE
            scores = torch.where(scores_mask, scores, scores - large)
        weights = torch.softmax(scores, dim=-1)
        if self.training and self.dropout > 0.0:
            weights = self._dropout(weights)
        out = weights @ v
        if q_mask is not None:
            out = torch.where(q_mask.unsqueeze(-1), out, torch.zeros_like(out))
        if return_attention_scores:
            return out, weights
        return out

    def _scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(use_scale=self.use_scale, dropout=self.dropout, seed=self.seed)
        return config


class Attention(_DotAttention):
    r"""Dot-product (Luong-style) attention, Keras 3's ``keras.layers.Attention``.

    Args:
        use_scale: learn a scalar ``scale`` (initialised to 1) that multiplies the scores.
        score_mode: ``"dot"`` (default) or ``"concat"``.
        dropout: rate of dropout on the attention weights while training.
        seed: seed of that dropout (a private generator); ``None`` uses torch's global one.

    Equations (``q`` query ``(N, Tq, d)``, ``k`` key ``(N, Tv, d)``, ``v`` value ``(N, Tv, d_v)``)::

        "dot":     scores[n, i, j] = scale * sum_c q[n, i, c] k[n, j, c]                  (N, Tq, Tv)
        "concat":  scores[n, i, j] = w * sum_c tanh(scale * (q[n, i, c] + k[n, j, c]))   (w learnt, starts at 1)
        scores  <- scores - 1e9 where the value step is masked (or in the future, with use_causal_mask)
        weights  = softmax(scores over j)                                                (N, Tq, Tv)
        output   = weights @ v, then zero rows where the query step is masked           (N, Tq, d_v)

    Call: ``layer([query, value])`` or ``layer([query, value, key])``, with ``mask=[query_mask,
    value_mask]`` (each ``(N, T)`` bool, or ``None``), ``return_attention_scores`` (then the
    result is ``(output, weights)``; the weights after dropout, as Keras returns them) and
    ``use_causal_mask`` (query step ``i`` sees key steps ``j <= i``). Training mode
    (``model.train()``) turns dropout on. The output mask is the query mask.

    Weights (Keras's order): ``scale`` ``()`` with ``use_scale``, ``concat_score_weight`` ``()``
    with ``score_mode="concat"``. A query row whose value steps are all masked attends uniformly,
    as in Keras (the same ``-1e9`` on every score).

    >>> import torch
    >>> q, v = torch.randn(1, 2, 3), torch.randn(1, 4, 3)
    >>> out, weights = Attention()([q, v], mask=[None, torch.tensor([[True, True, False, False]])],
    ...                            return_attention_scores=True)
    >>> out.shape, weights[0, :, 2:].abs().sum().item()       # masked value steps get weight 0
    (torch.Size([1, 2, 3]), 0.0)
    """

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(use_scale, dropout, seed, **kwargs)
        if score_mode not in ("dot", "concat"):
            raise ConfigError(f"score_mode: expected 'dot' or 'concat', found {score_mode!r}")
        self.score_mode = score_mode
        self.scale: torch.nn.Parameter | None = None
        self.concat_score_weight: torch.nn.Parameter | None = None

    def _make_weights(self, q: Shape, v: Shape, k: Shape) -> None:
        if self.use_scale:
            self.scale = torch.nn.Parameter(torch.ones(()))
        if self.score_mode == "concat":
            self.concat_score_weight = torch.nn.Parameter(torch.ones(()))

    def _scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        if self.score_mode == "dot":
            scores = q @ k.transpose(-2, -1)
            return scores * self.scale if self.scale is not None else scores
        pairs = q.unsqueeze(-2) + k.unsqueeze(-3)                            # (N, Tq, Tv, d)
        if self.scale is not None:
            pairs = self.scale * pairs
        return self.concat_score_weight * torch.tanh(pairs).sum(-1)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["score_mode"] = self.score_mode
        return config

    def extra_repr(self) -> str:
        return f"name={self.name!r}, score_mode={self.score_mode!r}, use_scale={self.use_scale}"


class AdditiveAttention(_DotAttention):
    r"""Additive (Bahdanau-style) attention, Keras 3's ``keras.layers.AdditiveAttention``.

    Args:
        use_scale: learn a per-feature ``scale`` ``(d,)`` (glorot-uniform, Keras's default ``True``).
        dropout: rate of dropout on the attention weights while training.
        seed: seed of that dropout (a private generator); ``None`` uses torch's global one.

    Equations (``q`` query ``(N, Tq, d)``, ``k`` key ``(N, Tv, d)``, ``v`` value ``(N, Tv, d_v)``)::

        scores[n, i, j] = sum_c scale[c] * tanh(q[n, i, c] + k[n, j, c])     (N, Tq, Tv); scale = 1 without use_scale
        scores  <- scores - 1e9 where the value step is masked (or in the future, with use_causal_mask)
        weights  = softmax(scores over j);  output = weights @ v, zero rows where the query is masked

    The call, masks and outputs are :class:`Attention`'s. Weights: ``scale`` ``(d,)`` with ``use_scale``.
    There are no projections: put Dense layers before it for Bahdanau's ``W_q q + W_k k``.

    >>> import torch
    >>> layer = AdditiveAttention()
    >>> layer([torch.randn(2, 3, 5), torch.randn(2, 7, 5)]).shape, layer.count_params()
    (torch.Size([2, 3, 5]), 5)
    """

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(use_scale, dropout, seed, **kwargs)
        self.scale: torch.nn.Parameter | None = None

    def _make_weights(self, q: Shape, v: Shape, k: Shape) -> None:
        if self.use_scale:
            dim = int(q[-1])
            self.scale = torch.nn.Parameter(torch.empty(dim))
            initialize(self.scale, "glorot_uniform", fan_in=dim, fan_out=dim)

    def _scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        t = torch.tanh(q.unsqueeze(-2) + k.unsqueeze(-3))                    # (N, Tq, Tv, d)
        return (self.scale * t).sum(-1) if self.scale is not None else t.sum(-1)


# ============================================================================ MultiHeadAttention
class _Projection(torch.nn.Module):
    """One of MultiHeadAttention's projections (Keras's ``EinsumDense``): ``x @ kernel + bias`` over the
    last axis of ``x``, with a kernel ``(d_in, *out)`` and a bias ``out`` (or a kernel ``(*in, *out)``
    contracting the last ``len(in)`` axes)."""

    def __init__(self, in_shape: tuple[int, ...], out_shape: tuple[int, ...], use_bias: bool,
                 kernel_initializer: str, bias_initializer: str) -> None:
        super().__init__()
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        shape = (*self.in_shape, *self.out_shape)
        self.kernel = torch.nn.Parameter(torch.empty(shape))
        fan_in, fan_out = _keras_fans(shape)
        initialize(self.kernel, kernel_initializer, fan_in=fan_in, fan_out=fan_out)
        self.bias: torch.nn.Parameter | None = None
        if use_bias:
            self.bias = torch.nn.Parameter(torch.empty(self.out_shape))
            b_in, b_out = _keras_fans(self.out_shape)
            initialize(self.bias, bias_initializer, fan_in=b_in, fan_out=b_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_in = len(self.in_shape)
        lead = x.shape[: x.dim() - n_in]
        kernel = self.kernel.reshape(math.prod(self.in_shape), math.prod(self.out_shape))
        y = (x.reshape(*lead, -1) @ kernel).reshape(*lead, *self.out_shape)
        return y + self.bias if self.bias is not None else y


_MHA_UNSUPPORTED = {
    "kernel_regularizer": None,
    "bias_regularizer": None,
    "kernel_constraint": None,
    "bias_constraint": None,
    "sliding_window": None,
}


class MultiHeadAttention(Layer):
    r"""Multi-head attention (Vaswani et al. 2017), Keras 3's ``keras.layers.MultiHeadAttention``,
    over the time axis of ``(N, T, features)`` inputs.

    Args:
        num_heads: number of heads ``h``.
        key_dim: size ``K`` of each head for query and key.
        value_dim: size ``V`` of each head for value (default ``key_dim``).
        dropout: rate of dropout on the attention weights while training.
        use_bias: biases on the four projections.
        output_shape: the output's feature shape (an int or tuple); default the query's features.
        attention_axes: only ``None`` (attention over the time axis).
        kernel_initializer, bias_initializer: Keras names (``"glorot_uniform"``, ``"zeros"``).
        use_gate: Keras's gated attention: ``sigmoid(query @ W_g + b_g)`` multiplies each head's output.
        seed: seed of the dropout (a private generator); ``None`` uses torch's global one.

    Equations (query ``x_q`` ``(N, Tq, d_q)``, value ``x_v`` ``(N, Tv, d_v)``, key ``x_k`` ``(N, Tv, d_k)``,
    the value when not given)::

        Q = x_q W_q + b_q   (N, Tq, h, K)      K_ = x_k W_k + b_k   (N, Tv, h, K)      V_ = x_v W_v + b_v   (N, Tv, h, V)
        scores[n, a, i, j] = sum_c Q[n, i, a, c] K_[n, j, a, c] / sqrt(K)                 (N, h, Tq, Tv)
        weights = softmax over j of scores, masked (below)
        O[n, i, a, :] = sum_j weights[n, a, i, j] V_[n, j, a, :]                            (N, Tq, h, V)
        output = sum_{a, c} O[n, i, a, c] W_o[a, c, :] + b_o                                 (N, Tq, out)

    Masks, as Keras 3 combines them: ``query_mask`` ``(N, Tq)`` -> ``(N, Tq, 1)``, ``value_mask`` and
    ``key_mask`` ``(N, Tv)`` -> ``(N, 1, Tv)``, ``use_causal_mask`` -> ``(1, Tq, Tv)`` lower-triangular,
    and ``attention_mask`` ``(N, Tq, Tv)`` (True = may attend) are ANDed into one mask. A pair it
    forbids gets weight 0. A query step that may attend to nothing (e.g. a masked query step) gets, as
    in Keras: weights 0 (output = the output bias) when ``dropout > 0`` or ``return_attention_scores``
    (Keras's explicit softmax), otherwise uniform weights over all value steps (Keras's fused
    ``scaled_dot_product_attention``, with the mask as ``-0.7 * 3.39e38`` added to the scores, is used here too).
    The output mask is the query mask.

    Call: ``layer(query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
    attention_mask=None, return_attention_scores=False, use_causal_mask=False)``; with
    ``return_attention_scores`` it returns ``(output, weights)``, the weights before dropout ``(N, h, Tq, Tv)``.

    Weights (Keras's ``get_weights()`` order and shapes): ``query_dense.kernel`` ``(d_q, h, K)``,
    ``query_dense.bias`` ``(h, K)``, ``key_dense.kernel`` ``(d_k, h, K)``, ``key_dense.bias`` ``(h, K)``,
    [``gate_dense`` ``(d_q, h, V)``, ``(h, V)``], ``value_dense.kernel`` ``(d_v, h, V)``, ``value_dense.bias``
    ``(h, V)``, ``output_dense.kernel`` ``(h, V, out)``, ``output_dense.bias`` ``(out,)``.

    >>> import torch
    >>> x = torch.randn(2, 5, 8)
    >>> mha = MultiHeadAttention(num_heads=2, key_dim=3)
    >>> mha(x, x, use_causal_mask=True).shape, [tuple(w.shape) for w in mha.get_weights()][::2]
    (torch.Size([2, 5, 8]), [(8, 2, 3), (8, 2, 3), (8, 2, 3), (2, 3, 8)])
    """

    supports_masking = True

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape: int | tuple | list | None = None,
        attention_axes: Any = None,
        kernel_initializer: str = "glorot_uniform",
        bias_initializer: str = "zeros",
        use_gate: bool = False,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        flash = kwargs.pop("flash_attention", None)
        if flash not in (None, False):
            raise ConfigError(f"flash_attention: MultiHeadAttention in lstmkit does not support "
                              f"flash_attention={flash!r} (only None or False)")
        super().__init__(**split_unsupported("MultiHeadAttention", kwargs, _MHA_UNSUPPORTED))
        self.num_heads = check_positive_int(num_heads, "num_heads")
        self.key_dim = check_positive_int(key_dim, "key_dim")
        self.value_dim = self.key_dim if value_dim is None else check_positive_int(value_dim, "value_dim")
        self.dropout = _check_dropout(dropout)
        self.use_bias = _check_bool(use_bias, "use_bias")
        # Kept as ``_output_shape`` (as Keras does): a model's ``output_shape`` is another thing.
        self._output_shape: tuple[int, ...] | None = None
        if output_shape is not None and output_shape != () and output_shape != []:
            if isinstance(output_shape, int) and not isinstance(output_shape, bool):
                output_shape = (output_shape,)
            if not isinstance(output_shape, (list, tuple)) or not all(
                    isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in output_shape):
                raise ConfigError(f"output_shape: expected a positive int or a tuple of them, found {output_shape!r}")
            self._output_shape = tuple(output_shape)
        if attention_axes is not None:
            raise ConfigError(f"attention_axes: MultiHeadAttention in lstmkit attends over the time axis only "
                              f"(None), found {attention_axes!r}")
        self.attention_axes = None
        self.kernel_initializer = check_initializer(kernel_initializer, "kernel_initializer")
        self.bias_initializer = check_initializer(bias_initializer, "bias_initializer")
        self.use_gate = _check_bool(use_gate, "use_gate")
        self.seed = _check_seed(seed)
        self._dropout = _Dropout(self.dropout, self.seed)
        self.query_dense: _Projection | None = None
        self.key_dense: _Projection | None = None
        self.gate_dense: _Projection | None = None
        self.value_dense: _Projection | None = None
        self.output_dense: _Projection | None = None
        self._shapes: tuple[Shape, Shape, Shape] | None = None

    # ------------------------------------------------------------------ shapes
    def _check_shapes(self, query_shape: Any, value_shape: Any, key_shape: Any = None) -> tuple[Shape, Shape, Shape]:
        shapes = []
        for what, s in (("query", query_shape), ("value", value_shape),
                        ("key", value_shape if key_shape is None else key_shape)):
            if not isinstance(s, (list, tuple)) or len(s) != 2 or s[-1] is None:
                raise ShapeError(f"MultiHeadAttention '{self.name}' {what}: expected (N, T, features) with known "
                                 f"features, found {format_shape(tuple(s)) if isinstance(s, (list, tuple)) else s!r}")
            shapes.append(tuple(s))
        q, v, k = shapes
        if v[0] is not None and k[0] is not None and v[0] != k[0]:
            raise ShapeError(f"MultiHeadAttention '{self.name}' key: expected as many steps as the value ({v[0]}), "
                             f"found {format_shape(k)}")
        return q, v, k

    def build(self, query_shape: Shape, value_shape: Shape, key_shape: Shape | None = None) -> None:
        """Make the projections for inputs of these shapes (no batch axis; key defaults to value)."""
        q, v, k = self._check_shapes(query_shape, value_shape, key_shape)
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        out = self._output_shape or (int(q[-1]),)
        from lstmkit.util.memory import check_weights_fit

        total = (q[-1] + k[-1] + 2) * h * kd + (v[-1] + 1) * h * vd + (h * vd + 1) * math.prod(out)
        if self.use_gate:
            total += (q[-1] + 1) * h * vd
        check_weights_fit("num_heads", h, total)
        init = (self.use_bias, self.kernel_initializer, self.bias_initializer)
        self.query_dense = _Projection((int(q[-1]),), (h, kd), *init)
        self.key_dense = _Projection((int(k[-1]),), (h, kd), *init)
        if self.use_gate:
            self.gate_dense = _Projection((int(q[-1]),), (h, vd), *init)
        self.value_dense = _Projection((int(v[-1]),), (h, vd), *init)
        self.output_dense = _Projection((h, vd), out, *init)
        self._shapes = (q, v, k)
        super().build(q)

    def compute_output_shape(self, query_shape: Shape, value_shape: Shape, key_shape: Shape | None = None,
                             return_attention_scores: bool = False) -> Any:
        """``(Tq, *output_shape)`` (the query's shape by default); with ``return_attention_scores``,
        ``[that, (num_heads, Tq, Tv)]``."""
        q, v, k = self._check_shapes(query_shape, value_shape, key_shape)
        out = (q[0], *self._output_shape) if self._output_shape else q
        if return_attention_scores:
            return [out, (self.num_heads, q[0], v[0])]
        return out

    def compute_mask(self, inputs: Any, mask: Any = None) -> torch.Tensor | None:
        """The query's mask (Keras gives the output the query's mask)."""
        return mask

    # ------------------------------------------------------------------ running
    def forward(self, query: torch.Tensor, value: torch.Tensor, key: torch.Tensor | None = None,
                query_mask: torch.Tensor | None = None, value_mask: torch.Tensor | None = None,
                key_mask: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                return_attention_scores: bool = False, use_causal_mask: bool = False) -> Any:
        for what, t in (("query", query), ("value", value), ("key", key)):
            if t is not None and not isinstance(t, torch.Tensor):
                raise ConfigError(f"{what}: MultiHeadAttention '{self.name}' expected a tensor, "
                                  f"found {type(t).__name__}")
        if not self.built:
            gen = [None if t is None else (None, int(t.shape[-1])) if t.dim() == 3 else tuple(t.shape[1:])
                   for t in (query, value, key)]
            self.build(*gen)
            if query.device.type != "cpu":
                self.to(query.device)
        if key is None:
            key = value
        q_shape, v_shape, k_shape = self._shapes
        for what, t, want in (("query", query, q_shape), ("value", value, v_shape), ("key", key, k_shape)):
            if t.dim() != 3 or t.shape[-1] != want[-1]:
                raise ShapeError(f"MultiHeadAttention '{self.name}' {what}: expected {format_shape(want, batch='N')}, "
                                 f"found {found_shape(t)}")
        if key.shape[:2] != value.shape[:2]:
            raise ShapeError(f"MultiHeadAttention '{self.name}' key: expected the value's batch and steps "
                             f"{tuple(value.shape[:2])}, found {tuple(key.shape[:2])}")
        query_mask = _as_mask(query_mask, query, self, "query_mask")
        value_mask = _as_mask(value_mask, value, self, "value_mask")
        key_mask = _as_mask(key_mask, key, self, "key_mask")
        tq, tv = query.shape[1], value.shape[1]
        if attention_mask is not None:
            attention_mask = torch.as_tensor(attention_mask, device=query.device).to(torch.bool)
            if attention_mask.dim() not in (2, 3) or tuple(attention_mask.shape[-2:]) != (tq, tv) or (
                    attention_mask.dim() == 3 and attention_mask.shape[0] not in (1, query.shape[0])):
                raise ShapeError(f"MultiHeadAttention '{self.name}' attention_mask: expected shape "
                                 f"({query.shape[0]}, {tq}, {tv}), found {tuple(attention_mask.shape)}")
        causal_only = use_causal_mask and query_mask is None and value_mask is None and key_mask is None \
            and attention_mask is None
        if not causal_only:
            attention_mask = self._combined_mask(query_mask, value_mask, key_mask, attention_mask,
                                                 use_causal_mask, tq, tv, query.device)
        gate = torch.sigmoid(self.gate_dense(query)) if self.gate_dense is not None else None
        q = self.query_dense(query)            # (N, Tq, h, K)
        k = self.key_dense(key)                # (N, Tv, h, K)
        v = self.value_dense(value)            # (N, Tv, h, V)
        heads, scores = self._attend(q, k, v, attention_mask, return_attention_scores, causal_only)
        if gate is not None:
            heads = heads * gate
        out = self.output_dense(heads)
        if return_attention_scores:
            return out, scores
        return out

    @staticmethod
    def _combined_mask(query_mask: torch.Tensor | None, value_mask: torch.Tensor | None,
                       key_mask: torch.Tensor | None, attention_mask: torch.Tensor | None, causal: bool,
                       tq: int, tv: int, device: torch.device) -> torch.Tensor | None:
        """Keras's ``_compute_attention_mask``: every given mask ANDed, ``(N or 1, Tq, Tv)``, or ``None``."""
        auto = None
        for m in (None if query_mask is None else query_mask.unsqueeze(-1),
                  None if value_mask is None else value_mask.unsqueeze(-2),
                  None if key_mask is None else key_mask.unsqueeze(-2),
                  _causal(tq, tv, device) if causal else None):
            if m is not None:
                auto = m if auto is None else auto & m
        if auto is None:
            return attention_mask
        return auto if attention_mask is None else attention_mask & auto

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
                return_scores: bool, causal_only: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Heads' outputs ``(N, Tq, h, V)`` and, on the explicit path, the weights ``(N, h, Tq, Tv)``."""
        scale = 1.0 / math.sqrt(float(self.key_dim))
        if mask is not None and mask.dim() == 2:
            mask = mask.unsqueeze(0)
        if not (self.dropout > 0.0 or return_scores):
            # Keras's fused path: torch's scaled_dot_product_attention on (N, h, T, C).
            bias = None
            if mask is not None:
                negative = _SDPA_NEGATIVE_F16 if q.dtype == torch.float16 else _SDPA_NEGATIVE
                bias = torch.where(mask.unsqueeze(1), 0.0, negative).to(q.dtype)
            out = torch.nn.functional.scaled_dot_product_attention(
                q.transpose(1, 2).contiguous(), k.transpose(1, 2).contiguous(), v.transpose(1, 2).contiguous(),
                attn_mask=bias, is_causal=causal_only, scale=scale)
            return out.transpose(1, 2), None
        if causal_only:
            mask = _causal(q.shape[1], k.shape[1], q.device)
        q = q * scale
        scores = torch.einsum("nsac,ntac->nats", k, q)                        # (N, h, Tq, Tv)
        if mask is not None:
            m = mask.unsqueeze(1)                                             # (N or 1, 1, Tq, Tv)
            negative = -3e4 if scores.dtype == torch.float16 else -_LARGE
            scores = torch.where(m, scores, torch.full_like(scores, negative))
            weights = torch.softmax(scores, dim=-1)
            weights = torch.where(m, weights, torch.zeros_like(weights))
        else:
            weights = torch.softmax(scores, dim=-1)
        used = self._dropout(weights) if self.training and self.dropout > 0.0 else weights
        out = torch.einsum("nats,nsac->ntac", used, v)                       # (N, Tq, h, V)
        return out, weights

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            key_dim=self.key_dim,
            value_dim=self.value_dim,
            dropout=self.dropout,
            use_bias=self.use_bias,
            output_shape=None if self._output_shape is None else list(self._output_shape),
            attention_axes=None,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            use_gate=self.use_gate,
            seed=self.seed,
        )
        return config

    def extra_repr(self) -> str:
        return f"name={self.name!r}, num_heads={self.num_heads}, key_dim={self.key_dim}, value_dim={self.value_dim}"


__all__ = ["Attention", "AdditiveAttention", "MultiHeadAttention"]
