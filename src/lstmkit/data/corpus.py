"""Text corpora for language models: a file to a token-id stream, and streams to TBPTT batches.

* Files are read with :func:`lstmkit.data.readers.read_text` (one-line errors for a missing, empty
  or undecodable file, naming the byte offset and suggesting ``--encoding``).
* :func:`tokenize`: ``level="char"`` keeps every character (newlines included); ``level="word"``
  splits each line on whitespace and ends it with ``<eos>`` (the Penn Treebank convention; PTB
  files already contain ``<unk>``, which stays an ordinary word).
* :class:`Vocabulary`: id 0 is the out-of-vocabulary id (``<oov>``); the other ids are the training
  tokens, most frequent first (ties by first appearance), so a vocabulary is reproducible.
* :func:`batchify` lays a stream out as ``batch_size`` parallel streams, ``(steps, batch_size)``;
  :func:`bptt_windows` cuts it into ``(input, target)`` windows of ``bptt`` steps for truncated
  backpropagation through time (the target is the input shifted by one step).

>>> v = Vocabulary.build(tokenize("abca", "char"), "char")
>>> v.encode(tokenize("abz", "char"))
[1, 2, 0]
>>> batchify(torch.arange(10), 3).tolist()
[[0, 3, 6], [1, 4, 7], [2, 5, 8]]
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterator, Sequence

import torch

from lstmkit.errors import ConfigError, DataError

LEVELS = ("char", "word")
EOS = "<eos>"
OOV = "<oov>"


def check_level(level: Any) -> str:
    if level not in LEVELS:
        raise ConfigError(f"level: expected one of {list(LEVELS)}, found {level!r}")
    return level


def tokenize(text: str, level: str, *, final_eos: bool = True) -> list[str]:
    """Characters, or words with ``<eos>`` at each newline (``final_eos=False``: not after the last line)."""
    check_level(level)
    if level == "char":
        return list(text)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
        trailing_newline = True
    else:
        trailing_newline = False
    tokens: list[str] = []
    for i, line in enumerate(lines):
        tokens.extend(line.split())
        if final_eos or trailing_newline or i < len(lines) - 1:
            tokens.append(EOS)
    return tokens


class Vocabulary:
    """Token <-> id. Id 0 is ``<oov>`` (tokens not seen in training); the rest by frequency."""

    def __init__(self, tokens: Sequence[str], level: str) -> None:
        self.level = check_level(level)
        self.itos = [OOV] + [t for t in tokens if t != OOV]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, tokens: Sequence[str], level: str | None = None) -> "Vocabulary":
        if level is None:
            level = "word" if any(len(t) != 1 for t in tokens[:1000]) else "char"
        counts = Counter(tokens)
        first: dict[str, int] = {}
        for i, t in enumerate(tokens):
            if t not in first:
                first[t] = i
        ordered = sorted(counts, key=lambda t: (-counts[t], first[t]))
        return cls(ordered, level)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        get = self.stoi.get
        return [get(t, 0) for t in tokens]

    def unknown(self, tokens: Sequence[str]) -> list[str]:
        """The distinct tokens not in the vocabulary, in order of appearance."""
        seen: dict[str, None] = {}
        for t in tokens:
            if t not in self.stoi:
                seen.setdefault(t, None)
        return list(seen)

    def decode(self, ids: Sequence[int]) -> str:
        return join_tokens([self.itos[i] for i in ids], self.level)

    def get_config(self) -> dict[str, Any]:
        return {"level": self.level, "tokens": self.itos[1:]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Vocabulary":
        try:
            return cls(list(config["tokens"]), config["level"])
        except (KeyError, TypeError) as e:
            raise ConfigError(f"vocabulary: malformed config ({e})") from None


def join_tokens(tokens: Sequence[str], level: str) -> str:
    if level == "char":
        return "".join(tokens)
    out: list[str] = []
    at_line_start = True
    for t in tokens:
        if t == EOS:
            out.append("\n")
            at_line_start = True
        else:
            out.append(t if at_line_start else " " + t)
            at_line_start = False
    return "".join(out)


def batchify(ids: torch.Tensor | Sequence[int], batch_size: int) -> torch.Tensor:
    """Lay ``ids`` out as ``batch_size`` contiguous streams: ``(len(ids) // batch_size, batch_size)``.

    Column ``j`` is the ``j``-th slice of the stream; the tail that does not fill a row is dropped.
    """
    data = ids if isinstance(ids, torch.Tensor) else torch.tensor(list(ids), dtype=torch.long)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigError(f"batch_size: expected an integer >= 1, found {batch_size!r}")
    steps = data.numel() // batch_size
    if steps < 2:
        raise DataError(
            f"corpus: {data.numel()} tokens cannot make {batch_size} streams of at least 2 tokens "
            f"(use a smaller batch size or more text)"
        )
    return data[: steps * batch_size].view(batch_size, steps).t().contiguous()


def num_windows(data: torch.Tensor, bptt: int) -> int:
    return (data.size(0) - 1 + bptt - 1) // bptt


def bptt_window(data: torch.Tensor, index: int, bptt: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Window ``index``: input ``data[i:i+L]`` and target ``data[i+1:i+1+L]``, ``L <= bptt``."""
    i = index * bptt
    length = min(bptt, data.size(0) - 1 - i)
    return data[i:i + length], data[i + 1:i + 1 + length]


def bptt_windows(data: torch.Tensor, bptt: int, start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """All windows from ``start`` on (see :func:`bptt_window`)."""
    if not isinstance(bptt, int) or isinstance(bptt, bool) or bptt < 1:
        raise ConfigError(f"bptt: expected an integer >= 1, found {bptt!r}")
    for index in range(start, num_windows(data, bptt)):
        yield bptt_window(data, index, bptt)


__all__ = [
    "LEVELS", "EOS", "OOV", "check_level", "tokenize", "Vocabulary", "join_tokens",
    "batchify", "num_windows", "bptt_window", "bptt_windows",
]
