"""The lowest layer: argument checks, atomic files, the safetensors + JSON container, the registry of kinds.

Nothing here imports from any other lstmkit layer except :mod:`lstmkit.errors`.
"""

from __future__ import annotations

from lstmkit.util.checks import ParamsMixin, check_int, one_hot, prepare_output, prepare_output_dir, seed_everything

__all__ = ["check_int", "seed_everything", "prepare_output", "prepare_output_dir", "ParamsMixin", "one_hot"]
