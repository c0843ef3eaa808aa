"""``lstmkit inspect MODEL INPUT --out DIR``: a thin command over :mod:`lstmkit.inspect.traces`.

Writes ``DIR/gates.png`` (heatmaps of the forget, input and output gates and the cell state of the
chosen units over the steps) and ``DIR/gates.html`` (a self-contained page that aligns the same
traces to the input's tokens or timestamps). Every user mistake is one line ``error: ...``, exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer


def _events_line(insp: Any, shares: Any, n_units: int) -> str:
    from lstmkit.inspect.traces import display_label, top_events

    found = top_events(insp, shares)
    if not found:
        return "none"
    return ", ".join(f"{display_label(label)!r} (step {t}, {round(s * n_units)}/{n_units} units)" for t, label, s in found)


def register(app: typer.Typer) -> None:
    """Add ``lstmkit inspect`` to the root app."""

    @app.command("inspect")
    def inspect(
        model: Annotated[Path, typer.Argument(help="Any lstmkit model file with an LSTM: text classifier, sentiment demo, language model, sequence classifier, forecaster.", show_default=False)],
        input: Annotated[str, typer.Argument(help="Text models: a text or a .txt file. Sequence classifiers: a .wav (or a folder), .npz, .csv or .ts file. Forecasters: a CSV series (its last context rows are read).", show_default=False)],
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder for gates.png and gates.html (made if missing).", show_default=False)],
        units: Annotated[Optional[str], typer.Option(help="Unit indices to show, e.g. 3,17,42 (default: the --top most active: largest summed std over the steps of gates f, i, o).", show_default=False)] = None,
        top: Annotated[int, typer.Option(help="How many of the most active units to show when --units is not given.")] = 8,
        layer: Annotated[int, typer.Option(help="Which LSTM layer, counting from 0 (both directions when bidirectional).")] = 0,
        item: Annotated[int, typer.Option(help="Sequence classifiers: which sequence of a file or folder holding several (from 0).")] = 0,
        target: Annotated[Optional[str], typer.Option(help="Forecasters: which target channel (default: the first).", show_default=False)] = None,
        events: Annotated[str, typer.Option(help="How memory resets and writes are found: 'relative' (a gate moves past each unit's median over the input by a threshold) or 'absolute' (a gate passes a fixed value).")] = "relative",
        forget_threshold: Annotated[Optional[float], typer.Option(help="Memory reset: how far below its median (relative, default 0.1) or below which value (absolute, default 0.5) a forget gate has closed.", show_default=False)] = None,
        input_threshold: Annotated[Optional[float], typer.Option(help="Memory written: how far above its median (relative, default 0.1) or above which value (absolute, default 0.5) an input gate has opened.", show_default=False)] = None,
        max_steps: Annotated[int, typer.Option(help="Read at most this many steps of the input (the first ones).")] = 2000,
        encoding: Annotated[str, typer.Option(help="Text encoding of a .txt INPUT.")] = "utf-8",
        threads: Annotated[int, typer.Option(help="torch threads.")] = 1,
    ) -> None:
        """Show an LSTM's forget, input and output gates and cell state on one input: a PNG heatmap and an HTML page."""
        from rich.console import Console

        from lstmkit.inspect import inspect_to_dir, parse_units

        result = inspect_to_dir(
            model, input, out, units=parse_units(units), top=top, events=events, forget_threshold=forget_threshold,
            input_threshold=input_threshold, layer=layer, item=item, target=target, max_steps=max_steps,
            encoding=encoding, threads=threads,
        )
        insp, ev, n = result.inspection, result.events, len(result.units)
        console = Console(highlight=False, soft_wrap=True)
        console.print(f"model: {insp.model}", markup=False)
        console.print(f"input: {insp.source}: {insp.length} {insp.step_kind} step(s)", markup=False)
        console.print(f"layer {insp.layer} of {insp.layers} (from 0), {insp.hidden_size} units, "
                      f"direction(s): {', '.join(d.name for d in insp.directions)}", markup=False)
        console.print(f"units: {', '.join(map(str, result.units))} ({result.rule})", markup=False)
        for note in insp.notes:
            console.print(f"note: {note}", markup=False)
        reset_rule, write_rule = ev.describe()
        for d, direction in enumerate(insp.directions):
            console.print(f"{direction.name}: memory reset ({reset_rule}), most units first: "
                          f"{_events_line(insp, ev.reset[d], n)}", markup=False)
            console.print(f"{direction.name}: memory written ({write_rule}), most units first: "
                          f"{_events_line(insp, ev.written[d], n)}", markup=False)
        console.print(f"wrote {result.png} and {result.html}", markup=False)


__all__ = ["register"]
