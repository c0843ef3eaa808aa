r"""A small Transformer encoder with the recurrent layers' interface, for comparisons.

``input (L, N, H_in) -> Linear -> + sinusoidal positions -> torch.nn.TransformerEncoder`` (pre-norm
layers, final LayerNorm). With ``causal=True`` step ``t`` attends only to steps ``<= t``, like a
one-directional RNN; unlike an LSTM's constant-size state, its per-step memory is the whole prefix
(attention cost grows as ``L^2``). Positional encoding (Vaswani et al., 2017)::

    PE[t, 2j]   = sin(t / 10000^(2j / d_model))
    PE[t, 2j+1] = cos(t / 10000^(2j / d_model))

``forward(input, hx=None, *, lengths=None) -> (output, None)``: output ``(L, N, d_model)``
(``(N, L, d_model)`` with ``batch_first``, ``(L, d_model)`` unbatched). With ``lengths``, padded
steps are masked out as keys and their outputs are exactly zero. ``hx`` exists for interface
symmetry and must be ``None``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

from lstmkit.errors import ConfigError, InputValueError, ShapeError
from lstmkit.nn._base import check_bool, check_positive_int, check_probability
from lstmkit.nn.lengths import as_lengths


def sinusoidal_positions(max_len: int, d_model: int, start: int = 0) -> Tensor:
    """``(max_len, d_model)`` sinusoidal encodings of positions ``start .. start + max_len - 1``.

    Computed in float64 from the position itself, so any row (position 10**6 included) can be made
    on the fly, and equals the same row of a table that starts at 0.
    """
    position = torch.arange(start, start + max_len, dtype=torch.float64).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(10000.0) / d_model))
    table = torch.zeros(max_len, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)[:, : d_model // 2]
    return table.to(torch.get_default_dtype())


class TransformerEncoder(nn.Module):
    """Causal (by default) Transformer encoder with ``forward(input, hx=None, *, lengths=None)``."""

    def __init__(
        self,
        input_size: int,
        d_model: int = 64,
        nhead: int = 4,
        num_layers: int = 2,
        dim_feedforward: int | None = None,
        dropout: float = 0.0,
        batch_first: bool = False,
        max_len: int = 4096,
        causal: bool = True,
    ) -> None:
        super().__init__()
        owner = "TransformerEncoder"
        self.input_size = check_positive_int(owner, "input_size", input_size)
        self.d_model = check_positive_int(owner, "d_model", d_model)
        self.nhead = check_positive_int(owner, "nhead", nhead)
        if self.d_model % self.nhead:
            raise ConfigError(f"{owner} nhead: expected a divisor of d_model={d_model}, found {nhead}")
        self.num_layers = check_positive_int(owner, "num_layers", num_layers)
        self.dim_feedforward = check_positive_int(owner, "dim_feedforward", dim_feedforward or 4 * self.d_model)
        self.dropout = check_probability(owner, "dropout", dropout)
        self.batch_first = check_bool(owner, "batch_first", batch_first)
        self.max_len = check_positive_int(owner, "max_len", max_len)
        self.causal = check_bool(owner, "causal", causal)

        self.input_proj = nn.Linear(self.input_size, self.d_model)
        self.register_buffer("positions", sinusoidal_positions(self.max_len, self.d_model), persistent=False)
        layer = nn.TransformerEncoderLayer(
            self.d_model, self.nhead, self.dim_feedforward, self.dropout, batch_first=True, norm_first=True
        )
        # enable_nested_tensor=False: the nested-tensor shortcut is for padding-heavy inference and
        # warns with norm_first; we zero padded outputs ourselves.
        self.encoder = nn.TransformerEncoder(
            layer, self.num_layers, norm=nn.LayerNorm(self.d_model), enable_nested_tensor=False
        )

    def forward(self, input: Tensor, hx: None = None, *, lengths: Tensor | Sequence[int] | None = None):
        owner = "TransformerEncoder"
        if hx is not None:
            raise ConfigError(f"{owner} hx: expected None (a Transformer carries no recurrent state), found {type(hx).__name__}")
        layout = "(N, L, H_in={})" if self.batch_first else "(L, N, H_in={})"
        if not isinstance(input, Tensor) or input.dim() not in (2, 3) or input.size(-1) != self.input_size:
            found = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise ShapeError(
                f"{owner} input: expected 3-D {layout.format(self.input_size)} or unbatched 2-D "
                f"(L, H_in={self.input_size}) tensor, found {found}"
            )
        if input.dtype != self.input_proj.weight.dtype:
            raise InputValueError(f"{owner} input: expected dtype {self.input_proj.weight.dtype}, found {input.dtype}")
        is_batched = input.dim() == 3
        x = input if is_batched else input.unsqueeze(0 if self.batch_first else 1)
        if not self.batch_first:
            x = x.transpose(0, 1)  # work batch-first: (N, L, H_in)
        batch, steps = x.size(0), x.size(1)
        if steps > self.max_len:
            raise ShapeError(f"{owner} input: expected at most max_len={self.max_len} steps, found {steps}")

        z = self.input_proj(x) + self.positions[:steps].to(x.dtype)
        attn_mask = None
        if self.causal:
            attn_mask = torch.ones(steps, steps, dtype=torch.bool, device=x.device).triu(1)  # True = may not attend
        padding_mask = real = None
        if lengths is not None:
            lengths = as_lengths(lengths, batch, steps, owner=owner).to(x.device)
            real = torch.arange(steps, device=x.device).unsqueeze(0) < lengths.unsqueeze(1)  # (N, L)
            # A row with no real step would have every key masked (softmax of nothing = NaN);
            # let it attend freely, its outputs are zeroed below anyway.
            padding_mask = ~real & (lengths > 0).unsqueeze(1)
        out = self.encoder(z, mask=attn_mask, src_key_padding_mask=padding_mask)
        if real is not None:
            out = torch.where(real.unsqueeze(-1), out, 0.0)
        if not self.batch_first:
            out = out.transpose(0, 1)
        if not is_batched:
            out = out.squeeze(0 if self.batch_first else 1)
        return out, None


__all__ = ["TransformerEncoder", "sinusoidal_positions"]
