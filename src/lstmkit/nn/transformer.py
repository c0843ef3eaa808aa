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

:class:`TransformerSeq2Seq` is the encoder-decoder baseline for translation, with the
incremental decoding interface of :class:`lstmkit.nn.seq2seq.Seq2SeqLSTM` (see its docstring).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

from lstmkit.errors import ConfigError, InputValueError, ShapeError
from lstmkit.nn._base import check_bool, check_positive_int, check_probability
from lstmkit.nn.lengths import as_lengths
from lstmkit.nn.seq2seq import (
    DecoderState,
    EncoderState,
    check_special_ids,
    check_tokens,
    reorder_state,
    source_mask,
)


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


class TransformerSeq2Seq(nn.Module):
    r"""Transformer encoder-decoder (Vaswani et al., 2017) with :class:`lstmkit.nn.seq2seq.Seq2SeqLSTM`'s interface.

    The equal-size baseline for the LSTM translators. Pre-norm layers (``norm_first``) of
    :class:`torch.nn.TransformerEncoderLayer` / :class:`torch.nn.TransformerDecoderLayer` (ReLU,
    ``batch_first``), a final LayerNorm after each stack::

        z^src = dropout(sqrt(d_model) E_src[src] + PE[0 .. S-1])      -> encoder  -> memory (N, S, d)
        z^tgt = dropout(sqrt(d_model) E_tgt[tgt_in] + PE[0 .. T-1])   -> decoder  -> (N, T, d)
        logits = W_o decoder_out + b_o                                (N, T, V)

    ``PE`` is :func:`sinusoidal_positions`. The encoder's self-attention and the decoder's
    cross-attention mask the padded source steps (key padding masks; a length-0 source is left
    unmasked, its memory is zero); the decoder's self-attention is causal (step ``t`` sees
    ``tgt_in[: t + 1]``), so padding at the end of ``tgt_in`` never reaches a real position.
    Memory rows at padded source steps are set to zero.

    Interface: ``forward(src, src_lengths, tgt_in) -> logits (N, T, V)``, ``encode``,
    ``init_decoder``, ``step(state, prev_tokens) -> (log_probs, state, weights)``, ``reorder``,
    as :class:`~lstmkit.nn.seq2seq.Seq2SeqLSTM`. :meth:`step` keeps a cache per decoder layer of
    ``LayerNorm1(x)`` of every earlier position (the self-attention's keys and values), so a step
    runs the new position only: for layer ``l`` and new position ``t``::

        n_t = LayerNorm1(x_t);  K = V = [cache_l; n_t]        (cache_l grows by n_t)
        x_t = x_t + SelfAttn(n_t, K, V)
        x_t = x_t + CrossAttn(LayerNorm2(x_t), memory)
        x_t = x_t + FF(LayerNorm3(x_t))

    which equals the causal full forward at position ``t`` (tested to 1e-5). ``weights`` are the
    last decoder layer's cross-attention weights averaged over heads ``(N, S)``.

    Sizes: :meth:`parameter_count` gives the count for a configuration without building it;
    :meth:`fit_size` / :meth:`with_parameter_count` choose ``d_model`` (and ``ff = ff_ratio *
    d_model``) to come closest to a target count, for comparisons at equal size.
    """

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        d_model: int = 256,
        heads: int = 4,
        enc_layers: int = 3,
        dec_layers: int = 3,
        ff: int | None = None,
        dropout: float = 0.0,
        pad_id: int = 0,
        bos_id: int = 2,
        eos_id: int = 3,
        *,
        max_len: int = 1024,
    ) -> None:
        super().__init__()
        owner = "TransformerSeq2Seq"
        self.src_vocab = check_positive_int(owner, "src_vocab", src_vocab)
        self.tgt_vocab = check_positive_int(owner, "tgt_vocab", tgt_vocab)
        self.d_model = d = check_positive_int(owner, "d_model", d_model)
        self.heads = check_positive_int(owner, "heads", heads)
        if d % self.heads:
            raise ConfigError(f"{owner} heads: expected a divisor of d_model={d}, found {heads}")
        self.enc_layers = check_positive_int(owner, "enc_layers", enc_layers)
        self.dec_layers = check_positive_int(owner, "dec_layers", dec_layers)
        self.ff = check_positive_int(owner, "ff", 4 * d if ff is None else ff)
        self.dropout = check_probability(owner, "dropout", dropout)
        self.pad_id, self.bos_id, self.eos_id = check_special_ids(owner, self.src_vocab, self.tgt_vocab, pad_id, bos_id, eos_id)
        self.max_len = check_positive_int(owner, "max_len", max_len)

        self.src_embed = nn.Embedding(self.src_vocab, d, padding_idx=self.pad_id)
        self.tgt_embed = nn.Embedding(self.tgt_vocab, d, padding_idx=self.pad_id)
        self.register_buffer("positions", sinusoidal_positions(self.max_len, d), persistent=False)
        self.drop = nn.Dropout(self.dropout)
        enc_layer = nn.TransformerEncoderLayer(d, self.heads, self.ff, self.dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(enc_layer, self.enc_layers, norm=nn.LayerNorm(d), enable_nested_tensor=False)
        dec_layer = nn.TransformerDecoderLayer(d, self.heads, self.ff, self.dropout, batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(dec_layer, self.dec_layers, norm=nn.LayerNorm(d))
        self.out = nn.Linear(d, self.tgt_vocab)

    # ---- sizes -------------------------------------------------------------------------------

    @staticmethod
    def parameter_count(src_vocab: int, tgt_vocab: int, d_model: int, enc_layers: int, dec_layers: int, ff: int) -> int:
        """Trainable parameters of a model of this configuration (``heads`` does not change it)::

            attention block   4 d^2 + 4 d          (in-projection 3d x d + 3d, out-projection d x d + d)
            feed-forward      2 d ff + ff + d
            encoder layer     attention + feed-forward + 2 LayerNorms (4 d)
            decoder layer     2 attentions + feed-forward + 3 LayerNorms (6 d)
            total             (V_src + V_tgt) d + L_e enc + L_d dec + 2 final LayerNorms (4 d) + d V_tgt + V_tgt
        """
        d = d_model
        attention = 4 * d * d + 4 * d
        feed_forward = 2 * d * ff + ff + d
        encoder = enc_layers * (attention + feed_forward + 4 * d) + 2 * d
        decoder = dec_layers * (2 * attention + feed_forward + 6 * d) + 2 * d
        return (src_vocab + tgt_vocab) * d + encoder + decoder + d * tgt_vocab + tgt_vocab

    @classmethod
    def fit_size(
        cls, target: int, src_vocab: int, tgt_vocab: int, heads: int = 4, enc_layers: int = 3, dec_layers: int = 3,
        ff_ratio: float = 4.0,
    ) -> tuple[int, int]:  # fmt: skip
        """``(d_model, ff)`` whose :meth:`parameter_count` is closest to ``target``.

        ``d_model`` runs over the multiples of ``heads``; ``ff = round(ff_ratio * d_model)``.
        """
        owner = "TransformerSeq2Seq fit_size"
        target = check_positive_int(owner, "target", target)
        heads = check_positive_int(owner, "heads", heads)
        if isinstance(ff_ratio, bool) or not isinstance(ff_ratio, (int, float)) or ff_ratio <= 0:
            raise ConfigError(f"{owner} ff_ratio: expected a positive number, found {ff_ratio!r}")
        best: tuple[int, int, int] | None = None  # (distance, d_model, ff)
        d = heads
        while True:
            ff = max(1, round(ff_ratio * d))
            count = cls.parameter_count(src_vocab, tgt_vocab, d, enc_layers, dec_layers, ff)
            if best is None or abs(count - target) < best[0]:
                best = (abs(count - target), d, ff)
            if count >= target:  # the count grows with d_model: nothing further comes closer
                return best[1], best[2]
            d += heads

    @classmethod
    def with_parameter_count(
        cls, target: int, src_vocab: int, tgt_vocab: int, heads: int = 4, enc_layers: int = 3, dec_layers: int = 3,
        ff_ratio: float = 4.0, **kwargs,
    ) -> TransformerSeq2Seq:  # fmt: skip
        """A model whose size is closest to ``target`` parameters (see :meth:`fit_size`); ``kwargs`` go to ``__init__``."""
        d_model, ff = cls.fit_size(target, src_vocab, tgt_vocab, heads, enc_layers, dec_layers, ff_ratio)
        return cls(src_vocab, tgt_vocab, d_model, heads, enc_layers, dec_layers, ff, **kwargs)

    # ---- encoder -----------------------------------------------------------------------------

    def _embed(self, embedding: nn.Embedding, tokens: Tensor, start: int = 0) -> Tensor:
        steps = tokens.size(1)
        if start + steps > self.max_len:
            raise ShapeError(f"TransformerSeq2Seq: expected at most max_len={self.max_len} positions, found {start + steps}")
        z = embedding(tokens.long()) * math.sqrt(self.d_model)
        return self.drop(z + self.positions[start : start + steps].to(z.dtype))

    @staticmethod
    def _memory_padding(mask: Tensor) -> Tensor:
        """Key padding mask (True = ignore) of the memory; a length-0 row attends freely (no NaN)."""
        return ~mask & mask.any(dim=1, keepdim=True)

    def encode(self, src: Tensor, src_lengths) -> EncoderState:
        """``src (N, S)``, ``src_lengths (N,)`` -> :class:`EncoderState` (``memory (N, S, d_model)``, ``mask``)."""
        owner = "TransformerSeq2Seq"
        check_tokens(owner, "src", src, self.src_vocab)
        N, S = src.shape
        lengths = as_lengths(src_lengths, N, S, owner=owner)
        mask = source_mask(lengths, S, src.device)
        memory = self.encoder(self._embed(self.src_embed, src), src_key_padding_mask=self._memory_padding(mask))
        return EncoderState(torch.where(mask.unsqueeze(-1), memory, 0.0), mask)

    # ---- decoder -----------------------------------------------------------------------------

    def init_decoder(self, enc: EncoderState) -> DecoderState:
        """``memory``, ``mask`` and one empty ``cache_l`` ``(N, 0, d_model)`` per decoder layer."""
        state: DecoderState = {"memory": enc.memory, "mask": enc.mask}
        for layer in range(self.dec_layers):
            state[f"cache_{layer}"] = enc.memory.new_zeros(enc.memory.size(0), 0, self.d_model)
        return state

    def step(self, state: DecoderState, prev_tokens: Tensor) -> tuple[Tensor, DecoderState, Tensor]:
        """``prev_tokens (N,)`` -> ``(log_probs (N, V), new state, cross-attention weights (N, S))``."""
        memory, mask = state["memory"], state["mask"]
        N = memory.size(0)
        if not isinstance(prev_tokens, Tensor) or tuple(prev_tokens.shape) != (N,):
            found = tuple(prev_tokens.shape) if isinstance(prev_tokens, Tensor) else type(prev_tokens).__name__
            raise ShapeError(f"TransformerSeq2Seq step prev_tokens: expected shape ({N},), found {found}")
        position = state["cache_0"].size(1)
        x = self._embed(self.tgt_embed, prev_tokens.unsqueeze(1), start=position)  # (N, 1, d)
        padding = self._memory_padding(mask)
        new_state = dict(state)
        last = len(self.decoder.layers) - 1
        for i, layer in enumerate(self.decoder.layers):
            n1 = layer.norm1(x)
            keys = torch.cat([state[f"cache_{i}"], n1], dim=1)  # LayerNorm1 of positions 0 .. t
            new_state[f"cache_{i}"] = keys
            x = x + layer.dropout1(layer.self_attn(n1, keys, keys, need_weights=False)[0])
            cross, weights = layer.multihead_attn(
                layer.norm2(x), memory, memory, key_padding_mask=padding, need_weights=i == last
            )
            x = x + layer.dropout2(cross)
            x = x + layer._ff_block(layer.norm3(x))
        out = self.decoder.norm(x)[:, 0]
        log_probs = torch.log_softmax(self.out(out), dim=-1)
        return log_probs, new_state, weights[:, 0] * mask.to(weights.dtype)

    def reorder(self, state: DecoderState, index: Tensor) -> DecoderState:
        """Rows ``index (M,)`` of the state (memory, mask and caches)."""
        return reorder_state(state, index)

    def forward(self, src: Tensor, src_lengths, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits ``(N, T, V)`` of the tokens after each prefix of ``tgt_in (N, T)``."""
        enc = self.encode(src, src_lengths)
        check_tokens("TransformerSeq2Seq", "tgt_in", tgt_in, self.tgt_vocab, batch=src.size(0))
        T = tgt_in.size(1)
        causal = torch.ones(T, T, dtype=torch.bool, device=tgt_in.device).triu(1)  # True = may not attend
        out = self.decoder(
            self._embed(self.tgt_embed, tgt_in), enc.memory, tgt_mask=causal,
            memory_key_padding_mask=self._memory_padding(enc.mask),
        )  # fmt: skip
        return self.out(out)

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, heads={self.heads}, enc_layers={self.enc_layers}, dec_layers={self.dec_layers}, "
            f"ff={self.ff}, pad_id={self.pad_id}, bos_id={self.bos_id}, eos_id={self.eos_id}"
        )


__all__ = ["TransformerEncoder", "TransformerSeq2Seq", "sinusoidal_positions"]
