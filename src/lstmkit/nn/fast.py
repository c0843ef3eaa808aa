"""The fast path: PyTorch's fused recurrent kernels (oneDNN on CPU, cuDNN on GPU).

:func:`run_fused` calls ``torch._VF.lstm`` / ``gru`` / ``rnn_tanh`` / ``rnn_relu`` exactly as
``torch.nn.LSTM``/``GRU``/``RNN`` do, so a call costs what a plain torch call costs. With
``lengths`` it packs the batch (``pack_padded_sequence(enforce_sorted=False)``), so the kernel stops
each row at its own last step and the backward direction starts there. Packing rejects length 0,
so such rows are left out of the kernel call: their output is zero and their final state is their
initial state.
"""

from __future__ import annotations

from typing import Callable

from torch import Tensor, _VF
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

KERNELS: dict[str, Callable] = {
    "LSTM": _VF.lstm,
    "GRU": _VF.gru,
    "RNN_TANH": _VF.rnn_tanh,
    "RNN_RELU": _VF.rnn_relu,
}

State = Tensor | tuple[Tensor, ...]


def _map(fn: Callable[[Tensor], Tensor], state: State) -> State:
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


def _unpack_hidden(result: tuple, state: State) -> State:
    return tuple(result[1:]) if isinstance(state, tuple) else result[1]


def run_fused(
    mode: str,
    input: Tensor,
    hx: State,
    weights: list[Tensor],
    *,
    has_biases: bool,
    num_layers: int,
    dropout: float,
    training: bool,
    bidirectional: bool,
    batch_first: bool,
    lengths: Tensor | None = None,
) -> tuple[Tensor, State]:
    """Run a fused kernel on batched ``input`` from state ``hx`` (a tensor, or ``(h, c)`` for LSTM).

    ``lengths`` must already be checked (:func:`lstmkit.nn.lengths.as_lengths`). Returns
    ``(output, hidden)`` with ``hidden`` shaped like ``hx``.
    """
    kernel = KERNELS[mode]
    batch_dim = 0 if batch_first else 1
    max_len = input.size(1 - batch_dim)
    if max_len == 0 or (lengths is not None and not bool((lengths > 0).any())):
        # No real step anywhere (the kernels reject zero-length input): zero output, initial state.
        out_size = weights[1].size(1) * (2 if bidirectional else 1)  # weight_hh is (gates, H_out)
        return input.new_zeros(input.size(0), input.size(1), out_size), hx
    if lengths is None:
        result = kernel(input, hx, weights, has_biases, num_layers, dropout, training, bidirectional, batch_first)
        return result[0], _unpack_hidden(result, hx)

    nonempty = lengths > 0
    everyone = bool(nonempty.all())
    x, h, kept_lengths = input, hx, lengths
    if not everyone:
        keep = nonempty.nonzero().squeeze(1).to(input.device)
        x = input.index_select(batch_dim, keep)
        h = _map(lambda s: s.index_select(1, keep), hx)
        kept_lengths = lengths[nonempty]

    packed = pack_padded_sequence(x, kept_lengths, batch_first=batch_first, enforce_sorted=False)
    h = _map(lambda s: s.index_select(1, packed.sorted_indices), h)
    result = kernel(packed.data, packed.batch_sizes, h, weights, has_biases, num_layers, dropout, training, bidirectional)
    hidden = _map(lambda s: s.index_select(1, packed.unsorted_indices), _unpack_hidden(result, h))
    output, _ = pad_packed_sequence(
        PackedSequence(result[0], packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices),
        batch_first=batch_first,
        total_length=max_len,
    )
    if not everyone:
        full = output.new_zeros(input.size(0), input.size(1), output.size(2)).index_copy(batch_dim, keep, output)
        output = full
        if isinstance(hx, tuple):
            hidden = tuple(h0.index_copy(1, keep, hn) for h0, hn in zip(hx, hidden))
        else:
            hidden = hx.index_copy(1, keep, hidden)
    return output, hidden


__all__ = ["run_fused", "KERNELS"]
