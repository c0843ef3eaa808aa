r"""Attention for encoder-decoders: Bahdanau (additive), Luong dot and Luong general, with source masks.

A decoder state ``s_t`` (the *query*, size ``Q``) looks at the encoder outputs ``h_1 .. h_S`` (the
*keys*, size ``K``; they are also the values) of one source sentence::

    bahdanau (additive, Bahdanau et al. 2015):  score(s_t, h_j) = v^T tanh(W_s s_t + W_h h_j)
    dot      (Luong et al. 2015):               score(s_t, h_j) = s_t^T h_j            (needs Q == K)
    general  (Luong et al. 2015):               score(s_t, h_j) = s_t^T W_a h_j

    a_tj = exp(score_tj) / sum_{j' real} exp(score_tj')     for real source steps j, 0 for padding
    c_t  = sum_j a_tj h_j                                   context vector

Parameters (no biases, the equations as written): ``bahdanau``: ``W_s`` ``(A, Q)``, ``W_h``
``(A, K)``, ``v`` ``(A,)`` with ``A = attn_size`` (default ``Q``); ``general``: ``W_a`` ``(Q, K)``;
``dot``: none.

The source-side half of a score does not change while a sentence is decoded, so
:meth:`Attention.precompute` computes it once per source (``W_h h_j`` ``(N, S, A)`` for
bahdanau, ``W_a h_j`` ``(N, S, Q)`` for general, the keys themselves for dot) and
``forward(..., precomputed=...)`` reuses it at every step.

Masks: ``mask`` ``(N, S)`` bool, True at real source steps. Padded steps get weight exactly 0. A
row with no real step at all (a length-0 source) gets all-zero weights and a zero context.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lstmkit.errors import ConfigError, InputValueError, ShapeError
from lstmkit.nn._base import check_positive_int

KINDS = ("bahdanau", "dot", "general")


def masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    r"""``softmax`` over the last dim of ``scores`` ``(..., S)`` restricted to ``mask`` ``(..., S)`` (True = real).

    Masked entries are exactly 0; a row whose entries are all masked is all 0 (not NaN). The
    masked scores are filled with the dtype's most negative finite value rather than ``-inf``,
    so an all-masked row stays finite (its uniform softmax is then zeroed by the mask) and its
    gradient is 0 instead of NaN.
    """
    if mask is None:
        return torch.softmax(scores, dim=-1)
    filled = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.softmax(filled, dim=-1) * mask.to(scores.dtype)


class Attention(nn.Module):
    r"""``Attention(kind, query_size, key_size, attn_size=None)``: one of the scores of the module docstring.

    Args:
        kind: ``"bahdanau"``, ``"dot"`` or ``"general"``.
        query_size: ``Q``, size of the decoder state ``s_t``.
        key_size: ``K``, size of the encoder outputs ``h_j`` (and of the context).
        attn_size: ``A``, the hidden size of the additive score (bahdanau only; default ``Q``).

    ``forward(query (N, Q), keys (N, S, K), mask (N, S) bool or None, precomputed=None)``
    returns ``(context (N, K), weights (N, S))``. :meth:`forward_all` does the same for all ``T``
    decoder steps at once: ``queries (N, T, Q) -> (contexts (N, T, K), weights (N, T, S))``
    (for teacher forcing when the queries do not depend on the contexts, as in Luong attention
    without input feeding). Both compute the same numbers (tested to 1e-5).
    """

    def __init__(self, kind: str, query_size: int, key_size: int, attn_size: int | None = None) -> None:
        super().__init__()
        owner = "Attention"
        if kind not in KINDS:
            raise ConfigError(f"{owner} kind: expected one of {', '.join(map(repr, KINDS))}, found {kind!r}")
        self.kind = kind
        self.query_size = check_positive_int(owner, "query_size", query_size)
        self.key_size = check_positive_int(owner, "key_size", key_size)
        if attn_size is not None and kind != "bahdanau":
            raise ConfigError(f"{owner} attn_size: only the bahdanau score has one, found {attn_size!r} for kind={kind!r}")
        if kind == "dot" and self.query_size != self.key_size:
            raise ConfigError(
                f"{owner} key_size: the dot score needs query_size == key_size, found {self.query_size} and {self.key_size}"
            )
        self.attn_size = check_positive_int(owner, "attn_size", attn_size or self.query_size) if kind == "bahdanau" else None
        if kind == "bahdanau":
            self.W_s = nn.Linear(self.query_size, self.attn_size, bias=False)
            self.W_h = nn.Linear(self.key_size, self.attn_size, bias=False)
            self.v = nn.Parameter(torch.empty(self.attn_size))
            bound = 1.0 / self.attn_size**0.5
            nn.init.uniform_(self.v, -bound, bound)
        elif kind == "general":
            self.W_a = nn.Linear(self.key_size, self.query_size, bias=False)

    # ---- the source-side half ----------------------------------------------------------------

    def precompute(self, keys: Tensor) -> Tensor:
        """The part of the score that depends on the source only, computed once per sentence.

        ``keys (N, S, K)`` -> ``W_h h_j`` ``(N, S, A)`` (bahdanau), ``W_a h_j`` ``(N, S, Q)``
        (general) or ``keys`` itself (dot).
        """
        self._check_keys(keys)
        if self.kind == "bahdanau":
            return self.W_h(keys)
        if self.kind == "general":
            return self.W_a(keys)
        return keys

    # ---- forward -----------------------------------------------------------------------------

    def forward(
        self, query: Tensor, keys: Tensor, mask: Tensor | None = None, precomputed: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        if not isinstance(query, Tensor) or query.dim() != 2 or query.size(-1) != self.query_size:
            found = tuple(query.shape) if isinstance(query, Tensor) else type(query).__name__
            raise ShapeError(f"Attention query: expected (N, Q={self.query_size}), found {found}")
        context, weights = self.forward_all(query.unsqueeze(1), keys, mask, precomputed)
        return context.squeeze(1), weights.squeeze(1)

    def forward_all(
        self, queries: Tensor, keys: Tensor, mask: Tensor | None = None, precomputed: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        r"""All decoder steps at once: ``queries (N, T, Q)`` -> ``(contexts (N, T, K), weights (N, T, S))``."""
        self._check_keys(keys)
        N, S = keys.size(0), keys.size(1)
        if not isinstance(queries, Tensor) or queries.dim() != 3 or queries.size(0) != N or queries.size(-1) != self.query_size:
            found = tuple(queries.shape) if isinstance(queries, Tensor) else type(queries).__name__
            raise ShapeError(f"Attention queries: expected (N={N}, T, Q={self.query_size}), found {found}")
        if mask is not None:
            if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
                found = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
                raise InputValueError(f"Attention mask: expected a bool tensor (True = real step), found {found}")
            if tuple(mask.shape) != (N, S):
                raise ShapeError(f"Attention mask: expected shape ({N}, {S}), found {tuple(mask.shape)}")
        if precomputed is None:
            precomputed = self.precompute(keys)
        else:
            size = {"bahdanau": self.attn_size, "general": self.query_size, "dot": self.key_size}[self.kind]
            if not isinstance(precomputed, Tensor) or tuple(precomputed.shape) != (N, S, size):
                found = tuple(precomputed.shape) if isinstance(precomputed, Tensor) else type(precomputed).__name__
                raise ShapeError(f"Attention precomputed: expected ({N}, {S}, {size}) from precompute(keys), found {found}")

        scores = self.score(queries, precomputed)  # (N, T, S)
        weights = masked_softmax(scores, None if mask is None else mask.unsqueeze(1))
        contexts = torch.bmm(weights, keys)  # c_t = sum_j a_tj h_j: (N, T, S) @ (N, S, K)
        return contexts, weights

    def score(self, queries: Tensor, precomputed: Tensor) -> Tensor:
        r"""Raw scores ``(N, T, S)`` of ``queries (N, T, Q)`` against :meth:`precompute`'s output."""
        if self.kind == "bahdanau":
            # v^T tanh(W_s s_t + W_h h_j): (N, T, 1, A) + (N, 1, S, A) -> (N, T, S, A) -> (N, T, S)
            hidden = torch.tanh(self.W_s(queries).unsqueeze(2) + precomputed.unsqueeze(1))
            return hidden @ self.v
        # dot: s_t^T h_j; general: s_t^T (W_a h_j). (N, T, Q) @ (N, Q, S)
        return torch.bmm(queries, precomputed.transpose(1, 2))

    def _check_keys(self, keys: Tensor) -> None:
        if not isinstance(keys, Tensor) or keys.dim() != 3 or keys.size(-1) != self.key_size:
            found = tuple(keys.shape) if isinstance(keys, Tensor) else type(keys).__name__
            raise ShapeError(f"Attention keys: expected (N, S, K={self.key_size}), found {found}")

    def extra_repr(self) -> str:
        s = f"{self.kind!r}, query_size={self.query_size}, key_size={self.key_size}"
        if self.attn_size is not None:
            s += f", attn_size={self.attn_size}"
        return s


__all__ = ["Attention", "masked_softmax", "KINDS"]
