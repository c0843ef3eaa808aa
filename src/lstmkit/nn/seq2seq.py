r"""Encoder-decoder LSTM for translation (Bahdanau / Luong attention or none), with an incremental decoder.

Shapes: ``N`` sentences, source length ``S``, target length ``T``, embedding size ``E``, encoder
size ``H_e`` per direction, memory size ``K = 2 H_e``, decoder size ``H``, target vocabulary ``V``.

**Encoder.** ``x_j = dropout(E_src[src_j])``; a bidirectional :class:`lstmkit.nn.LSTM` (the
fused kernel, ``lengths`` given, ``batch_first``) of ``enc_layers`` layers gives the memory
``h_j = [h_j^fwd; h_j^bwd]`` ``(N, S, K)`` (exactly zero at padded steps) and each layer's final
states, taken at each row's own last real step.

**Bridge.** Decoder layer ``l`` (of ``L = dec_layers``) starts from encoder layer
``k(l) = max(enc_layers - L + l, 0)`` (the top layers line up; with fewer encoder layers the
extra decoder layers share encoder layer 0)::

    s_0^l = tanh(B_h^l [h_fin^{fwd,k}; h_fin^{bwd,k}] + b_h^l)
    m_0^l = tanh(B_c^l [c_fin^{fwd,k}; c_fin^{bwd,k}] + b_c^l)           (decoder cell state)

where ``h_fin^fwd`` is the forward direction's state after the last real source step and
``h_fin^bwd`` the backward direction's state after step 1.

**Decoder**, one step ``t = 1 .. T`` with ``y_0 = bos`` (teacher forcing feeds the reference
``y_{t-1}``; search feeds its own choice), ``e_t = dropout(E_tgt[y_{t-1}])``, ``s_t`` the top
decoder layer's output, ``LSTM`` the ``dec_layers``-layer :class:`lstmkit.nn.LSTM` run for one
step, ``W_c`` ``(H, K + H)`` without bias::

    "bahdanau"  c_t, a_t = attend(s_{t-1}, h)          (query: the previous top state)
                s_t = LSTM([e_t; c_t; h~_{t-1}])         (h~_{t-1} only with input_feeding)
                h~_t = tanh(W_c [c_t; s_t])
    "dot",      s_t = LSTM([e_t; h~_{t-1}])              (h~_{t-1} only with input_feeding)
    "general"   c_t, a_t = attend(s_t, h)
                h~_t = tanh(W_c [c_t; s_t])
    "none"      s_t = LSTM(e_t);  h~_t = s_t             (the decoder sees only the bridged state;
                                                          input_feeding does nothing here)

    logits_t = W_o dropout(h~_t) + b_o                   (N, V)

with ``h~_0 = 0`` and ``attend`` the :class:`~lstmkit.nn.attention.Attention` score of that name
(Bahdanau's additive score with ``attn_size``, Luong's dot or general), masked to the real
source steps. The fed-back ``h~_{t-1}`` is the dropped-out one (the same tensor the output layer
reads). Bahdanau et al. read the output from ``s_t``, ``c_t`` and ``y_{t-1}`` through a maxout
layer; here every attention kind shares Luong's attentional layer ``h~_t``, so the kinds differ
only in where and how they attend.

**Sizes.** ``hidden`` is ``H``; ``enc_hidden`` (``H_e``) defaults to ``hidden``, except for
``"dot"``, whose score needs ``K == H``: there it defaults to ``hidden // 2`` (each direction
half the decoder size, as OpenNMT does for a bidirectional encoder), and a ``hidden`` that is
odd, or an ``enc_hidden`` with ``2 * enc_hidden != hidden``, is a :class:`ConfigError`.

**Tied embeddings** (``tie_embeddings=True``): ``W_o`` is the target embedding matrix ``E_tgt``
``(V, E)``; when ``H != E``, ``h~_t`` is first projected by ``P`` ``(E, H)`` without bias:
``logits_t = E_tgt P dropout(h~_t) + b_o``.

**Dropout** (``dropout``): on the source and target embeddings, between stacked LSTM layers
(encoder and decoder) and on ``h~_t``.

**Interface** (shared with :class:`lstmkit.nn.transformer.TransformerSeq2Seq`, used by
:mod:`lstmkit.tasks.translate.decode`)::

    logits = model(src (N, S) long, src_lengths (N,), tgt_in (N, T) long)    # (N, T, V), teacher forcing
    enc = model.encode(src, src_lengths)                                    # EncoderState
    state = model.init_decoder(enc)                                         # dict of (N, ...) tensors
    log_probs, state, weights = model.step(state, prev_tokens (N,))          # (N, V), new state, (N, S)
    state = model.reorder(state, index (M,))                                # rows index of the state

Teacher forcing equals running :meth:`Seq2SeqLSTM.step` token by token (tested to 1e-5). When
the recurrence does not depend on the attention (``"dot"``/``"general"`` without input feeding,
``"none"``) :meth:`forward` runs the decoder LSTM over the whole target in one fused call and
attends for all steps at once; otherwise it loops over :meth:`step`'s arithmetic.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.errors import ConfigError, InputValueError, ShapeError
from lstmkit.nn._base import check_bool, check_positive_int, check_probability
from lstmkit.nn.attention import Attention
from lstmkit.nn.lengths import as_lengths
from lstmkit.nn.lstm import LSTM
from lstmkit.nn.threads import loop_threads, loop_threads_in_backward

ATTENTION_KINDS = ("bahdanau", "dot", "general", "none")

#: The decoder state of :meth:`Seq2SeqLSTM.init_decoder` / ``step``: every tensor has the batch
#: (hypothesis) dimension first, so :func:`reorder_state` can ``index_select`` each one.
DecoderState = dict[str, Tensor]


@dataclass
class EncoderState:
    """What :meth:`encode` returns: the memory the decoder attends to and (LSTM) the final states.

    ``memory`` ``(N, S, K)``; ``mask`` ``(N, S)`` bool, True at real source steps; ``final_h``,
    ``final_c`` ``(N, 2 * enc_layers, H_e)`` (batch first; index ``2k`` forward, ``2k + 1``
    backward direction of layer ``k``), ``None`` for models without recurrent state.
    """

    memory: Tensor
    mask: Tensor
    final_h: Tensor | None = None
    final_c: Tensor | None = None


def reorder_state(state: DecoderState, index: Tensor) -> DecoderState:
    """Rows ``index`` (``(M,)`` int64) of every tensor of ``state``: select, drop or repeat hypotheses."""
    if not isinstance(index, Tensor) or index.dim() != 1 or index.dtype not in (torch.int64, torch.int32):
        found = f"{index.dtype} {tuple(index.shape)}" if isinstance(index, Tensor) else type(index).__name__
        raise ShapeError(f"reorder index: expected a 1-D int64 tensor of row numbers, found {found}")
    return {name: value.index_select(0, index.to(value.device)) for name, value in state.items()}


def check_special_ids(owner: str, src_vocab: int, tgt_vocab: int, pad_id: object, bos_id: object, eos_id: object) -> tuple[int, int, int]:
    """Check ``pad_id``, ``bos_id``, ``eos_id``: distinct ints inside the target vocabulary (pad also in the source's)."""
    ids = []
    for name, value in (("pad_id", pad_id), ("bos_id", bos_id), ("eos_id", eos_id)):
        limit = min(src_vocab, tgt_vocab) if name == "pad_id" else tgt_vocab
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < limit:
            raise ConfigError(f"{owner} {name}: expected an int in [0, {limit}), found {value!r}")
        ids.append(int(value))
    if len(set(ids)) != 3:
        raise ConfigError(f"{owner} pad_id, bos_id, eos_id: expected three different ids, found {ids}")
    return ids[0], ids[1], ids[2]


def check_tokens(owner: str, name: str, tokens: object, vocab: int, batch: int | None = None) -> Tensor:
    """Check a ``(N, L)`` tensor of token ids in ``[0, vocab)``; return it."""
    if not isinstance(tokens, Tensor) or tokens.dim() != 2:
        found = tuple(tokens.shape) if isinstance(tokens, Tensor) else type(tokens).__name__
        raise ShapeError(f"{owner} {name}: expected a 2-D (N, L) tensor of token ids, found {found}")
    if tokens.dtype not in (torch.int64, torch.int32):
        raise InputValueError(f"{owner} {name}: expected integer token ids (torch.long), found {tokens.dtype}")
    if batch is not None and tokens.size(0) != batch:
        raise ShapeError(f"{owner} {name}: expected {batch} rows (one per source sentence), found {tokens.size(0)}")
    if tokens.numel():
        low, high = int(tokens.min()), int(tokens.max())
        if low < 0 or high >= vocab:
            raise InputValueError(f"{owner} {name}: expected ids in [0, {vocab}), found {low if low < 0 else high}")
    return tokens


def source_mask(lengths: Tensor, steps: int, device: torch.device) -> Tensor:
    """``(N, S)`` bool, True where ``j < lengths[n]``."""
    return torch.arange(steps, device=device).unsqueeze(0) < lengths.to(device).unsqueeze(1)


class Seq2SeqLSTM(nn.Module):
    """Bidirectional-LSTM encoder, attentional LSTM decoder (see the module docstring for the equations).

    Args:
        src_vocab, tgt_vocab: vocabulary sizes.
        emb: ``E``, embedding size (source and target).
        hidden: ``H``, decoder size (and the attentional vector's).
        enc_layers, dec_layers: stacked LSTM layers of the encoder (bidirectional) and decoder.
        attention: ``"bahdanau"``, ``"dot"``, ``"general"`` or ``"none"``.
        input_feeding: feed ``h~_{t-1}`` into step ``t``'s input (Luong et al. 2015).
        dropout: probability, see the module docstring.
        tie_embeddings: the output layer shares the target embedding matrix.
        pad_id, bos_id, eos_id: special target ids (``pad_id`` is also the source padding id;
            padded embedding rows are zero and get no gradient).
        enc_hidden: ``H_e`` per direction (default: ``hidden``; ``hidden // 2`` for ``"dot"``).
        attn_size: hidden size of the Bahdanau score (default ``hidden``).
    """

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        emb: int = 256,
        hidden: int = 256,
        enc_layers: int = 1,
        dec_layers: int = 1,
        attention: str = "bahdanau",
        input_feeding: bool = True,
        dropout: float = 0.0,
        tie_embeddings: bool = False,
        pad_id: int = 0,
        bos_id: int = 2,
        eos_id: int = 3,
        *,
        enc_hidden: int | None = None,
        attn_size: int | None = None,
    ) -> None:
        super().__init__()
        owner = "Seq2SeqLSTM"
        self.src_vocab = check_positive_int(owner, "src_vocab", src_vocab)
        self.tgt_vocab = check_positive_int(owner, "tgt_vocab", tgt_vocab)
        self.emb = E = check_positive_int(owner, "emb", emb)
        self.hidden = H = check_positive_int(owner, "hidden", hidden)
        self.enc_layers = check_positive_int(owner, "enc_layers", enc_layers)
        self.dec_layers = check_positive_int(owner, "dec_layers", dec_layers)
        if attention not in ATTENTION_KINDS:
            raise ConfigError(f"{owner} attention: expected one of {', '.join(map(repr, ATTENTION_KINDS))}, found {attention!r}")
        self.attention_kind = attention
        self.input_feeding = check_bool(owner, "input_feeding", input_feeding)
        self.dropout = check_probability(owner, "dropout", dropout)
        self.tie_embeddings = check_bool(owner, "tie_embeddings", tie_embeddings)
        self.pad_id, self.bos_id, self.eos_id = check_special_ids(owner, self.src_vocab, self.tgt_vocab, pad_id, bos_id, eos_id)
        if enc_hidden is None:
            if attention == "dot" and H % 2:
                raise ConfigError(f"{owner} hidden: the dot score with a bidirectional encoder needs an even hidden, found {H}")
            enc_hidden = H // 2 if attention == "dot" else H
        self.enc_hidden = He = check_positive_int(owner, "enc_hidden", enc_hidden)
        if attention == "dot" and 2 * He != H:
            raise ConfigError(f"{owner} enc_hidden: the dot score needs 2 * enc_hidden == hidden={H}, found {He}")
        if attn_size is not None and attention != "bahdanau":
            raise ConfigError(f"{owner} attn_size: only the bahdanau score has one, found {attn_size!r} for attention={attention!r}")
        self.memory_size = K = 2 * He
        #: whether h~_{t-1} is fed to step t (input_feeding, except with attention="none")
        self.feeds = self.input_feeding and attention != "none"

        self.src_embed = nn.Embedding(self.src_vocab, E, padding_idx=self.pad_id)
        self.tgt_embed = nn.Embedding(self.tgt_vocab, E, padding_idx=self.pad_id)
        self.encoder = LSTM(E, He, self.enc_layers, batch_first=True, dropout=self.dropout, bidirectional=True)
        self.bridge_h = nn.ModuleList(nn.Linear(K, H) for _ in range(self.dec_layers))
        self.bridge_c = nn.ModuleList(nn.Linear(K, H) for _ in range(self.dec_layers))
        self.attention = None if attention == "none" else Attention(attention, H, K, attn_size)
        dec_input = E + (K if attention == "bahdanau" else 0) + (H if self.feeds else 0)
        self.decoder = LSTM(dec_input, H, self.dec_layers, batch_first=True, dropout=self.dropout)
        self.combine = None if attention == "none" else nn.Linear(K + H, H, bias=False)  # W_c
        self.drop = nn.Dropout(self.dropout)
        if self.tie_embeddings:
            self.tie_proj = nn.Linear(H, E, bias=False) if H != E else None  # P
            self.out_bias = nn.Parameter(torch.zeros(self.tgt_vocab))
            self.out = None
        else:
            self.out = nn.Linear(H, self.tgt_vocab)  # W_o, b_o

    # ---- encoder ---------------------------------------------------------------------------

    def encode(self, src: Tensor, src_lengths) -> EncoderState:
        """Embed and encode ``src (N, S)`` with ``src_lengths (N,)``; see :class:`EncoderState`."""
        owner = "Seq2SeqLSTM"
        check_tokens(owner, "src", src, self.src_vocab)
        N, S = src.shape
        lengths = as_lengths(src_lengths, N, S, owner=owner)
        x = self.drop(self.src_embed(src.long()))
        memory, (h_n, c_n) = self.encoder(x, lengths=lengths)
        return EncoderState(memory, source_mask(lengths, S, src.device), h_n.transpose(0, 1), c_n.transpose(0, 1))

    def init_decoder(self, enc: EncoderState) -> DecoderState:
        """The bridged initial state (module docstring) plus the memory, its mask and its precomputed keys.

        Keys: ``h``, ``c`` ``(N, dec_layers, H)``; ``memory`` ``(N, S, K)``; ``mask`` ``(N, S)``;
        ``keys`` (bahdanau, general: :meth:`Attention.precompute`); ``feed`` ``(N, H)`` (input feeding).
        """
        h0, c0 = [], []
        for layer in range(self.dec_layers):
            k = max(self.enc_layers - self.dec_layers + layer, 0)
            h_fin = torch.cat([enc.final_h[:, 2 * k], enc.final_h[:, 2 * k + 1]], dim=-1)  # (N, 2 H_e)
            c_fin = torch.cat([enc.final_c[:, 2 * k], enc.final_c[:, 2 * k + 1]], dim=-1)
            h0.append(torch.tanh(self.bridge_h[layer](h_fin)))
            c0.append(torch.tanh(self.bridge_c[layer](c_fin)))
        state: DecoderState = {
            "h": torch.stack(h0, dim=1),
            "c": torch.stack(c0, dim=1),
            "memory": enc.memory,
            "mask": enc.mask,
        }
        if self.attention is not None and self.attention.kind != "dot":
            state["keys"] = self.attention.precompute(enc.memory)
        if self.feeds:
            state["feed"] = enc.memory.new_zeros(enc.memory.size(0), self.hidden)
        return state

    # ---- decoder ---------------------------------------------------------------------------

    def _attend(self, query: Tensor, state: DecoderState) -> tuple[Tensor, Tensor]:
        return self.attention(query, state["memory"], state["mask"], state.get("keys", state["memory"]))

    def decode_step(self, state: DecoderState, emb: Tensor) -> tuple[Tensor, DecoderState, Tensor]:
        """One decoder step from the embedded previous token ``emb (N, E)``: ``(h~_t (N, H), new state, a_t (N, S))``."""
        parts = [emb]
        if self.attention_kind == "bahdanau":
            context, weights = self._attend(state["h"][:, -1], state)  # query s_{t-1}
            parts.append(context)
        if self.feeds:
            parts.append(state["feed"])
        x = torch.cat(parts, dim=-1).unsqueeze(1)  # (N, 1, dec_input)
        hx = (state["h"].transpose(0, 1).contiguous(), state["c"].transpose(0, 1).contiguous())
        out, (h, c) = self.decoder(x, hx)
        s_t = out[:, 0]
        if self.attention_kind in ("dot", "general"):
            context, weights = self._attend(s_t, state)  # query s_t
        if self.attention_kind == "none":
            h_tilde = s_t
            weights = state["mask"].to(s_t.dtype) * 0.0
        else:
            h_tilde = torch.tanh(self.combine(torch.cat([context, s_t], dim=-1)))
        h_tilde = self.drop(h_tilde)
        new_state = dict(state)
        new_state["h"], new_state["c"] = h.transpose(0, 1), c.transpose(0, 1)
        if self.feeds:
            new_state["feed"] = h_tilde
        return h_tilde, new_state, weights

    def output(self, h_tilde: Tensor) -> Tensor:
        """Logits ``(..., V)`` from ``h~ (..., H)`` (already dropped out): ``W_o h~ + b_o`` or the tied form."""
        if self.out is not None:
            return self.out(h_tilde)
        z = h_tilde if self.tie_proj is None else self.tie_proj(h_tilde)
        return F.linear(z, self.tgt_embed.weight, self.out_bias)

    def step(self, state: DecoderState, prev_tokens: Tensor) -> tuple[Tensor, DecoderState, Tensor]:
        """One step of incremental decoding: ``prev_tokens (N,)`` -> ``(log_probs (N, V), new state, weights (N, S))``.

        ``weights`` are the attention weights ``a_t`` (all zero for ``attention="none"``).
        """
        N = state["h"].size(0)
        if not isinstance(prev_tokens, Tensor) or tuple(prev_tokens.shape) != (N,):
            found = tuple(prev_tokens.shape) if isinstance(prev_tokens, Tensor) else type(prev_tokens).__name__
            raise ShapeError(f"Seq2SeqLSTM step prev_tokens: expected shape ({N},), found {found}")
        emb = self.drop(self.tgt_embed(prev_tokens.long()))
        h_tilde, new_state, weights = self.decode_step(state, emb)
        return torch.log_softmax(self.output(h_tilde), dim=-1), new_state, weights

    def reorder(self, state: DecoderState, index: Tensor) -> DecoderState:
        """Rows ``index (M,)`` of the state (beam selection and expansion); see :func:`reorder_state`."""
        return reorder_state(state, index)

    # ---- teacher forcing -------------------------------------------------------------------

    def forward(self, src: Tensor, src_lengths, tgt_in: Tensor, *, return_attention: bool = False):
        """Teacher-forced logits ``(N, T, V)`` of the next tokens after ``tgt_in (N, T)`` (``bos y_1 .. y_{T-1}``).

        With ``return_attention=True`` returns ``(logits, weights (N, T, S))``.
        """
        enc = self.encode(src, src_lengths)
        check_tokens("Seq2SeqLSTM", "tgt_in", tgt_in, self.tgt_vocab, batch=src.size(0))
        state = self.init_decoder(enc)
        emb = self.drop(self.tgt_embed(tgt_in.long()))  # (N, T, E)
        N, T = tgt_in.shape
        if T == 0:
            logits = emb.new_zeros(N, 0, self.tgt_vocab)
            weights = emb.new_zeros(N, 0, enc.memory.size(1))
        elif self.attention_kind != "bahdanau" and not self.feeds:
            # The recurrence never reads the attention: one fused call over all T steps.
            hx = (state["h"].transpose(0, 1).contiguous(), state["c"].transpose(0, 1).contiguous())
            s, _ = self.decoder(emb, hx)  # (N, T, H)
            if self.attention is None:
                h_tilde = s
                weights = enc.mask.to(s.dtype).unsqueeze(1).expand(N, T, -1) * 0.0
            else:
                context, weights = self.attention.forward_all(s, enc.memory, enc.mask, state.get("keys", enc.memory))
                h_tilde = torch.tanh(self.combine(torch.cat([context, s], dim=-1)))
            logits = self.output(self.drop(h_tilde))
        else:
            outputs, attn = [], []
            with loop_threads():
                for t in range(T):
                    h_tilde, state, a = self.decode_step(state, emb[:, t])
                    outputs.append(h_tilde)
                    attn.append(a)
                logits = self.output(torch.stack(outputs, dim=1))
            weights = torch.stack(attn, dim=1)
            loop_threads_in_backward(logits)
        return (logits, weights) if return_attention else logits

    def extra_repr(self) -> str:
        return (
            f"attention={self.attention_kind!r}, input_feeding={self.feeds}, enc_hidden={self.enc_hidden}, "
            f"hidden={self.hidden}, tie_embeddings={self.tie_embeddings}, pad_id={self.pad_id}, "
            f"bos_id={self.bos_id}, eos_id={self.eos_id}"
        )


# ---- loss ------------------------------------------------------------------------------------


def _check_loss_args(logits: Tensor, target: Tensor, pad_id: object, smoothing: object) -> None:
    owner = "label_smoothed_nll"
    if not isinstance(logits, Tensor) or logits.dim() < 2 or not logits.is_floating_point():
        found = f"{logits.dtype} {tuple(logits.shape)}" if isinstance(logits, Tensor) else type(logits).__name__
        raise ShapeError(f"{owner} logits: expected a float (..., V) tensor, found {found}")
    if not isinstance(target, Tensor) or tuple(target.shape) != tuple(logits.shape[:-1]):
        found = tuple(target.shape) if isinstance(target, Tensor) else type(target).__name__
        raise ShapeError(f"{owner} target: expected shape {tuple(logits.shape[:-1])} (logits without V), found {found}")
    if target.dtype not in (torch.int64, torch.int32):
        raise InputValueError(f"{owner} target: expected integer token ids, found {target.dtype}")
    if isinstance(pad_id, bool) or not isinstance(pad_id, numbers.Integral):
        raise ConfigError(f"{owner} pad_id: expected an int, found {pad_id!r}")
    if isinstance(smoothing, bool) or not isinstance(smoothing, numbers.Real) or not 0.0 <= smoothing < 1.0:
        raise ConfigError(f"{owner} smoothing: expected a float in [0, 1), found {smoothing!r}")


def label_smoothed_nll_reference(logits: Tensor, target: Tensor, pad_id: int, smoothing: float = 0.1) -> tuple[Tensor, int]:
    r"""The definition, written out (see :func:`label_smoothed_nll`)."""
    _check_loss_args(logits, target, pad_id, smoothing)
    log_p = torch.log_softmax(logits, dim=-1)
    real = target != pad_id
    safe_target = torch.where(real, target, 0).long()
    nll = -log_p.gather(-1, safe_target.unsqueeze(-1)).squeeze(-1)  # -log p(y)
    uniform = -log_p.mean(dim=-1)  # mean over the vocabulary of -log p(v)
    per_token = (1.0 - smoothing) * nll + smoothing * uniform
    n_tokens = int(real.sum())
    return (per_token * real).sum() / max(n_tokens, 1), n_tokens


def label_smoothed_nll(logits: Tensor, target: Tensor, pad_id: int, smoothing: float = 0.1) -> tuple[Tensor, int]:
    r"""Label-smoothed negative log-likelihood, averaged over the non-pad target tokens.

    For each token with ``target != pad_id`` (``eps = smoothing``, ``V`` the vocabulary)::

        loss = (1 - eps) * (-log p(y)) + eps * (1/V) sum_v (-log p(v))

    i.e. the cross-entropy against ``(1 - eps) * onehot(y) + eps / V`` (Szegedy et al. 2016). This
    is exactly what ``torch.nn.functional.cross_entropy(label_smoothing=eps, ignore_index=pad_id)``
    computes, so that is what runs (tested equal to :func:`label_smoothed_nll_reference`).

    ``logits (..., V)``, ``target (...)``. Returns ``(mean loss, n_tokens)``, the mean over the
    ``n_tokens`` non-pad tokens (0.0 when there are none, not NaN). Multiply by ``n_tokens`` for
    the sum, to average over several batches exactly.
    """
    _check_loss_args(logits, target, pad_id, smoothing)
    V = logits.size(-1)
    flat_target = target.reshape(-1).long()
    total = F.cross_entropy(
        logits.reshape(-1, V), flat_target, ignore_index=int(pad_id), label_smoothing=float(smoothing), reduction="sum"
    )
    n_tokens = int((flat_target != pad_id).sum())
    return total / max(n_tokens, 1), n_tokens


__all__ = [
    "Seq2SeqLSTM",
    "EncoderState",
    "DecoderState",
    "reorder_state",
    "label_smoothed_nll",
    "label_smoothed_nll_reference",
    "ATTENTION_KINDS",
]
