"""Shared test setup: deterministic seeds and one torch thread.

One thread keeps step-by-step loops fast on the 2-core CI machines (small matrix products with two
threads were measured about 100x slower) and makes float results reproducible run to run.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)
# rich wraps CLI output at the terminal width (80 without a terminal); temporary paths differ in length
# from run to run, so a wide fixed width keeps the CLI tests' text checks independent of them.
os.environ["COLUMNS"] = "200"

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed_everything():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture
def shared_data() -> Path:
    """The real datasets beside the checkout (``../shared/data``); skips the test when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


# Real servers for the stream stores: these machines start Redis (127.0.0.1:6379) and PostgreSQL
# (127.0.0.1:5432, trust auth, database test) before each session and CI run. Without them the tests
# that need one skip and say why; with LSTMKIT_REQUIRE_SERVICES=1 (set by .ci/run) they fail instead.
REDIS_URL = os.environ.get("LSTMKIT_TEST_REDIS", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get("LSTMKIT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def service_or_skip(kind: str, url: str, reason: str) -> None:
    """Skip (or, under LSTMKIT_REQUIRE_SERVICES=1, fail) a test whose server is not reachable."""
    message = f"{kind} not reachable at {url}: {reason}"
    if os.environ.get("LSTMKIT_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (LSTMKIT_REQUIRE_SERVICES=1: the servers must run)")
    pytest.skip(message)
