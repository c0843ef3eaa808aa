"""``model.summary()``: a Keras-style table of layers, output shapes and parameter counts."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # pragma: no cover
    from lstmkit.models.model import Model


def _size(n_params: int, bytes_per_param: int = 4) -> str:
    size = float(n_params * bytes_per_param)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"  # pragma: no cover


@dataclass
class ModelSummary:
    """What ``summary()`` printed: ``rows`` of (layer, output shape, params) and the totals.
    ``str(summary)`` is the same table as plain text."""

    name: str
    rows: list[tuple] = field(default_factory=list)  # (layer, shape, params) or, Functional, + connected to
    total_params: int = 0
    trainable_params: int = 0
    non_trainable_params: int = 0

    def table(self) -> Table:
        table = Table(title=f'Model: "{self.name}"', title_justify="left", box=box.HEAVY_HEAD)
        table.add_column("Layer (type)", no_wrap=True)
        table.add_column("Output Shape", no_wrap=True)
        table.add_column("Param #", justify="right", no_wrap=True)
        connected = any(len(row) > 3 for row in self.rows)
        if connected:
            table.add_column("Connected to")
        for layer, shape, params, *rest in self.rows:
            cells = [layer, shape, "0 (unbuilt)" if params is None else f"{params:,}"]
            table.add_row(*cells, *(rest[:1] if connected else []))
        return table

    def footer(self) -> str:
        return (
            f" Total params: {self.total_params:,} ({_size(self.total_params)})\n"
            f" Trainable params: {self.trainable_params:,} ({_size(self.trainable_params)})\n"
            f" Non-trainable params: {self.non_trainable_params:,} ({_size(self.non_trainable_params)})"
        )

    def print(self, console: Console | None = None) -> None:
        # A Functional summary has a fourth column ("Connected to"): give it room off a terminal.
        wide = any(len(row) > 3 for row in self.rows)
        console = console or Console(highlight=False, width=None if not wide else max(Console().width, 120))
        console.print(self.table())
        console.print(self.footer())

    def __str__(self) -> str:
        buf = io.StringIO()
        wide = any(len(row) > 3 for row in self.rows)
        self.print(Console(file=buf, width=130 if wide else 100, no_color=True, highlight=False, force_terminal=False))
        return buf.getvalue().rstrip("\n")

    def __repr__(self) -> str:
        return f"ModelSummary(name={self.name!r}, total_params={self.total_params:,})"


def summarize(model: "Model", print_fn: Callable[[str], Any] | None = None) -> ModelSummary:
    rows = model.summary_rows() if hasattr(model, "summary_rows") else [
        (f"{name} ({type(m).__name__})", "?", sum(p.numel() for p in m.parameters()))
        for name, m in model.named_children()
    ]
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = model.count_params() if hasattr(model, "_buffer_weights") else sum(p.numel() for p in model.parameters())
    summary = ModelSummary(model.name, rows, total, trainable, total - trainable)
    if print_fn is None:
        summary.print()
    else:
        for line in str(summary).splitlines():
            print_fn(line)
    return summary
