"""Gate inspection end to end: trace a saved model on one input, write ``gates.png`` and ``gates.html``.

:mod:`lstmkit.inspect.traces` computes the traces; :mod:`lstmkit.inspect.html` renders the page;
this module joins them (imports point one way: report -> html -> traces).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from lstmkit.inspect.html import write_html
from lstmkit.inspect.traces import (
    DEFAULT_TOP,
    GateEvents,
    GateInspection,
    event_thresholds,
    gate_events,
    inspect_model,
    select_units,
    write_heatmap,
)
from lstmkit.util.files import prepare_output_dir


@dataclass
class InspectResult:
    """What :func:`inspect_to_dir` wrote and found."""

    inspection: GateInspection
    units: list[int]
    rule: str
    events: GateEvents
    png: Path
    html: Path


def inspect_to_dir(
    model: str | PathLike[str], input: str | PathLike[str], out: str | PathLike[str], *, units: Sequence[int] | None = None,
    top: int = DEFAULT_TOP, events: str = "relative", forget_threshold: float | None = None,
    input_threshold: float | None = None, **kwargs: Any,
) -> InspectResult:
    """:func:`inspect_model`, then ``out/gates.png`` (heatmaps) and ``out/gates.html`` (the aligned page)."""
    event_thresholds(events, forget_threshold, input_threshold)  # bad options fail before the model runs
    folder = prepare_output_dir(out)
    insp = inspect_model(model, input, **kwargs)
    chosen, rule = select_units(insp, units, top)
    found = gate_events(insp, chosen, events, forget_threshold, input_threshold)
    png = write_heatmap(insp, chosen, folder / "gates.png")
    html = write_html(insp, chosen, rule, found, folder / "gates.html")
    return InspectResult(insp, chosen, rule, found, png, html)


__all__ = ["InspectResult", "inspect_to_dir"]
