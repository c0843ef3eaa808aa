"""Introspection containers: the gate values of one step, of one sequence, of a whole LSTM.

``lstm(x, return_gates=True)`` returns a :class:`GateTrace`; index it by layer then direction::

    output, (h_n, c_n), gates = lstm(x, return_gates=True)
    gates[0][0].forget_gate            # layer 0, forward direction, (L, N, H)
    gates.layer(1, reverse=True).cell_state   # layer 1, backward direction, (L, N, H)

Every tensor is laid out like ``output``: ``(L, N, H)``, or ``(N, L, H)`` with ``batch_first``, or
``(L, H)`` for unbatched input. ``hidden_state`` is ``(L, N, proj_size or H)``. The backward
direction is stored in the original time order (step ``t`` is the state after reading ``x[t]``
going backwards), so it lines up with the second half of ``output``. With ``lengths``, entries at
padded steps are exactly zero.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, Iterator, NamedTuple

from torch import Tensor


class StepGates(NamedTuple):
    """The gates and state of one LSTM step, each ``(N, H)`` (``hidden_state``: ``(N, proj_size or H)``)."""

    input_gate: Tensor
    forget_gate: Tensor
    candidate: Tensor
    output_gate: Tensor
    cell_state: Tensor
    hidden_state: Tensor


GATE_NAMES = StepGates._fields


@dataclass(frozen=True)
class GateSequence:
    """Per-step gates of one layer and direction, each ``(L, N, H)`` laid out like ``output``."""

    input_gate: Tensor
    forget_gate: Tensor
    candidate: Tensor
    output_gate: Tensor
    cell_state: Tensor
    hidden_state: Tensor

    def map(self, fn: Callable[[Tensor], Tensor]) -> "GateSequence":
        """A new sequence with ``fn`` applied to every tensor (e.g. a transpose or ``detach``)."""
        return GateSequence(*(fn(getattr(self, f.name)) for f in fields(self)))

    def as_dict(self) -> dict[str, Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class GateTrace:
    """Gate values of every layer and direction of one LSTM call.

    ``trace[k]`` is the list of directions of layer ``k`` (``[forward]`` or ``[forward, backward]``),
    each a :class:`GateSequence`; ``trace.layer(k, reverse=False)`` is the same by name.
    """

    def __init__(self, layers: list[list[GateSequence]]):
        self.layers = layers

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def num_directions(self) -> int:
        return len(self.layers[0]) if self.layers else 0

    def layer(self, k: int, reverse: bool = False) -> GateSequence:
        directions = self.layers[k]
        if reverse and len(directions) < 2:
            raise IndexError(f"GateTrace.layer: reverse=True needs a bidirectional LSTM, layer {k} has one direction")
        return directions[1 if reverse else 0]

    def __getitem__(self, k: int) -> list[GateSequence]:
        return self.layers[k]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[list[GateSequence]]:
        return iter(self.layers)

    def __repr__(self) -> str:
        shape = tuple(self.layers[0][0].forget_gate.shape) if self.layers else ()
        return f"GateTrace(num_layers={self.num_layers}, num_directions={self.num_directions}, gate_shape={shape})"


__all__ = ["StepGates", "GateSequence", "GateTrace", "GATE_NAMES"]
