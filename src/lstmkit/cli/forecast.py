"""``lstmkit forecast train | predict | backtest``: thin commands over :mod:`lstmkit.tasks.timeseries.forecaster`.

``train`` has an option for every :class:`~lstmkit.tasks.timeseries.forecaster.Forecaster` parameter
(``stride`` is ``--train-stride``: ``--stride`` spaces the test split's origins; ``verbose`` is
``--verbose/--quiet``), ``--holdout N`` (:func:`lstmkit.tasks.timeseries.holdout.evaluate_holdout`)
and ``--split``.

``train`` takes the training options every command shares (:mod:`lstmkit.cli._options`): ``--nproc N``
trains in N processes (each trains its shard of every batch; only rank 0 prints and saves) and
``--precision fp32|bf16|auto``. Every user mistake is an :class:`~lstmkit.errors.LstmkitError`, which the root group turns into one
line ``error: ...`` and exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lstmkit.cli._options import (NprocOption, PrecisionOption, check_precision_option, is_main, launch_workers,
                                  main_echo)
from lstmkit.errors import ConfigError

Encoding = Annotated[str, typer.Option(help="Text encoding of the CSV file (e.g. utf-8, latin-1, cp1252).")]

SPLITS = ("auto", "fractions", "ett", "none")


def _columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise ConfigError(f"expected comma-separated column names, found {text!r}")
    return names


def _start(text: str | None) -> Any:
    if text is None:
        return None
    return int(text) if text.strip().lstrip("-").isdigit() else text.strip()


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if v != v:  # NaN
        return "-"
    return f"{v:.4f}" if abs(v) < 1e5 else f"{v:.4g}"


def print_backtest(bt: Any, title: str, console: Any = None) -> None:
    """The metrics table of a :class:`~lstmkit.tasks.timeseries.forecaster.Backtest`, LSTM first, then the baselines."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    level = f"; intervals at {bt.interval_level:.0%}" if bt.interval_level else ""
    table = Table(
        title=f"{title}: {bt.windows} windows from {bt.start}, stride {bt.stride}, {bt.scale} units{level}",
        show_header=True, header_style="bold",
    )
    cols = ["mse", "mae", "smape", "mase"] + (["coverage"] if "coverage" in bt.metrics.columns else [])
    table.add_column("model")
    for c in cols:
        table.add_column({"smape": "sMAPE", "mase": "MASE"}.get(c, c.upper() if c in ("mse", "mae") else c), justify="right")
    for _, row in bt.metrics.iterrows():
        table.add_row(str(row["model"]), *(_fmt(row.get(c)) for c in cols))
    console.print(table)
    for note in bt.notes:
        console.print(f"note: {note}")


def print_holdout(report: Any, console: Any = None) -> None:
    """The metrics table of a :class:`~lstmkit.tasks.timeseries.holdout.HoldoutReport`: lstmkit first, then the baselines."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title=f"holdout: the last {report.holdout} rows, forecast once (season {report.season})",
                  show_header=True, header_style="bold")
    table.add_column("model")
    names = {"mae": "MAE", "rmse": "RMSE", "mape": "MAPE %", "smape": "sMAPE", "mase": "MASE"}
    for c in names.values():
        table.add_column(c, justify="right")
    for _, row in report.metrics.iterrows():
        table.add_row(str(row["model"]), *(_fmt(row[c]) for c in names))
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}")


def register(forecast_app: typer.Typer) -> None:
    """Add the forecasting commands to ``lstmkit forecast``."""

    @forecast_app.command("train")
    def train(
        data: Annotated[Path, typer.Argument(help="CSV file with a header row: a time column and numeric columns.", show_default=False)],
        output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the model file.", show_default=False)],
        time_col: Annotated[Optional[str], typer.Option(help="The timestamp column (none: rows are numbered; an unnamed first column of dates is used).")] = None,
        target: Annotated[Optional[str], typer.Option(help="Column(s) to forecast, comma-separated (default: every numeric column that is not a covariate).")] = None,
        covariates: Annotated[Optional[str], typer.Option(help="Column(s) read but not forecast, comma-separated (by the LSTM).")] = None,
        all_columns: Annotated[bool, typer.Option("--all-columns", help="Every numeric column besides --target is a covariate.")] = False,
        method: Annotated[str, typer.Option(help="'auto' (LSTM, ETS, seasonal naive and their ensemble, scored on a validation window; the best wins), 'lstm', 'ets', 'seasonal_naive' or 'ensemble'.")] = "auto",
        transform: Annotated[str, typer.Option(help="Model the targets as they are ('none'), on a log scale ('log') or Box-Cox transformed ('boxcox', Guerrero's lambda).")] = "none",
        holdout: Annotated[Optional[int], typer.Option(help="Hold out the last N rows: train on the rest, forecast them once and print MAE, RMSE, MAPE, sMAPE and MASE beside seasonal naive, naive and ETS.", show_default=False)] = None,
        context: Annotated[Optional[int], typer.Option(help="Rows the LSTM reads per forecast (default: from the series length and season).", show_default=False)] = None,
        horizon: Annotated[Optional[int], typer.Option(help="Steps forecast (default: from the frequency and length; 96 for long series).", show_default=False)] = None,
        split: Annotated[str, typer.Option(help="'auto' (default: 'fractions' for series of 4,320 rows or more, else 'none'), 'fractions' (70/10/20 train/valid/test, test scored), 'ett' (12/4/4 months of hours) or 'none' (every row; the method chosen on the last rows, then refitted on all).")] = "auto",
        epochs: Annotated[Optional[int], typer.Option(help="Maximum epochs (default: enough for about 1,000 gradient steps; 10 for long series).", show_default=False)] = None,
        segment: Annotated[Optional[int], typer.Option(help="Steps per LSTM segment (must divide --context; default: the season, or the largest divisor up to context/7; 1: per-step LSTM).")] = None,
        units: Annotated[int, typer.Option(help="LSTM width.")] = 256,
        layers: Annotated[int, typer.Option(help="LSTM layers.")] = 1,
        head: Annotated[str, typer.Option(help="'direct' (all steps at once) or 'autoregressive'.")] = "direct",
        instance_norm: Annotated[str, typer.Option(help="'last' (subtract the window's last value), 'mean' (RevIN-style: also divide by the window's std) or 'none'.")] = "last",
        intervals: Annotated[str, typer.Option(help="'quantile', 'gaussian' or 'none'.")] = "quantile",
        level: Annotated[float, typer.Option(help="Nominal coverage of the intervals.")] = 0.8,
        loss: Annotated[str, typer.Option(help="Point-model loss: 'mae' or 'mse'.")] = "mae",
        dropout: Annotated[float, typer.Option(help="Dropout before the output projection.")] = 0.5,
        batch_size: Annotated[Optional[int], typer.Option(help="Batch size (windows; the global batch, shared by --nproc processes; default: at least 16 steps per epoch, 256 for long series).", show_default=False)] = None,
        learning_rate: Annotated[float, typer.Option("--learning-rate", "--lr", help="Adam learning rate.")] = 1e-3,
        lr_schedule: Annotated[str, typer.Option(help="'cosine' (decay to 0 over the run) or 'constant'.")] = "cosine",
        clip_norm: Annotated[Optional[float], typer.Option(help="Clip the global gradient norm to this (default: no clipping).")] = None,
        patience: Annotated[Optional[int], typer.Option(help="Early-stopping patience in epochs (default: a fifth of the epochs, at least 3).", show_default=False)] = None,
        train_stride: Annotated[int, typer.Option(help="Steps between training windows.")] = 1,
        fill: Annotated[Optional[str], typer.Option(help="Fill empty cells: 'interpolate', 'ffill' or 'zero' (default: an error).")] = None,
        season: Annotated[Optional[int], typer.Option(help="Seasonal period for seasonal naive, ETS and MASE (default: from the frequency, else the autocorrelation).")] = None,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
        threads: Annotated[int, typer.Option(help="torch threads (1 is robust on a small or busy CPU).")] = 1,
        verbose: Annotated[bool, typer.Option("--verbose/--quiet", help="Print each default chosen, the method selected and one line per epoch.")] = True,
        baselines: Annotated[bool, typer.Option("--baselines/--no-baselines", help="Score the baselines beside the LSTM on the test split.")] = True,
        stride: Annotated[int, typer.Option(help="Steps between the test split's forecast origins (ETS fits one model per origin).")] = 1,
        encoding: Encoding = "utf-8",
        nproc: NprocOption = "1",
        precision: PrecisionOption = None,
    ) -> None:
        """Train a forecaster on a CSV series (the method chosen on a validation window), report, save it."""
        from rich.console import Console

        from lstmkit.data.timeseries import read_series
        from lstmkit.tasks.timeseries.forecaster import Forecaster
        from lstmkit.tasks.timeseries.sizing import LONG_ROWS
        from lstmkit.train import distributed
        from lstmkit.util.checks import check_int, prepare_output

        # Every option is checked once, before any worker starts, so a mistake is one line and exit 2 with --nproc too.
        nproc = distributed.validate_nproc(nproc)
        if split not in SPLITS:
            raise ConfigError(f"--split must be one of {', '.join(SPLITS)}; found {split!r}")
        if holdout is not None:
            check_int("--holdout", holdout, 1)
            if split not in ("auto", "none"):
                raise ConfigError(f"give --holdout N or --split {split}, not both (the holdout is the test set)")
        targets, covs = _columns(target), _columns(covariates)
        if all_columns and covs is not None:
            raise ConfigError("give either --covariates or --all-columns, not both")
        if all_columns and targets is None:
            raise ConfigError("--all-columns needs --target (the other columns become covariates)")
        out = prepare_output(output, "forecaster.lstmkit")  # fail before training when it cannot be written
        params = dict(
            context=context, horizon=horizon, targets=targets, covariates=covs, segment=segment, units=units,
            layers=layers, head=head, instance_norm=instance_norm, intervals=None if intervals == "none" else intervals,
            level=level, loss=loss, dropout=dropout, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
            lr_schedule=lr_schedule, clip_norm=clip_norm, patience=patience, stride=train_stride,
            precision=check_precision_option(precision), seed=seed, threads=threads, season=season, fill=fill,
            verbose=1 if verbose else 0, method=method, transform=transform,
        )
        fc = Forecaster(**params)
        fc._check_params()
        fc._resolved_precision("--precision")  # bf16 on a CPU without bfloat16 units: one line, before any work
        wanted = None if targets is None or all_columns else targets + (covs or [])
        if nproc > 1 and not distributed.is_worker():
            read_series(data, time_col=time_col, columns=wanted, fill=fill, encoding=encoding)  # the file's mistakes too
        launch_workers(nproc)  # --nproc N > 1: runs in N workers, exits with their code
        distributed.init_from_env()  # in a worker: join the group now, so only rank 0 prints and saves
        try:
            frame = read_series(data, time_col=time_col, columns=wanted, fill=fill, encoding=encoding)
            if all_columns:
                fc.covariates = params["covariates"] = [c for c in frame.columns if c not in targets]
            console = Console()
            echo = main_echo(console.print)
            echo(f"{data}: {len(frame)} rows, frequency {getattr(frame.index, 'freqstr', None) or 'none'}"
                 + (f"; {distributed.world_size()} processes" if distributed.world_size() > 1 else ""))
            report = None
            if holdout is not None:
                from lstmkit.tasks.timeseries.holdout import evaluate_holdout

                report = evaluate_holdout(frame, holdout=holdout, **{k: v for k, v in params.items() if k != "horizon"},
                                          **({"horizon": horizon} if horizon is not None else {}))
                fc = report.forecaster
            else:
                if split == "auto":
                    split = "fractions" if len(frame) >= LONG_ROWS else "none"
                fc.fit(frame, valid=None if split == "none" else split)
            if is_main():
                fc.save(out)
            segment_text = f", segment {fc.segment_}" if fc.segment_ is not None else ""
            context_text = f"context {fc.context_}, " if fc.context_ is not None else ""
            echo(f"targets: {', '.join(fc.targets_)}; covariates: {', '.join(fc.covariates_) or 'none'}; "
                 f"{context_text}horizon {fc.horizon_}{segment_text}; season {fc.season_()}")
            if fc.selection_ is not None:
                echo(f"method: {fc.method_} ({fc.selection_.line()})")
            else:
                echo(f"method: {fc.method_}")
            if fc.valid_mse_ is not None:
                echo(f"best epoch {fc.best_epoch_} (validation MSE {fc.valid_mse_:.4f}, standardized)")
            if fc.network_ is not None:
                refit = f"; refitted on every row for {fc.refit_epochs_} epochs" if fc.refit_epochs_ else ""
                echo(f"trained on {fc.train_windows_} windows in {fc.fit_seconds_:.1f} s{refit}; model saved to {out}")
            else:
                echo(f"model saved to {out}")
            if report is not None:
                if is_main():
                    print_holdout(report, console)
            elif split in ("fractions", "ett"):
                # Every process scores the test split: the DLinear baseline trains through the engine too, so in
                # a multi-process run all processes take part in it; only rank 0 prints.
                bt = fc.backtest(frame, stride=stride, baselines=baselines)
                if is_main():
                    print_backtest(bt, "test split", console)
            distributed.barrier()  # leave together: rank 0's saving and printing must not race the others' exit
        finally:
            distributed.shutdown()

    def _load_frame(fc: Any, data: Path, fill: Optional[str], encoding: str) -> Any:
        from lstmkit.data.timeseries import read_series

        return read_series(data, time_col=fc.index_name_, columns=fc.columns_, fill=fill, encoding=encoding)

    @forecast_app.command("predict")
    def predict(
        model: Annotated[Path, typer.Argument(help="A model file from forecast train.", show_default=False)],
        data: Annotated[Path, typer.Argument(help="CSV series (same columns as in training); the forecast follows its last row.", show_default=False)],
        output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the forecast to this CSV file.")] = None,
        fill: Annotated[Optional[str], typer.Option(help="Fill empty cells: 'interpolate', 'ffill' or 'zero'.")] = None,
        encoding: Encoding = "utf-8",
    ) -> None:
        """Forecast the steps after the end of DATA: timestamps, point forecasts and intervals."""
        from rich.console import Console
        from rich.table import Table

        from lstmkit.models.serialization import write_bytes_atomic
        from lstmkit.util.checks import prepare_output
        from lstmkit.tasks.timeseries.forecaster import Forecaster

        out = prepare_output(output, "forecast.csv") if output is not None else None
        fc = Forecaster.load(model)
        result = fc.predict(_load_frame(fc, data, fill, encoding))
        console = Console()
        level = result.attrs.get("interval_level")
        if out is not None:
            write_bytes_atomic(out, result.to_csv(index_label=fc.index_name_ or "step").encode(), what="forecast file")
            console.print(f"wrote {len(result)} rows ({', '.join(result.columns)}) to {out}"
                          + (f"; intervals at {level:.0%}" if level else ""))
            return
        table = Table(title=f"forecast after {data}" + (f" (intervals at {level:.0%})" if level else ""),
                      show_header=True, header_style="bold")
        table.add_column(str(fc.index_name_ or "step"))
        for c in result.columns:
            table.add_column(str(c), justify="right")
        for label, row in result.iterrows():
            table.add_row(str(label), *(_fmt(v) for v in row))
        console.print(table)

    @forecast_app.command("backtest")
    def backtest(
        model: Annotated[Path, typer.Argument(help="A model file from forecast train.", show_default=False)],
        data: Annotated[Path, typer.Argument(help="CSV series (same columns as in training).", show_default=False)],
        start: Annotated[Optional[str], typer.Option(help="First forecast timestamp or row number (default: the first row after the training data, else row --context).")] = None,
        stride: Annotated[int, typer.Option(help="Steps between forecast origins.")] = 1,
        scale: Annotated[str, typer.Option(help="Metrics in 'original' units or 'standardized' z-scores.")] = "original",
        baselines: Annotated[bool, typer.Option("--baselines/--no-baselines", help="Score naive, seasonal naive, DLinear (and ETS for one target) beside the LSTM.")] = True,
        output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write every window's forecasts to this CSV file.")] = None,
        fill: Annotated[Optional[str], typer.Option(help="Fill empty cells: 'interpolate', 'ffill' or 'zero'.")] = None,
        encoding: Encoding = "utf-8",
    ) -> None:
        """Rolling-origin evaluation (batched): MSE, MAE, sMAPE, MASE and interval coverage, with the baselines."""
        from rich.console import Console

        from lstmkit.models.serialization import write_bytes_atomic
        from lstmkit.util.checks import prepare_output
        from lstmkit.tasks.timeseries.forecaster import Forecaster

        out = prepare_output(output, "backtest.csv") if output is not None else None
        fc = Forecaster.load(model)
        bt = fc.backtest(_load_frame(fc, data, fill, encoding), _start(start), stride, baselines=baselines, scale=scale)
        print_backtest(bt, str(data))
        if out is not None:
            write_bytes_atomic(out, bt.forecasts.to_csv(index=False).encode(), what="backtest file")
            Console().print(f"wrote {len(bt.forecasts)} forecast rows to {out}")


__all__ = ["register", "print_backtest", "print_holdout"]
