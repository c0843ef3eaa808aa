r"""Streaming (incremental) inference for :class:`~lstmkit.nn.TransformerEncoder` with a key/value cache.

A causal Transformer's output at step ``t`` depends on the keys and values of every step ``<= t``
in every layer. The cache keeps them, so each new step costs one pass of the step itself through
the layers plus attention over the ``t`` cached keys, instead of a full forward over the prefix.
For every layer ``l`` (pre-norm, as the encoder is built) and new step ``t``::

    h        = LayerNorm1(z_t)
    q, k, v  = split(W_in h + b_in)            k, v appended to the layer's cache
    a        = softmax(q K^T / sqrt(d_head)) V over the cached K, V of steps <= t, per head
    z_t      = z_t + W_out a + b_out
    z_t      = z_t + W_2 relu(W_1 LayerNorm2(z_t) + b_1) + b_2

then the final LayerNorm. ``z_t`` starts as ``W_x x_t + b_x + PE[t]``, with the sinusoidal
encoding computed on the fly for the absolute position, so the cache is not bounded by the
model's ``max_len`` (that bound belongs to the full forward's position table and its ``L x L``
attention). The outputs equal the full causal forward's (tested to 1e-5 in float32).

Memory: ``2 * num_layers * N * steps * d_model`` numbers (:meth:`KVCache.bytes_for`), growing with
every step, against an LSTM's constant ``2 * num_layers * N * hidden_size``.

Usage (inference only: the cache runs under ``torch.no_grad``)::

    cache = KVCache(model.eval(), batch_size=N)   # optional capacity= reserves memory up front
    y_t = cache.step(x_t)                         # x_t (N, H_in) -> y_t (N, d_model)
    ys = cache.extend(x_chunk)                    # several steps at once, the model's layout
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import Tensor

from lstmkit.errors import ConfigError, InputValueError, ShapeError
from lstmkit.nn._base import check_positive_int
from lstmkit.nn.transformer import TransformerEncoder, sinusoidal_positions

#: Upper bound on the attention-score workspace of one :meth:`KVCache.extend` sub-chunk.
WORKSPACE_BYTES = 64 * 2**20


def _check_nonnegative_int(owner: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ConfigError(f"{owner} {name}: expected an int >= 0, found {value!r}")
    return int(value)


class KVCache:
    """Keys and values of every layer for the steps seen so far, and the step/extend API.

    Args:
        model: a causal :class:`TransformerEncoder`, in eval mode (the cache is for inference; it
            applies no dropout to attention weights, so a training-mode model with dropout > 0
            would not match its own forward).
        batch_size: ``N``, the sequences decoded together.
        capacity: steps to reserve memory for now; the cache grows by doubling past it.
        start: absolute position of the first step (its sinusoidal encoding).

    Attributes: ``length`` (steps held), ``position`` (absolute position of the next step),
    ``capacity`` (steps allocated), ``nbytes`` (bytes allocated for keys and values),
    ``keys[l]`` / ``values[l]`` of shape ``(N, nhead, capacity, d_model // nhead)`` (the first
    ``length`` steps are valid).
    """

    def __init__(self, model: TransformerEncoder, batch_size: int = 1, *, capacity: int = 0, start: int = 0) -> None:
        owner = "KVCache"
        if not isinstance(model, TransformerEncoder):
            raise ConfigError(f"{owner} model: expected an lstmkit.nn.TransformerEncoder, found {type(model).__name__}")
        if not model.causal:
            raise ConfigError(f"{owner} model: expected a causal TransformerEncoder (causal=True), found causal=False")
        self.model = model
        self.batch_size = check_positive_int(owner, "batch_size", batch_size)
        self.start = _check_nonnegative_int(owner, "start", start)
        capacity = _check_nonnegative_int(owner, "capacity", capacity)
        self.length = 0
        self.capacity = 0
        self.keys: list[Tensor] = []
        self.values: list[Tensor] = []
        self.reserve(capacity)

    # -- sizes ---------------------------------------------------------------------------------
    @property
    def position(self) -> int:
        return self.start + self.length

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)

    @staticmethod
    def bytes_for(model: TransformerEncoder, steps: int, batch_size: int = 1) -> int:
        """Bytes of keys and values for ``steps`` steps: ``2 * num_layers * N * steps * d_model * itemsize``."""
        itemsize = model.input_proj.weight.element_size()
        return 2 * model.num_layers * batch_size * steps * model.d_model * itemsize

    def reserve(self, capacity: int) -> None:
        """Make room for ``capacity`` steps in all (no-op when there already is)."""
        if capacity <= self.capacity:
            return
        weight = self.model.input_proj.weight
        head_dim = self.model.d_model // self.model.nhead
        shape = (self.batch_size, self.model.nhead, capacity, head_dim)

        def grown(old: Tensor | None) -> Tensor:
            # torch.empty: the OS maps pages on first write, so resident memory follows the steps held.
            new = torch.empty(shape, dtype=weight.dtype, device=weight.device)
            if old is not None and self.length:
                new[:, :, : self.length].copy_(old[:, :, : self.length])
            return new

        layers = range(self.model.num_layers)
        self.keys = [grown(self.keys[i] if self.keys else None) for i in layers]
        self.values = [grown(self.values[i] if self.values else None) for i in layers]
        self.capacity = capacity

    # -- decoding ------------------------------------------------------------------------------
    def step(self, input: Tensor) -> Tensor:
        """One step: ``(N, H_in) -> (N, d_model)`` (unbatched ``(H_in,) -> (d_model,)`` when ``N == 1``)."""
        if isinstance(input, Tensor) and input.dim() == 1:
            return self._batched(input.reshape(1, 1, -1), "(H_in={})")[0, 0]
        if not isinstance(input, Tensor) or input.dim() != 2:
            self._shape_error(input, "(N, H_in={}) or unbatched (H_in={})")
        return self._batched(input.unsqueeze(1), "(N, H_in={})")[:, 0]

    def extend(self, input: Tensor, *, attend_to_cache: bool = True) -> Tensor:
        """Several steps in the model's layout: ``(T, N, H_in) -> (T, N, d_model)`` (``(N, T, ...)``
        with ``batch_first``; unbatched ``(T, H_in)`` when ``N == 1``).

        ``attend_to_cache=False`` lets the new steps attend only to each other (causally), as if the
        sequence began at this chunk but at its true positions; their keys and values are still
        appended. That builds a cache of a given size in ``O(T)`` rather than ``O(T * length)``
        (benchmarks); those outputs are not the full-prefix ones.
        """
        batch_first = self.model.batch_first
        layout = "(N, T, H_in={})" if batch_first else "(T, N, H_in={})"
        if not isinstance(input, Tensor) or input.dim() not in (2, 3):
            self._shape_error(input, layout + " or unbatched (T, H_in={})")
        if input.dim() == 2:
            return self._batched(input.unsqueeze(0), "(T, H_in={})", attend_to_cache)[0]
        x = input if batch_first else input.transpose(0, 1)
        out = self._batched(x, layout, attend_to_cache)
        return out if batch_first else out.transpose(0, 1)

    def _shape_error(self, input: object, expected: str) -> None:
        found = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        size = self.model.input_size
        raise ShapeError(f"KVCache input: expected {expected.format(size, size)} tensor, found {found}")

    def _batched(self, x: Tensor, layout: str, attend_to_cache: bool = True) -> Tensor:
        """``x`` ``(N, T, H_in)`` batch-first -> ``(N, T, d_model)``; checks, then runs the layers."""
        model = self.model
        if x.size(0) != self.batch_size or x.size(-1) != model.input_size:
            expected = f"batch size {self.batch_size} and {model.input_size} features in {layout.format(model.input_size)}"
            raise ShapeError(f"KVCache input: expected {expected}, found shape {tuple(x.shape)} (batch-first view)")
        if x.dtype != model.input_proj.weight.dtype:
            raise InputValueError(f"KVCache input: expected dtype {model.input_proj.weight.dtype}, found {x.dtype}")
        with torch.no_grad():
            steps = x.size(1)
            if self.length + steps > self.capacity:
                self.reserve(max(self.length + steps, 2 * self.capacity))
            first_key = 0 if attend_to_cache else self.length
            outputs = []
            begin = 0
            while begin < steps:
                visible = self.length + (steps - begin) - first_key
                per_query = self.batch_size * model.nhead * visible * x.element_size()
                size = max(1, min(steps - begin, WORKSPACE_BYTES // max(per_query, 1)))
                outputs.append(self._layers(x[:, begin : begin + size], first_key))
                begin += size
            return torch.cat(outputs, dim=1) if len(outputs) > 1 else outputs[0]

    def _layers(self, x: Tensor, first_key: int) -> Tensor:
        """Run ``x`` ``(N, T, H_in)`` through every layer, appending its keys and values."""
        model = self.model
        batch, steps = x.size(0), x.size(1)
        heads, head_dim = model.nhead, model.d_model // model.nhead
        positions = sinusoidal_positions(steps, model.d_model, start=self.position).to(x.dtype).to(x.device)
        z = model.input_proj(x) + positions
        end = self.length + steps
        mask = None
        if steps > 1:  # key j may be attended by new step i when j <= its position
            key_index = torch.arange(first_key, end, device=x.device)
            query_index = torch.arange(self.length, end, device=x.device)
            mask = key_index.unsqueeze(0) <= query_index.unsqueeze(1)
        for layer, keys, values in zip(model.encoder.layers, self.keys, self.values):
            attention = layer.self_attn
            qkv = F.linear(layer.norm1(z), attention.in_proj_weight, attention.in_proj_bias)
            q, k, v = qkv.view(batch, steps, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
            keys[:, :, self.length : end].copy_(k)
            values[:, :, self.length : end].copy_(v)
            k_seen, v_seen = keys[:, :, first_key:end], values[:, :, first_key:end]
            if mask is None:  # one query: two matrix-vector products read the cache in place (no copy)
                a = torch.softmax(q @ k_seen.transpose(-1, -2) * head_dim**-0.5, dim=-1) @ v_seen
            else:
                a = F.scaled_dot_product_attention(q, k_seen, v_seen, attn_mask=mask)
            a = a.transpose(1, 2).reshape(batch, steps, model.d_model)
            z = z + layer.dropout1(attention.out_proj(a))
            feed = layer.linear2(layer.dropout(layer.activation(layer.linear1(layer.norm2(z)))))
            z = z + layer.dropout2(feed)
        self.length = end
        norm = model.encoder.norm
        return norm(z) if norm is not None else z


__all__ = ["KVCache", "WORKSPACE_BYTES"]
