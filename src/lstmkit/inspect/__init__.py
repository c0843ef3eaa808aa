"""Gate inspection: per-step forget/input/output gate and cell-state traces, as heatmaps and an HTML page.

* :mod:`lstmkit.inspect.traces`  runs a saved model on one input and records every gate at every step;
* :mod:`lstmkit.inspect.html`    renders the traces as one self-contained page;
* :mod:`lstmkit.inspect.report`  joins them: :func:`inspect_to_dir` writes ``gates.png`` and ``gates.html``.

Imports point one way (report -> html -> traces); nothing imports back.
"""

from __future__ import annotations

from lstmkit.inspect.html import page_data, render_html, write_html
from lstmkit.inspect.report import InspectResult, inspect_to_dir
from lstmkit.inspect.traces import *  # noqa: F401,F403
from lstmkit.inspect.traces import __all__ as _traces_all

__all__ = [*_traces_all, "InspectResult", "inspect_to_dir", "page_data", "render_html", "write_html"]
