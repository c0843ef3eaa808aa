"""Length-bucketed batches of token-id rows, for training and prediction of text classifiers.

Texts differ in length (a tweet has 12 tokens, a review 800). Padding every text to one fixed
length makes a batch of short texts cost as much as a batch of long ones, so batches here group
texts of similar length and each batch is padded only to its own longest row::

    row_i = ids of text i, cut to max_length                          (len(row_i) = l_i >= 1)
    key_i = log(l_i) + u_i,  u_i ~ Uniform(-jitter, +jitter)          (a fresh draw every epoch)
    order = argsort(key);  batches = consecutive runs of batch_size in that order;  batch order shuffled

so a batch holds texts whose lengths are within about ``exp(2 * jitter)`` of each other (x1.22 with
the default ``jitter=0.1``), and which texts meet in a batch changes from epoch to epoch. The
padded tensor of a batch is ``(B, max_b l_i)`` with id 0 after each row (``padding="post"``); the
model masks id 0 (``Embedding(mask_zero=True)``), so a text's output does not depend on which batch
it is in. Every draw comes from a generator seeded by ``(seed, epoch)``
(:func:`lstmkit.train.epoch_generator`), so batch ``i`` of epoch ``e`` is the same every time it
is asked for (an engine requirement), and each process of a multi-process run takes its shard of
the same global batch.

Cost: the padding overhead per batch is at most ``1 - exp(-2 * jitter)`` of its tokens (18%),
against ``1 - mean(l) / max_length`` for fixed-length padding (75% for 100-token texts padded to 400).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lstmkit.errors import ConfigError, DataError

PAD_ID = 0


def cut(ids: Sequence[int], max_length: int, truncation: str = "pre") -> list[int]:
    """``ids`` cut to at most ``max_length`` (``"pre"`` keeps the *last* ids, ``"post"`` the first);
    an empty row becomes ``[0]`` (one padding step, which the model reads as "no token")."""
    ids = list(ids)
    if len(ids) > max_length:
        ids = ids[-max_length:] if truncation == "pre" else ids[:max_length]
    return ids or [PAD_ID]


def pad_rows(rows: Sequence[Sequence[int]], index: Sequence[int] | np.ndarray) -> torch.Tensor:
    """``(len(index), max length)`` int64 tensor of ``rows[index]``, 0 after each row."""
    index = [int(i) for i in index]
    width = max(len(rows[i]) for i in index)
    out = np.zeros((len(index), width), dtype=np.int64)
    for k, i in enumerate(index):
        r = rows[i]
        out[k, : len(r)] = r
    return torch.from_numpy(out)


def sorted_batches(lengths: Sequence[int] | np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Indices in batches of ``batch_size`` in order of length (for prediction: least padding)."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[i: i + batch_size] for i in range(0, len(order), batch_size)]


class BucketedTextBatches:
    """A batch source (:class:`lstmkit.train.BatchSource`) of ``(x, y)`` with length bucketing.

    ``rows``: token-id lists (already cut to the maximum length, none empty); ``targets``: ``(N,)``
    class indices. ``batch(epoch, i)`` is ``(x, y)``: ``x`` ``(B, L_b)`` int64 padded with 0 to the
    batch's longest row, ``y`` ``(B,)`` int64. See the module docstring for how batches are drawn.
    """

    def __init__(self, rows: Sequence[Sequence[int]], targets: Sequence[int] | np.ndarray, batch_size: int,
                 seed: int = 0, jitter: float = 0.1) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size: expected a positive integer, found {batch_size!r}")
        if not rows:
            raise DataError("BucketedTextBatches: no rows")
        if len(rows) != len(targets):
            raise DataError(f"BucketedTextBatches: {len(rows)} rows but {len(targets)} targets")
        self.rows = [list(r) for r in rows]
        self.targets = torch.as_tensor(np.asarray(targets, dtype=np.int64))
        self.lengths = np.asarray([max(1, len(r)) for r in self.rows], dtype=np.float64)
        self.batch_size = batch_size
        self.seed = int(seed)
        self.jitter = float(jitter)
        self.n = len(self.rows)
        self._plan: tuple[int, list[np.ndarray]] | None = None

    def num_batches(self, epoch: int = 0) -> int:
        return math.ceil(self.n / self.batch_size)

    def plan(self, epoch: int) -> list[np.ndarray]:
        """The epoch's batches (index arrays), drawn from a generator seeded by ``(seed, epoch)``."""
        if self._plan is None or self._plan[0] != epoch:
            from lstmkit.train.batches import epoch_seed

            rng = np.random.default_rng(epoch_seed(self.seed, epoch))
            key = np.log(self.lengths) + rng.uniform(-self.jitter, self.jitter, self.n)
            order = np.argsort(key, kind="stable")
            batches = [order[i: i + self.batch_size] for i in range(0, self.n, self.batch_size)]
            perm = rng.permutation(len(batches))
            self._plan = (epoch, [batches[int(k)] for k in perm])
        return self._plan[1]

    def batch(self, epoch: int, index: int, rank: int = 0, world: int = 1) -> Any:
        idx = self.plan(epoch)[index]
        if world > 1:
            idx = np.array_split(idx, world)[rank]
            if idx.size == 0:
                return None
        return pad_rows(self.rows, idx), self.targets[torch.as_tensor(idx, dtype=torch.long)]

    def padding_fraction(self, epoch: int = 0) -> float:
        """Share of padding ids in the epoch's batches (0 when every batch holds equal lengths)."""
        real = padded = 0.0
        for idx in self.plan(epoch):
            lens = self.lengths[idx]
            real += lens.sum()
            padded += lens.max() * len(idx)
        return 1.0 - real / padded if padded else 0.0

    def __len__(self) -> int:
        return self.num_batches()


__all__ = ["BucketedTextBatches", "cut", "pad_rows", "sorted_batches", "PAD_ID"]
