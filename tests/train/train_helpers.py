"""Tiny real models and data for the engine's tests (no mocks)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lstmkit.train import FunctionBatches, StepOutput, TensorBatches


def regression_data(n: int = 96, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x @ torch.tensor([[1.0], [-2.0], [0.5], [0.0]]) + 0.1 * torch.randn(n, 1, generator=g))
    return x, y


def mlp(dropout: float = 0.2, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(dropout), nn.Linear(8, 1))


def mse_step(model, batch, carry):
    xb, yb = batch
    err = model(xb) - yb
    loss = (err ** 2).mean()
    return StepOutput(loss, xb.shape[0], metrics={"mae": err.abs().mean()})


def evaluate_on(x: torch.Tensor, y: torch.Tensor):
    def evaluate(model):
        return {"val_loss": float(F.mse_loss(model(x), y))}
    return evaluate


class TinyLM(nn.Module):
    """Embedding(V, 8) -> LSTM(8, 16) -> dropout -> Linear(16, V); time-major ``(L, N)`` input."""

    def __init__(self, vocab: int = 11, dropout: float = 0.2, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.embedding = nn.Embedding(vocab, 8)
        self.lstm = nn.LSTM(8, 16)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(16, vocab)

    def forward(self, x, hidden=None):
        out, hidden = self.lstm(self.embedding(x), hidden)
        return self.out(self.drop(out)), hidden


def token_streams(vocab: int = 11, length: int = 401, streams: int = 4, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # a learnable pattern: next token = (token + 1) mod vocab, with a little noise
    start = torch.randint(0, vocab, (streams,), generator=g)
    ids = (start[None, :] + torch.arange(length)[:, None]) % vocab
    noise = torch.rand(length, streams, generator=g) < 0.1
    return torch.where(noise, torch.randint(0, vocab, (length, streams), generator=g), ids)  # (T, N)


def bptt_batches(streams: torch.Tensor, bptt: int) -> FunctionBatches:
    windows = (streams.shape[0] - 1 + bptt - 1) // bptt

    def get(epoch, index, rank, world):
        start = index * bptt
        end = min(start + bptt, streams.shape[0] - 1)
        x, y = streams[start:end], streams[start + 1 : end + 1]
        if world > 1:
            x, y = torch.tensor_split(x, world, dim=1)[rank], torch.tensor_split(y, world, dim=1)[rank]
        return x, y

    return FunctionBatches(get, windows)


def lm_step(model, batch, carry):
    x, y = batch
    logits, hidden = model(x, carry)
    loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
    return StepOutput(loss, y.numel(), carry=hidden)


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_bitwise_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs (max abs {float((a[k] - b[k]).abs().max())})"


def make_batches(x, y, batch_size=16, shuffle=True, seed=0):
    return TensorBatches(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed)
