"""KVCache: step-by-step and chunked decoding equal the full causal forward; positions past max_len; errors."""

from __future__ import annotations

import pytest
import torch

from lstmkit.errors import ConfigError, InputValueError, ShapeError
from lstmkit.nn import TransformerEncoder
from lstmkit.nn import kv_cache as kv_cache_module
from lstmkit.nn.kv_cache import KVCache
from lstmkit.nn.transformer import sinusoidal_positions

TOL = 1e-5


def _model(batch_first: bool = False, max_len: int = 64) -> TransformerEncoder:
    return TransformerEncoder(3, d_model=8, nhead=2, num_layers=2, batch_first=batch_first, max_len=max_len).eval()


def _full(model: TransformerEncoder, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)[0]


@pytest.mark.parametrize("batch_first", [False, True])
def test_step_by_step_equals_full_causal_forward(batch_first):
    m = _model(batch_first)
    x = torch.randn(2, 17, 3)  # (N, L, H_in)
    full = _full(m, x if batch_first else x.transpose(0, 1))
    full = full if batch_first else full.transpose(0, 1)
    cache = KVCache(m, batch_size=2)
    steps = torch.stack([cache.step(x[:, t]) for t in range(17)], dim=1)
    torch.testing.assert_close(steps, full, atol=TOL, rtol=0)
    assert cache.length == cache.position == 17
    assert not steps.requires_grad  # inference only


@pytest.mark.parametrize("batch_first", [False, True])
def test_chunks_of_any_size_equal_full_forward(batch_first, monkeypatch):
    m = _model(batch_first)
    x = torch.randn(19, 2, 3)  # (L, N, H_in)
    xin = x.transpose(0, 1) if batch_first else x
    full = _full(m, xin)
    dim = 1 if batch_first else 0
    cache = KVCache(m, batch_size=2)
    parts = [cache.extend(xin.narrow(dim, a, b - a)) for a, b in [(0, 1), (1, 8), (8, 9), (9, 19)]]
    torch.testing.assert_close(torch.cat(parts, dim=dim), full, atol=TOL, rtol=0)

    # A tiny score workspace forces extend() to split a chunk into one-step sub-chunks.
    monkeypatch.setattr(kv_cache_module, "WORKSPACE_BYTES", 1)
    cache = KVCache(m, batch_size=2)
    torch.testing.assert_close(cache.extend(xin), full, atol=TOL, rtol=0)


def test_unbatched_step_and_extend():
    m = _model()
    x = torch.randn(9, 3)
    full = _full(m, x)
    cache = KVCache(m)
    torch.testing.assert_close(torch.stack([cache.step(x[t]) for t in range(4)]), full[:4], atol=TOL, rtol=0)
    torch.testing.assert_close(cache.extend(x[4:]), full[4:], atol=TOL, rtol=0)


def test_positions_are_computed_past_max_len():
    short = _model(max_len=8)
    long = _model(max_len=40)
    long.load_state_dict(short.state_dict())  # the position table is not part of the state
    x = torch.randn(1, 30, 3)
    cache = KVCache(short)
    out = torch.cat([cache.extend(x[:, :10].transpose(0, 1)), cache.extend(x[:, 10:].transpose(0, 1))])
    torch.testing.assert_close(out, _full(long, x.transpose(0, 1)), atol=TOL, rtol=0)


def test_sinusoidal_positions_from_any_start_match_the_table():
    table = sinusoidal_positions(50, 6)
    assert torch.equal(sinusoidal_positions(7, 6, start=40), table[40:47])
    far = sinusoidal_positions(1, 6, start=1_000_000)
    assert far.shape == (1, 6) and torch.isfinite(far).all() and far.abs().max() <= 1


def test_local_chunk_equals_a_fresh_cache_at_that_position():
    m = _model()
    x = torch.randn(12, 1, 3)
    cache = KVCache(m)
    cache.extend(x[:5])
    local = cache.extend(x[5:], attend_to_cache=False)
    fresh = KVCache(m, start=5)
    torch.testing.assert_close(local, fresh.extend(x[5:]), atol=TOL, rtol=0)
    assert cache.length == 12 and fresh.length == 7 and fresh.position == 12
    for layer in range(m.num_layers):  # the local chunk's keys/values are appended after the first 5
        torch.testing.assert_close(cache.keys[layer][:, :, 5:12], fresh.keys[layer][:, :, :7], atol=TOL, rtol=0)


def test_growth_keeps_the_cached_steps_and_reports_bytes():
    m = _model()
    x = torch.randn(40, 1, 3)
    cache = KVCache(m, capacity=3)
    assert cache.capacity == 3 and cache.nbytes == KVCache.bytes_for(m, 3)
    out = torch.cat([cache.extend(x[:2]), cache.extend(x[2:5]), cache.extend(x[5:])])
    torch.testing.assert_close(out, _full(m, x), atol=TOL, rtol=0)
    assert cache.capacity >= 40 and cache.nbytes == KVCache.bytes_for(m, cache.capacity)
    assert KVCache.bytes_for(m, 1000, batch_size=2) == 2 * 2 * 2 * 1000 * 8 * 4
    before = cache.capacity
    cache.reserve(before - 1)
    assert cache.capacity == before


def test_errors_are_one_line_and_typed():
    m = _model()
    with pytest.raises(ConfigError, match="causal"):
        KVCache(TransformerEncoder(3, d_model=8, nhead=2, causal=False))
    with pytest.raises(ConfigError, match="TransformerEncoder"):
        KVCache(torch.nn.Linear(3, 3))
    with pytest.raises(ConfigError, match="capacity"):
        KVCache(m, capacity=-1)
    with pytest.raises(ConfigError, match="batch_size"):
        KVCache(m, batch_size=0)
    cache = KVCache(m, batch_size=2)
    with pytest.raises(ShapeError, match="batch size 2"):
        cache.step(torch.randn(3, 3))
    with pytest.raises(ShapeError, match="3 features"):
        cache.step(torch.randn(2, 4))
    with pytest.raises(ShapeError, match="found"):
        cache.extend(torch.randn(2, 2, 2, 3))
    with pytest.raises(InputValueError, match="dtype"):
        cache.step(torch.randn(2, 3, dtype=torch.float64))
    assert cache.length == 0
