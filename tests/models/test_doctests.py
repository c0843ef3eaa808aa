"""The ``>>>`` examples in the models and layers docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "lstmkit.layers",
    "lstmkit.layers.activations",
    "lstmkit.layers.initializers",
    "lstmkit.layers.input",
    "lstmkit.layers.embedding",
    "lstmkit.layers.dense",
    "lstmkit.layers.dropout",
    "lstmkit.layers.recurrent",
    "lstmkit.layers.bidirectional",
    "lstmkit.models",
    "lstmkit.models.sequential",
    "lstmkit.models.model",
    "lstmkit.models.losses",
    "lstmkit.models.metrics",
    "lstmkit.models.optimizers",
    "lstmkit.models.data",
    "lstmkit.models.serialization",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0 and result.attempted > 0
