"""Old import paths, kept working as documented aliases of the modules' new homes.

The layout of issue 15 moved modules (``lstmkit.tasks.timeseries.forecaster`` is now
``lstmkit.tasks.timeseries.forecaster``, and so on). Every old dotted path in :data:`ALIASES` still
imports, and gives *the same module object* as the new path (so ``isinstance`` checks, monkeypatching
and module-level state agree). No shim files are left in the tree, so the import-direction test sees
only real modules; the table below is the whole of the compatibility layer.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

#: old dotted path -> new dotted path
ALIASES: dict[str, str] = {
    "lstmkit.tasks.common": "lstmkit.util.checks",
    "lstmkit.tasks.text_classifier": "lstmkit.tasks.text.classifier",
    "lstmkit.tasks.sentiment": "lstmkit.tasks.text.sentiment",
    "lstmkit.tasks.lm_pretraining": "lstmkit.tasks.text.lm_pretraining",
    "lstmkit.tasks.language_model": "lstmkit.tasks.text.language_model",
    "lstmkit.models.language_model": "lstmkit.tasks.text.lm_network",
    "lstmkit.tasks.forecaster": "lstmkit.tasks.timeseries.forecaster",
    "lstmkit.tasks.forecast_baselines": "lstmkit.tasks.timeseries.baselines",
    "lstmkit.tasks.forecast_metrics": "lstmkit.tasks.timeseries.metrics",
    "lstmkit.nn.forecasting": "lstmkit.tasks.timeseries.network",
    "lstmkit.tasks.sequence_classifier": "lstmkit.tasks.sequences.classifier",
    "lstmkit.tasks.longrange": "lstmkit.bench.longrange",
    "lstmkit.tasks.gradient_flow": "lstmkit.bench.gradient_flow",
    "lstmkit.tasks.scaling": "lstmkit.bench.scaling",
    "lstmkit.tasks.inspect_html": "lstmkit.inspect.html",
    "lstmkit.tasks.inspect": "lstmkit.inspect",
}


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path in :data:`ALIASES` and hands back the module at its new path."""

    def find_spec(self, fullname: str, path: object = None, target: object = None):  # noqa: D401
        if fullname in ALIASES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec) -> ModuleType:
        return importlib.import_module(ALIASES[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        return None


def install() -> None:
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
