"""``lstmkit stream replay MODEL EVENTS.csv --store URL -o OUT.csv``: thin; the work is in lstmkit.stream."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay_command(
        model: Annotated[Path, typer.Argument(help="An lstmkit model file whose network is recurrent: a Sequential, "
                                                   "Forecaster, SequenceClassifier, TextClassifier or language model.")],
        events: Annotated[Path, typer.Argument(help="CSV: stream_id,seq,values... (seq empty: the next number).")],
        store: Annotated[Optional[str], typer.Option(
            "--store", help="memory://, sqlite:///FILE (default: MODEL.streams.db beside the model), "
                            "redis://HOST:PORT/DB or postgresql://HOST:PORT/DBNAME.")] = None,
        output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write the outputs here (CSV).")] = None,
        batch: Annotated[int, typer.Option("--batch", min=1, help="Events per engine call (one atomic save each).")] = 1024,
    ) -> None:
        """Feed a file of events through the stream engine, keeping each stream's memory in the store."""
        from rich.progress import Progress

        from lstmkit.stream.engine import open_engine
        from lstmkit.stream.replay import replay

        engine = open_engine(model, store)
        try:
            with Progress(transient=True) as bar:
                task = bar.add_task("events", total=None)
                result = replay(engine, events, output, batch, progress=lambda k: bar.advance(task, k))
        finally:
            engine.store.close()
        typer.echo(f"{result.events:,} events of {result.streams:,} streams applied; state in {result.store}"
                   + (f"; outputs in {result.output}" if result.output else ""))
