"""Options every training command shares: ``--nproc`` and ``--precision``, declared once.

``--nproc N`` (N > 1) re-runs the very same command under ``torchrun`` in N worker processes
(:func:`lstmkit.train.distributed.launch`); each worker trains its shard of every global batch and
only rank 0 writes files and prints. ``--precision fp32|bf16|auto`` is handed to the engine
(:mod:`lstmkit.train.precision`); ``bf16`` on a machine without bf16 units is one line and exit 2.

Usage inside a command::

    def train(..., nproc: NprocOption = 1, precision: PrecisionOption = None) -> None:
        launch_workers(nproc)          # returns here only in the process that should train
        ...
        echo = main_echo()             # typer.echo in rank 0, silent in the other workers
"""

from __future__ import annotations

from typing import Annotated, Any, Callable, Optional

import typer

# Parsed as text on purpose: distributed.validate_nproc turns any bad value ("abc", "0") into one line
# and exit 2, where an int option would give click's multi-line usage box. Commands start with
# ``nproc = distributed.validate_nproc(nproc)``.
NprocOption = Annotated[str, typer.Option(
    "--nproc", metavar="N", help="Train in N processes (torchrun data parallelism: gloo on CPU, nccl on GPU; "
                    "same global batch, so the same loss curve as 1 process). 1: this process only.")]

PrecisionOption = Annotated[Optional[str], typer.Option(
    "--precision", help="fp32, bf16 (autocast; needs AMX/AVX512-BF16 or CUDA) or auto (bf16 only where it is "
                        "faster and as accurate); default fp32.", show_default=False)]


def launch_workers(nproc: Any, argv: list[str] | None = None) -> None:
    """With ``nproc > 1`` (and not already a worker): run this command in ``nproc`` workers and exit with their code.

    Returns (and the caller trains in this process) when ``nproc`` is 1 or this process is a torchrun
    worker. A bad ``nproc`` is a ConfigError (one line, exit 2) before anything starts.
    """
    from lstmkit.train import distributed

    code = distributed.launch(nproc, argv)
    if code is not None:
        raise typer.Exit(code)


def is_main() -> bool:
    """True in the process that writes and prints (rank 0, or the only process)."""
    from lstmkit.train import distributed

    return distributed.is_main()


def main_echo(echo: Callable[[str], Any] = typer.echo) -> Callable[[str], Any]:
    """``echo`` in rank 0; a no-op in the other workers, so a multi-process run prints each line once."""
    return echo if is_main() else (lambda *_a, **_k: None)


def check_precision_option(precision: Optional[str]) -> str:
    """The canonical precision (``fp32``, ``bf16``, ``auto``; None means fp32) or a one-line ConfigError."""
    from lstmkit.train.precision import check_precision

    return check_precision("fp32" if precision is None else precision)


__all__ = ["NprocOption", "PrecisionOption", "launch_workers", "is_main", "main_echo", "check_precision_option"]
