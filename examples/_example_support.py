"""What the Keras example ports share outside their Keras code: the data folder, the command line, the report.

Each ``examples/keras_*.py`` keeps keras.io's model code as written; the lines around it (where the
data is, ``--size/--epochs/--seed/--threads/--verbose``, the printed summary with the CPU's model
name) are the same for all five and live here.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Iterable


def data_root() -> Path:
    """``$LSTMKIT_DATA``, else ``../shared/data`` beside the checkout."""
    root = os.environ.get("LSTMKIT_DATA")
    return Path(root) if root else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def cpu_model_name() -> str:
    """``lscpu``'s "Model name" (as lstmkit's precision rule reads it), or ``"unknown"``."""
    from lstmkit.train import cpu_info

    return cpu_info().name or "unknown"


def example_parser(doc: str, sizes: Iterable[str], *, epochs_help: str | None = None,
                   data_help: str | None = None) -> argparse.ArgumentParser:
    """``--size``, ``--epochs``, ``--data`` (when ``data_help`` is given), ``--seed``, ``--threads``, ``--verbose``."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--size", choices=sorted(sizes), default="full")
    ap.add_argument("--epochs", type=int, default=None, help=epochs_help)
    if data_help is not None:
        ap.add_argument("--data", default=None, help=data_help)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--verbose", type=int, default=2, help="fit's verbose (0, 1, 2)")
    return ap


def print_report(name: str, size: str, result: dict[str, Any], skip: Iterable[str] = ("loss_history",)) -> None:
    """The example's header (size, torch threads, CPU) and its scalar results, one a line."""
    import torch

    print(f"\n== {name}, size {size}, torch threads {torch.get_num_threads()}, CPU: {cpu_model_name()} ==")
    skipped = set(skip)
    for k, v in result.items():
        if k not in skipped:
            print(f"  {k}: {v:.4f}" if isinstance(v, float) else f"  {k}: {v}")
