"""The ``lstmkit`` command: thin, it parses arguments, calls a task and prints.

Every :class:`~lstmkit.errors.LstmkitError` (a user's mistake: bad data path, bad option value, a
broken model file) becomes one line ``error: ...`` on stderr and exit code 2, never a traceback; the
handler is the command group itself (:class:`_Group`), so every command gets it.

Importing this module stays cheap: torch and the tasks are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from lstmkit._version import __version__
from lstmkit.cli._options import NprocOption, PrecisionOption, check_precision_option, launch_workers, main_echo
from lstmkit.errors import LstmkitError

EXIT_USER_ERROR = 2

import warnings as _warnings

_python_showwarning = _warnings.showwarning


def _one_line(message: object) -> str:
    return " ".join(str(message).split()) or "unknown error"


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: Any = None) -> None:
    """An :class:`~lstmkit.errors.LstmkitWarning` is printed as one ``warning: ...`` line on stderr
    (no file and line number of lstmkit's source); other warnings keep Python's format."""
    from lstmkit.errors import LstmkitWarning

    if isinstance(category, type) and issubclass(category, LstmkitWarning):
        if _handed_to_launcher_quietly():
            return
        typer.echo(f"warning: {_one_line(message)}", err=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


def _handed_to_launcher_quietly() -> bool:
    """In a ``--nproc`` worker other than rank 0, warnings are left to rank 0 (printed once)."""
    from lstmkit.cli._options import is_main

    return not is_main()


class _Group(TyperGroup):
    """The command group: turns any LstmkitError raised by a command into ``error: ...`` and exit 2,
    and prints each LstmkitWarning as one ``warning: ...`` line."""

    def invoke(self, ctx: Any) -> Any:
        import warnings

        from lstmkit.errors import LstmkitWarning

        warnings.showwarning = _show_warning
        warnings.simplefilter("always", LstmkitWarning)
        try:
            return super().invoke(ctx)
        except LstmkitError as e:
            if not _handed_to_launcher(e):
                typer.echo(f"error: {_one_line(e)}", err=True)
            raise typer.Exit(EXIT_USER_ERROR) from None


def _handed_to_launcher(error: LstmkitError) -> bool:
    """In a ``--nproc`` worker, the launcher prints a user error once (not once per worker, not inside torchrun's report)."""
    import os

    if "LSTMKIT_WORKER_ERROR_FILE" not in os.environ:
        return False
    from lstmkit.train.distributed import report_worker_error

    return report_worker_error(_one_line(error))


app = typer.Typer(
    cls=_Group,
    name="lstmkit",
    help="lstmkit: long short-term memory for software (verified LSTM cells, a Keras-style API, tasks).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"lstmkit {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", help="Print the lstmkit version and exit.", callback=_version_callback, is_eager=True),
    ] = None,
) -> None:
    """lstmkit: long short-term memory for software."""


@app.command()
def info() -> None:
    """Versions, threads and which fused LSTM kernels this machine has."""
    import platform

    import numpy as np
    import torch
    from rich.console import Console
    from rich.table import Table

    def yes_no(flag: bool) -> str:
        return "[green]yes[/]" if flag else "[red]no[/]"

    cuda = torch.cuda.is_available()
    table = Table(title="lstmkit info", show_header=True, header_style="bold")
    table.add_column("item")
    table.add_column("value")
    table.add_row("lstmkit", __version__)
    table.add_row("torch", torch.__version__)
    table.add_row("numpy", np.__version__)
    table.add_row("python", f"{platform.python_version()} ({platform.python_implementation()})")
    table.add_row("platform", platform.platform(terse=True))
    table.add_row("torch threads", str(torch.get_num_threads()))
    table.add_row("oneDNN / mkldnn (fused CPU LSTM)", yes_no(torch.backends.mkldnn.is_available()))
    table.add_row("CUDA", yes_no(cuda) + (f" ({torch.cuda.get_device_name(0)})" if cuda else ""))
    table.add_row("cuDNN (fused GPU LSTM)", yes_no(torch.backends.cudnn.is_available()))
    Console().print(table)


@app.command()
def demo(
    data: Annotated[
        Optional[Path],
        typer.Option(
            "--data",
            help="Directory with train.jsonl/valid.jsonl/test.jsonl of the movie review polarity data "
            "(default: ../shared/data/movie_review_polarity).",
            show_default=False,
        ),
    ] = None,
    epochs: Annotated[int, typer.Option(help="Maximum epochs (early stopping on validation accuracy).")] = 10,
    max_length: Annotated[int, typer.Option(help="Words kept per review (the last ones).")] = 400,
    output: Annotated[Path, typer.Option(help="Where to save the trained model.")] = Path(
        "runs/demo/sentiment.lstmkit"
    ),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    threads: Annotated[
        int,
        typer.Option(help="torch threads: 1 is robust on a small or busy CPU; 2 trains ~1.4x faster on an idle 2-core one."),
    ] = 1,
    nproc: NprocOption = "1",
    precision: PrecisionOption = None,
) -> None:
    """Train the article's sentiment LSTM on movie reviews, report test accuracy, classify two sentences."""
    from lstmkit.tasks.text import sentiment
    from lstmkit.train import distributed
    from lstmkit.train.precision import resolve_precision

    # Checked before any worker starts: a mistake stays one line and exit 2 with --nproc N too.
    nproc = distributed.validate_nproc(nproc)
    prec = check_precision_option(precision)
    resolve_precision(prec, "cpu")
    data_dir = sentiment.resolve_data_dir(data)
    launch_workers(nproc)  # --nproc N > 1: the demo runs again in N workers; returns in the one that trains
    distributed.init_from_env()  # in a worker: join the group now, so only rank 0 prints and saves
    try:
        echo = main_echo()
        echo(f"data: {data_dir}" + (f" ({distributed.world_size()} processes)" if distributed.world_size() > 1 else ""))
        result = sentiment.train_sentiment(
            data_dir, epochs=epochs, max_length=max_length, output=output, seed=seed, threads=threads,
            verbose=1, echo=echo, precision=prec,
        )
        echo("")
        echo(
            f"test accuracy: {result.test_accuracy:.4f} ({result.test_correct}/{result.test_size} reviews), "
            f"test loss {result.test_loss:.4f}"
        )
        echo(
            f"best epoch {result.best_epoch} of {result.epochs_run} run "
            f"(validation accuracy {result.best_val_accuracy:.4f}); training took {result.train_seconds:.1f} s"
        )
        echo(f"model saved to {result.output}")
        echo("")
        for p in result.examples:
            echo(f"{p.label:>8}  (P(positive) = {p.positive:.3f})  {p.text}")
    finally:
        distributed.shutdown()


def _sub_app(name: str, help: str, *modules: Any) -> typer.Typer:
    """``lstmkit NAME ...``: a sub-app on which each of ``modules`` registers its commands (``register(app)``)."""
    sub = typer.Typer(name=name, help=help, no_args_is_help=True)
    for module in modules:
        module.register(sub)
    app.add_typer(sub, name=name)
    return sub


from lstmkit.cli import bench, bench_scaling, forecast, seq, text_classifier, text_lm  # noqa: E402

text_app = _sub_app("text", "Text: classification (sentiment and any labels), language models and generation.",
                    text_classifier, text_lm)
seq_app = _sub_app("seq", "Sequences (sensor readings, speech): train, apply and evaluate sequence classifiers.", seq)
forecast_app = _sub_app("forecast", "Time-series forecasting: train an LSTM forecaster, predict, backtest beside the "
                        "baselines.", forecast)
bench_app = _sub_app("bench", "Benchmarks: long-range memory (adding, copy), gradient flow, very long sequences.",
                     bench, bench_scaling)

from lstmkit.cli import stream as stream_cli  # noqa: E402
from lstmkit.cli import translate as translate_cli  # noqa: E402

translate_app = typer.Typer(name="translate", cls=translate_cli.TranslateGroup, no_args_is_help=True,
                            help="Machine translation: train a sequence-to-sequence LSTM with attention, translate "
                                 "(lstmkit translate MODEL \"text\"), evaluate BLEU/chrF, draw alignments.")
translate_cli.register(translate_app)
app.add_typer(translate_app, name="translate")

stream_app = _sub_app("stream", "Live per-stream memory: replay a file of events through the stream engine.", stream_cli)

# `lstmkit inspect MODEL INPUT --out DIR`: gate inspection of any LSTM model (a root command).
from lstmkit.cli import inspect as inspect_command  # noqa: E402

inspect_command.register(app)

# `lstmkit serve MODEL --token-file FILE`: the HTTP service over the stream engine (a root command).
from lstmkit.cli import serve as serve_command  # noqa: E402

serve_command.register(app)

# `lstmkit export MODEL -o model.onnx`: ONNX export with explicit state, checked against lstmkit (a root command).
from lstmkit.cli import export as export_command  # noqa: E402

export_command.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
