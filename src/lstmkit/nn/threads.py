"""How many torch threads the reference step loop uses.

The loop does a few tiny matrix products per step. On the 2-core CPU machines this project runs
on, intra-op threading makes such products far slower than one thread (see docs/nn.md for the
measured numbers), so :func:`loop_threads` drops to ``LOOP_THREADS`` threads for the duration of
the loop and restores the previous count afterwards, and :func:`loop_threads_in_backward` does
the same for the backward pass (from the moment the gradient reaches the loop's outputs until
that whole ``backward()`` call ends). The fused kernel is not affected.

Set ``lstmkit.nn.threads.LOOP_THREADS = None`` to leave torch's setting alone.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch.autograd import Variable

LOOP_THREADS: int | None = 1


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch intra-op threads, then restore the previous count.

    ``None`` leaves torch's setting alone.
    """
    before = torch.get_num_threads()
    if threads is None or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def loop_threads():
    """:func:`torch_threads` with ``LOOP_THREADS``, applied only when it lowers the count."""
    wanted = LOOP_THREADS
    if wanted is not None and torch.get_num_threads() <= wanted:
        wanted = None
    return torch_threads(wanted)


def loop_threads_in_backward(*outputs: torch.Tensor) -> None:
    """Run the backward pass through ``outputs`` (and the rest of that ``backward()``) on ``LOOP_THREADS``.

    A gradient hook on each output lowers the thread count when backpropagation reaches it and
    queues a callback on the autograd engine that restores the count when the backward call ends.
    """
    wanted = LOOP_THREADS
    if wanted is None or torch.get_num_threads() <= wanted or not torch.is_grad_enabled():
        return

    def hook(grad: torch.Tensor) -> None:
        before = torch.get_num_threads()
        if before > wanted:
            torch.set_num_threads(wanted)
            # The engine runs queued callbacks once the whole backward pass has finished.
            Variable._execution_engine.queue_callback(lambda: torch.set_num_threads(before))

    for out in outputs:
        if out.requires_grad:
            out.register_hook(hook)


__all__ = ["torch_threads", "loop_threads", "loop_threads_in_backward", "LOOP_THREADS"]
