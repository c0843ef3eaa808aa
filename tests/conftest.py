"""Shared test setup: deterministic seeds and one torch thread.

One thread keeps step-by-step loops fast on the 2-core CI machines (small matrix products with two
threads were measured about 100x slower) and makes float results reproducible run to run.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

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
