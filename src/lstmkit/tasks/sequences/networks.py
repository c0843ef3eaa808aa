"""The networks of :class:`~lstmkit.tasks.sequences.classifier.SequenceClassifier`.

Every network maps a zero-padded batch ``x`` ``(N, L, F)`` with ``lengths`` ``(N,)`` to logits
``(N, n_classes)``, and padded steps never change a sequence's result (so a prediction does not
depend on the batch it is in; tested).

* :class:`SequenceNet` (``model="lstm"``): a recurrent encoder + pooling + linear head (unchanged
  since the first version, so older model files rebuild exactly this network).
* :class:`LSTMFCNNet` (``model="lstm_fcn"`` / ``"alstm_fcn"``): LSTM-FCN and ALSTM-FCN of Karim,
  Majumdar, Darabi and Chen, "LSTM Fully Convolutional Networks for Time Series Classification",
  IEEE Access 6 (2018), arXiv:1709.05206: a fully convolutional branch beside a recurrent branch
  fed the *dimension-shuffled* series, concatenated before the softmax.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def step_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """``(N, steps)`` bool: True on each row's real (unpadded) steps."""
    return torch.arange(steps, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


# ------------------------------------------------------------------------------------------ plain RNN

def recurrent_branch(cell: str, n_in: int, units: int, layers: int, dropout: float, bidirectional: bool,
                     pooling: str, attention_units: int) -> tuple[nn.Module, nn.Module | None, int]:
    """``(rnn, attention or None, width)``: the recurrent layers every network here reads with, batch
    first, input ``(N, T, n_in)``, output ``(N, T, width)`` with ``width = units * (2 if bidirectional
    else 1)``; an :class:`~lstmkit.layers.AttentionPooling` over them when ``pooling == "attention"``."""
    from lstmkit.nn import GRU, LSTM, SimpleRNN

    rnn_cls = {"lstm": LSTM, "gru": GRU, "rnn": SimpleRNN}[cell]
    rnn = rnn_cls(n_in, units, num_layers=layers, batch_first=True, dropout=dropout, bidirectional=bidirectional)
    width = units * (2 if bidirectional else 1)
    attention = None
    if pooling == "attention":
        from lstmkit.layers import AttentionPooling

        attention = AttentionPooling(attention_units)
        attention.build((None, width))
    return rnn, attention, width

class SequenceNet(nn.Module):
    """Recurrent encoder + pooling + linear classifier (``model="lstm"``).

    For ``x`` ``(N, L, F)`` and ``lengths`` ``(N,)``::

        out, h = RNN(x, lengths=lengths)                  lstmkit.nn.LSTM | GRU | SimpleRNN; out (N, L, D*units)
        pooled = h_n of the last layer (both directions)  pooling="last"
               | sum_{t < len} out_t / len                pooling="mean"
               | sum_t softmax_t(v . tanh(W out_t + b)) out_t   pooling="attention" (padding weight 0)
        logits = Linear(Dropout(pooled))                  (N, n_classes)
    """

    def __init__(self, n_features: int, n_classes: int, *, cell: str = "lstm", units: int = 64, layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, pooling: str = "last",
                 attention_units: int = 32) -> None:
        super().__init__()
        self.cell, self.pooling = cell, pooling
        self.rnn, self.attention, width = recurrent_branch(cell, n_features, units, layers, dropout if layers > 1 else 0.0,
                                                           bidirectional, pooling, attention_units)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x`` ``(N, L, F)``, ``lengths`` ``(N,)`` -> logits ``(N, n_classes)``."""
        out, state = self.rnn(x, lengths=lengths)
        if self.pooling == "last":
            h_n = state[0] if self.cell == "lstm" else state  # (D * layers, N, units)
            directions = 2 if self.rnn.bidirectional else 1
            pooled = torch.cat(list(h_n[-directions:]), dim=-1)
        elif self.pooling == "mean":
            pooled = out.sum(dim=1) / lengths.to(out.dtype).unsqueeze(1)  # padded outputs are exactly zero
        else:
            mask = torch.arange(out.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
            pooled = self.attention(out, mask)
        return self.head(self.dropout(pooled))


# ------------------------------------------------------------------------------------------ LSTM-FCN
class MaskedBatchNorm1d(nn.BatchNorm1d):
    """Batch normalisation over the real steps only: ``x`` ``(N, C, L)``, ``mask`` ``(N, 1, L)`` (1 real, 0 padding).

    In training the per-channel mean and variance are taken over the real steps of the batch
    (``mu_c = sum(m x_c) / sum(m)``, ``var_c = sum(m (x_c - mu_c)^2) / sum(m)``), so padding does not
    shift them, and the running statistics are updated from them (unbiased variance, as torch does);
    in evaluation the running statistics are used. The output is ``(gamma (x - mu) / sqrt(var + eps)
    + beta) * m``: padded steps are exactly zero. The parameters and buffers are those of
    :class:`torch.nn.BatchNorm1d` (same state-dict keys).
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if not self.training:
            return super().forward(x) * mask
        count = mask.sum() * 1.0
        mean = (x * mask).sum(dim=(0, 2)) / count
        centred = (x - mean[None, :, None]) * mask
        var = (centred * centred).sum(dim=(0, 2)) / count
        with torch.no_grad():
            m = self.momentum if self.momentum is not None else 0.1
            unbiased = var * (count / torch.clamp(count - 1, min=1.0))
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * unbiased.detach())
            self.num_batches_tracked.add_(1)
        y = centred / torch.sqrt(var[None, :, None] + self.eps)
        return (y * self.weight[None, :, None] + self.bias[None, :, None]) * mask


class LSTMFCNNet(nn.Module):
    r"""LSTM-FCN / ALSTM-FCN (Karim et al. 2018) for zero-padded batches of variable length.

    For ``x`` ``(N, L, F)`` (already normalised) with ``lengths`` ``(N,)`` and ``m_t = [t < len]``::

        FCN branch, three blocks k = 1, 2, 3 (filters 128, 256, 128; kernels 8, 5, 3 by default):
            y_0    = x^T                                              (N, F, L)
            y_k    = ReLU(MaskedBN(Conv1d_k(y_{k-1}, padding="same"))) * m     padded steps kept at 0
            g      = sum_{t < len} y_3[:, :, t] / len                 global average over real steps, (N, 128)

        recurrent branch, on the dimension-shuffled series:
            s      = x^T padded / cut to W steps of time               (N, F, W): F steps, each the whole
                                                                       time axis (W = shuffle_length)
            out, h = RNN(s)                                            lstmkit.nn.LSTM | GRU | SimpleRNN
            r      = h_n (last layer, both directions)                 pooling="last"  (LSTM-FCN)
                   | sum_f softmax_f(v . tanh(W out_f + b)) out_f      pooling="attention" (ALSTM-FCN)
                   | mean_f out_f                                      pooling="mean"
            r      = Dropout(r)                                        p = dropout (0.8 in the paper)

        logits = Linear([r, g])                                        (N, n_classes)

    Padding never reaches a result: every convolution block's output is zeroed on padded steps
    (so the next ``"same"`` convolution sees zeros there, exactly as at the end of an unpadded
    series), batch normalisation takes its statistics over real steps only, the average divides by
    each row's own length, and the recurrent branch always reads ``W`` time steps, padded or cut
    the same way in training and prediction (a series longer than ``W`` is cut to its first ``W``
    steps for that branch only; the FCN branch reads all of it).
    """

    def __init__(self, n_features: int, n_classes: int, *, shuffle_length: int, cell: str = "lstm", units: int = 8,
                 layers: int = 1, bidirectional: bool = False, dropout: float = 0.8, pooling: str = "last",
                 attention_units: int = 32, filters: Sequence[int] = (128, 256, 128),
                 kernel_sizes: Sequence[int] = (8, 5, 3), bn_momentum: float = 0.05) -> None:
        super().__init__()
        self.cell, self.pooling, self.shuffle_length = cell, pooling, int(shuffle_length)
        self.rnn, self.attention, width = recurrent_branch(cell, self.shuffle_length, units, layers, 0.0,
                                                           bidirectional, pooling, attention_units)
        self.dropout = nn.Dropout(dropout)
        channels = [n_features, *filters]
        self.convs = nn.ModuleList(
            nn.Conv1d(channels[i], channels[i + 1], int(kernel_sizes[i])) for i in range(len(filters)))
        self.norms = nn.ModuleList(MaskedBatchNorm1d(f, eps=1e-3, momentum=bn_momentum) for f in filters)
        self.head = nn.Linear(width + channels[-1], n_classes)

    def recurrent_branch(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(N, L, F)`` -> ``(N, D*units)``: the RNN over the F channels of the dimension-shuffled series."""
        s = x.transpose(1, 2)  # (N, F, L): step f carries channel f's whole series
        steps = s.shape[2]
        if steps > self.shuffle_length:
            s = s[:, :, : self.shuffle_length]
        elif steps < self.shuffle_length:
            s = F.pad(s, (0, self.shuffle_length - steps))
        out, state = self.rnn(s.contiguous())
        if self.pooling == "last":
            h_n = state[0] if self.cell == "lstm" else state
            directions = 2 if self.rnn.bidirectional else 1
            pooled = torch.cat(list(h_n[-directions:]), dim=-1)
        elif self.pooling == "mean":
            pooled = out.mean(dim=1)
        else:
            pooled = self.attention(out)
        return self.dropout(pooled)

    def conv_branch(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x`` ``(N, L, F)`` -> ``(N, filters[-1])``: the FCN blocks and the average over real steps."""
        y = x.transpose(1, 2)
        mask = step_mask(lengths, y.shape[2]).to(y.dtype).unsqueeze(1)  # (N, 1, L)
        for conv, norm in zip(self.convs, self.norms):
            k = conv.kernel_size[0]
            y = F.pad(y, ((k - 1) // 2, k // 2))  # "same": (k-1)//2 zeros before, k//2 after (as torch's padding="same")
            y = F.relu(norm(conv(y), mask))  # zero on padded steps
        return y.sum(dim=2) / lengths.to(y.dtype).unsqueeze(1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x`` ``(N, L, F)``, ``lengths`` ``(N,)`` -> logits ``(N, n_classes)``."""
        return self.head(torch.cat([self.recurrent_branch(x), self.conv_branch(x, lengths)], dim=1))


__all__ = ["SequenceNet", "LSTMFCNNet", "MaskedBatchNorm1d", "step_mask"]
