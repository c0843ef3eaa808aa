"""How many torch threads the reference step loop uses.

The loop does a few tiny matrix products per step. On the 2-core CPU machines this project runs
on, intra-op threading makes such products far slower than one thread (see docs/nn.md for the
measured numbers), so :func:`loop_threads` drops to ``LOOP_THREADS`` threads for the duration of
the loop and restores the previous count afterwards. The fused kernel is not affected.

Set ``lstmkit.nn.threads.LOOP_THREADS = None`` to leave torch's setting alone.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

LOOP_THREADS: int | None = 1


@contextmanager
def loop_threads() -> Iterator[None]:
    wanted = LOOP_THREADS
    before = torch.get_num_threads()
    if wanted is None or before <= wanted:
        yield
        return
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(before)


__all__ = ["loop_threads", "LOOP_THREADS"]
