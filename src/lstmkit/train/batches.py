"""Batch sources: what the engine trains on, one deterministic batch at a time.

A batch source answers two questions (the :class:`BatchSource` protocol):

* ``num_batches(epoch) -> int | None``: how many batches epoch ``epoch`` (0-based) has; ``None`` for
  an endless stream (the run then ends by ``max_steps`` or ``minutes``);
* ``batch(epoch, index, rank=0, world=1)``: batch ``index`` of epoch ``epoch``, the same every time
  it is asked for (so a resumed run sees exactly the batches the interrupted one would have). In a
  multi-process run, process ``rank`` of ``world`` gets its shard of that *global* batch (``None``
  when the shard is empty); shards of one batch together hold the whole batch.

A batch is anything the task's step function understands (a tensor, a tuple of tensors ...).
Shuffling must come from a generator seeded by ``(seed, epoch)``, never from global state:
:func:`epoch_generator` gives one.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np
import torch

from lstmkit.errors import ConfigError, DataError


@runtime_checkable
class BatchSource(Protocol):
    def num_batches(self, epoch: int) -> int | None: ...

    def batch(self, epoch: int, index: int, rank: int = 0, world: int = 1) -> Any: ...


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed derived from ``(seed, epoch)`` (numpy's SeedSequence: well mixed, stable)."""
    words = np.random.SeedSequence([int(seed) & (2**63 - 1), int(epoch)]).generate_state(1, np.uint64)
    return int(words[0]) & (2**63 - 1)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from ``(seed, epoch)``."""
    return torch.Generator().manual_seed(epoch_seed(seed, epoch))


def shard(batch: Any, rank: int, world: int, dim: int = 0) -> Any:
    """Process ``rank``'s part of ``batch`` (tensors, or tuples/lists/dicts of them) split along ``dim``.

    Parts are contiguous and as even as :func:`torch.tensor_split` makes them; ``None`` when this
    process's part is empty (a final batch smaller than the world).
    """
    if world == 1:
        return batch
    sizes = []

    def split(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            part = torch.tensor_split(x, world, dim=dim)[rank]
            sizes.append(part.shape[dim])
            return part
        if isinstance(x, tuple):
            return tuple(split(v) for v in x)
        if isinstance(x, list):
            return [split(v) for v in x]
        if isinstance(x, dict):
            return {k: split(v) for k, v in x.items()}
        return x

    out = split(batch)
    return None if sizes and sizes[0] == 0 else out


class TensorBatches:
    """Batches of in-memory tensors that share their first dimension ``N``.

    ``TensorBatches(x, y, batch_size=32, shuffle=True, seed=0)``: batch ``i`` of epoch ``e`` holds
    rows ``order_e[i*B:(i+1)*B]`` of every tensor, where ``order_e`` is ``0..N-1`` (no shuffle) or a
    permutation from :func:`epoch_generator` ``(seed, e)``. Yields a tuple of tensors (or the tensor
    itself when only one was given), moved to ``device`` if given. ``drop_last`` drops a final
    partial batch. With ``world > 1`` each process gets a contiguous shard of the global batch.
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int = 32, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False, device: Any = None) -> None:
        if not tensors:
            raise DataError("TensorBatches: expected at least one tensor, found none")
        for i, t in enumerate(tensors):
            if not isinstance(t, torch.Tensor):
                raise DataError(f"TensorBatches: argument {i} should be a torch.Tensor, found {type(t).__name__}")
            if t.dim() == 0 or t.shape[0] != tensors[0].shape[0]:
                raise DataError(
                    f"TensorBatches: every tensor needs the same first dimension; tensor 0 has "
                    f"{tensors[0].shape[0] if tensors[0].dim() else 'none'}, tensor {i} has {tuple(t.shape)}"
                )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size: expected a positive integer, found {batch_size!r}")
        self.tensors = tuple(t.contiguous() for t in tensors)
        self.n = int(tensors[0].shape[0])
        if self.n == 0:
            raise DataError("TensorBatches: the tensors hold no samples")
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.device = None if device is None else torch.device(device)
        self._order: tuple[int, torch.Tensor] | None = None
        if self.drop_last and self.n < batch_size:
            raise DataError(f"TensorBatches: {self.n} samples make no full batch of {batch_size} (drop_last=True)")

    def num_batches(self, epoch: int = 0) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def order(self, epoch: int) -> torch.Tensor | None:
        """The epoch's sample order (``None``: in order)."""
        if not self.shuffle:
            return None
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, torch.randperm(self.n, generator=epoch_generator(self.seed, epoch)))
        return self._order[1]

    def indices(self, epoch: int, index: int, rank: int = 0, world: int = 1) -> torch.Tensor | slice:
        """Rows of batch ``index`` for process ``rank``: a slice (no shuffle) or an index tensor."""
        start = index * self.batch_size
        stop = min(start + self.batch_size, self.n)
        if world > 1:
            size = stop - start
            base, extra = divmod(size, world)
            lo = start + rank * base + min(rank, extra)
            start, stop = lo, lo + base + (1 if rank < extra else 0)
        order = self.order(epoch)
        return slice(start, stop) if order is None else order[start:stop]

    def batch(self, epoch: int, index: int, rank: int = 0, world: int = 1) -> Any:
        idx = self.indices(epoch, index, rank, world)
        if isinstance(idx, slice):
            if idx.stop <= idx.start:
                return None
            parts = tuple(t[idx] for t in self.tensors)
        else:
            if idx.numel() == 0:
                return None
            parts = tuple(t.index_select(0, idx) for t in self.tensors)
        if self.device is not None and self.device.type != "cpu":
            parts = tuple(p.to(self.device, non_blocking=True) for p in parts)
        return parts[0] if len(parts) == 1 else parts

    def __len__(self) -> int:
        return self.num_batches()


class FunctionBatches:
    """A batch source from a function: ``fn(epoch, index, rank, world) -> batch``.

    ``num_batches``: an int (every epoch), a function of the epoch, or ``None`` (an endless stream).
    The function must be deterministic in its arguments (seed any sampling from them, e.g. with
    :func:`epoch_generator` or ``torch.Generator().manual_seed(...)`` per index).
    """

    def __init__(self, fn: Callable[[int, int, int, int], Any], num_batches: int | Callable[[int], int] | None) -> None:
        if not callable(fn):
            raise ConfigError(f"FunctionBatches: expected a callable, found {type(fn).__name__}")
        if num_batches is not None and not callable(num_batches) and (
                isinstance(num_batches, bool) or not isinstance(num_batches, int) or num_batches < 1):
            raise ConfigError(f"num_batches: expected a positive integer, a function or None, found {num_batches!r}")
        self.fn = fn
        self._n = num_batches

    def num_batches(self, epoch: int = 0) -> int | None:
        return self._n(epoch) if callable(self._n) else self._n

    def batch(self, epoch: int, index: int, rank: int = 0, world: int = 1) -> Any:
        return self.fn(epoch, index, rank, world)


def check_source(source: Any) -> BatchSource:
    if isinstance(source, BatchSource):
        return source
    raise ConfigError(
        "batches: expected a batch source with num_batches(epoch) and batch(epoch, index, rank, world) "
        f"(e.g. lstmkit.train.TensorBatches), found {type(source).__name__}"
    )


__all__ = ["BatchSource", "TensorBatches", "FunctionBatches", "epoch_seed", "epoch_generator", "shard", "check_source"]
