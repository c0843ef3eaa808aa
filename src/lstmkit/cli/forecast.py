"""``lstmkit forecast train | predict | backtest``: thin commands over :mod:`lstmkit.tasks.timeseries.forecaster`.

Every user mistake is an :class:`~lstmkit.errors.LstmkitError`, which the root group turns into one
line ``error: ...`` and exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lstmkit.errors import ConfigError

SPLITS = ("fractions", "ett", "none")


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


def print_backtest(bt: Any, title: str) -> None:
    """The metrics table of a :class:`~lstmkit.tasks.timeseries.forecaster.Backtest`, LSTM first, then the baselines."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
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


def register(forecast_app: typer.Typer) -> None:
    """Add the forecasting commands to ``lstmkit forecast``."""

    @forecast_app.command("train")
    def train(
        data: Annotated[Path, typer.Argument(help="CSV file with a header row: a time column and numeric columns.", show_default=False)],
        output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the model file.", show_default=False)],
        time_col: Annotated[Optional[str], typer.Option(help="The timestamp column (none: rows are numbered).")] = None,
        target: Annotated[Optional[str], typer.Option(help="Column(s) to forecast, comma-separated (default: every numeric column that is not a covariate).")] = None,
        covariates: Annotated[Optional[str], typer.Option(help="Column(s) read but not forecast, comma-separated.")] = None,
        all_columns: Annotated[bool, typer.Option("--all-columns", help="Every numeric column besides --target is a covariate.")] = False,
        context: Annotated[int, typer.Option(help="Rows read per forecast.")] = 336,
        horizon: Annotated[int, typer.Option(help="Steps forecast.")] = 96,
        split: Annotated[str, typer.Option(help="'fractions' (70/10/20 train/valid/test, test scored), 'ett' (12/4/4 months of hours) or 'none' (train on all rows, no early stopping).")] = "fractions",
        epochs: Annotated[int, typer.Option(help="Maximum epochs.")] = 10,
        segment: Annotated[Optional[int], typer.Option(help="Steps per LSTM segment (must divide --context; default: the largest divisor up to context/7; 1: per-step LSTM).")] = None,
        units: Annotated[int, typer.Option(help="LSTM width.")] = 256,
        layers: Annotated[int, typer.Option(help="LSTM layers.")] = 1,
        head: Annotated[str, typer.Option(help="'direct' (all steps at once) or 'autoregressive'.")] = "direct",
        instance_norm: Annotated[str, typer.Option(help="'last' (subtract the window's last value), 'mean' (RevIN-style: also divide by the window's std) or 'none'.")] = "last",
        intervals: Annotated[str, typer.Option(help="'quantile', 'gaussian' or 'none'.")] = "quantile",
        level: Annotated[float, typer.Option(help="Nominal coverage of the intervals.")] = 0.8,
        loss: Annotated[str, typer.Option(help="Point-model loss: 'mae' or 'mse'.")] = "mae",
        dropout: Annotated[float, typer.Option(help="Dropout before the output projection.")] = 0.5,
        batch_size: Annotated[int, typer.Option(help="Batch size (windows).")] = 256,
        lr: Annotated[float, typer.Option(help="Adam learning rate (cosine decay).")] = 1e-3,
        patience: Annotated[int, typer.Option(help="Early-stopping patience (epochs).")] = 3,
        fill: Annotated[Optional[str], typer.Option(help="Fill empty cells: 'interpolate', 'ffill' or 'zero' (default: an error).")] = None,
        season: Annotated[Optional[int], typer.Option(help="Seasonal period for the baselines and MASE (default: from the frequency).")] = None,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
        threads: Annotated[int, typer.Option(help="torch threads (1 is robust on a small or busy CPU).")] = 1,
        baselines: Annotated[bool, typer.Option("--baselines/--no-baselines", help="Score the baselines beside the LSTM on the test split.")] = True,
        stride: Annotated[int, typer.Option(help="Steps between the test split's forecast origins (ETS fits one model per origin).")] = 1,
    ) -> None:
        """Train an LSTM forecaster on a CSV series, report its test metrics beside the baselines, save it."""
        from rich.console import Console

        from lstmkit.data.timeseries import read_series
        from lstmkit.util.checks import prepare_output
        from lstmkit.tasks.timeseries.forecaster import Forecaster

        if split not in SPLITS:
            raise ConfigError(f"--split must be one of {', '.join(SPLITS)}; found {split!r}")
        targets, covs = _columns(target), _columns(covariates)
        if all_columns and covs is not None:
            raise ConfigError("give either --covariates or --all-columns, not both")
        if all_columns and targets is None:
            raise ConfigError("--all-columns needs --target (the other columns become covariates)")
        out = prepare_output(output, "forecaster.lstmkit")  # fail before training when it cannot be written
        wanted = None if targets is None or all_columns else targets + (covs or [])
        frame = read_series(data, time_col=time_col, columns=wanted, fill=fill)
        if all_columns:
            covs = [c for c in frame.columns if c not in targets]
        fc = Forecaster(
            context, horizon, targets, covs, segment=segment, units=units, layers=layers, head=head,
            instance_norm=instance_norm, intervals=None if intervals == "none" else intervals, level=level, loss=loss,
            dropout=dropout,
            epochs=epochs, batch_size=batch_size, lr=lr, patience=patience, seed=seed, threads=threads, season=season,
            verbose=1,
        )
        console = Console()
        console.print(f"{data}: {len(frame)} rows, frequency {frame.index.freqstr if hasattr(frame.index, 'freqstr') else 'none'}")
        fc.fit(frame, valid=None if split == "none" else split)
        fc.save(out)
        console.print(
            f"targets: {', '.join(fc.targets_)}; covariates: {', '.join(fc.covariates_) or 'none'}; "
            f"context {fc.context}, horizon {fc.horizon}, segment {fc.network_.segment}"
        )
        if fc.valid_mse_ is not None:
            console.print(f"best epoch {fc.best_epoch_} (validation MSE {fc.valid_mse_:.4f}, standardized)")
        console.print(f"trained on {fc.train_windows_} windows in {fc.fit_seconds_:.1f} s; model saved to {out}")
        if split != "none":
            print_backtest(fc.backtest(frame, stride=stride, baselines=baselines), "test split")

    def _load_frame(fc: Any, data: Path, fill: Optional[str]) -> Any:
        from lstmkit.data.timeseries import read_series

        return read_series(data, time_col=fc.index_name_, columns=fc.columns_, fill=fill)

    @forecast_app.command("predict")
    def predict(
        model: Annotated[Path, typer.Argument(help="A model file from forecast train.", show_default=False)],
        data: Annotated[Path, typer.Argument(help="CSV series (same columns as in training); the forecast follows its last row.", show_default=False)],
        output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the forecast to this CSV file.")] = None,
        fill: Annotated[Optional[str], typer.Option(help="Fill empty cells: 'interpolate', 'ffill' or 'zero'.")] = None,
    ) -> None:
        """Forecast the steps after the end of DATA: timestamps, point forecasts and intervals."""
        from rich.console import Console
        from rich.table import Table

        from lstmkit.models.serialization import write_bytes_atomic
        from lstmkit.util.checks import prepare_output
        from lstmkit.tasks.timeseries.forecaster import Forecaster

        out = prepare_output(output, "forecast.csv") if output is not None else None
        fc = Forecaster.load(model)
        result = fc.predict(_load_frame(fc, data, fill))
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
    ) -> None:
        """Rolling-origin evaluation (batched): MSE, MAE, sMAPE, MASE and interval coverage, with the baselines."""
        from rich.console import Console

        from lstmkit.models.serialization import write_bytes_atomic
        from lstmkit.util.checks import prepare_output
        from lstmkit.tasks.timeseries.forecaster import Forecaster

        out = prepare_output(output, "backtest.csv") if output is not None else None
        fc = Forecaster.load(model)
        bt = fc.backtest(_load_frame(fc, data, fill), _start(start), stride, baselines=baselines, scale=scale)
        print_backtest(bt, str(data))
        if out is not None:
            write_bytes_atomic(out, bt.forecasts.to_csv(index=False).encode(), what="backtest file")
            Console().print(f"wrote {len(bt.forecasts)} forecast rows to {out}")


__all__ = ["register", "print_backtest"]
