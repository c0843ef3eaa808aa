"""The one report writer of the benchmarks: markdown pages and tables, CSV, config.json and plots.

Every benchmark (:mod:`lstmkit.bench.longrange`, :mod:`lstmkit.bench.gradient_flow`,
:mod:`lstmkit.bench.scaling`) writes its files through a :class:`Report` on its output folder:

* the folder is created and checked writable when the report is made (before any training);
* every file is written atomically (a temporary file, fsync, rename), so a benchmark stopped
  part-way leaves the previous version of each file whole, and tables can be rewritten after every run;
* in a multi-process run (``--nproc``) only rank 0 has an active report: on the other processes
  the folder is not touched, every write is skipped and :meth:`Report.echo` prints nothing
  (:attr:`Report.active` is False).

The text helpers build what goes into the files: :func:`markdown_header` (title and the command
that made the page), :func:`markdown_table`, :func:`csv_text` (the union of the rows' keys, or
fixed columns), :func:`environment` (versions and CPU count for config.json), and
:func:`figure_png` / :func:`pyplot` for matplotlib on the Agg backend.

>>> print("\\n".join(markdown_table(["model", "T"], "lr", [["lstm", 50]])))
| model | T |
|---|---:|
| lstm | 50 |
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

# One colour and marker per model, shared by every benchmark's plots.
MODEL_STYLE = {"rnn": ("tab:red", "o"), "gru": ("tab:green", "s"), "lstm": ("tab:blue", "D"),
               "transformer": ("tab:purple", "^")}  # fmt: skip

_ALIGN = {"l": "---", "r": "---:"}


def _silent(*_: Any, **__: Any) -> None:
    """The echo of the processes that do not print."""


def markdown_header(title: str, command: str) -> list[str]:
    """A results page's first lines: the title and the command that made it."""
    return [f"# {title}", "", f"Command: `{command}`" if command else "", ""]


def markdown_table(header: Sequence[str], align: str, rows: Iterable[Sequence[Any]]) -> list[str]:
    """The lines of a markdown table; ``align`` has one letter per column: ``l`` (left) or ``r`` (right)."""
    if len(align) != len(header) or set(align) - set(_ALIGN):
        raise ValueError(f"align: expected {len(header)} letters among 'l' and 'r', found {align!r}")
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(_ALIGN[a] for a in align) + "|",
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
    ]


def csv_text(rows: Iterable[dict[str, Any]], columns: Sequence[str] | None = None, float_format: str | None = None) -> str:
    """CSV with a header row. Columns: ``columns`` (other keys ignored, missing ones empty), else the
    union of the rows' keys in first-seen order. ``float_format`` (e.g. ``".6g"``) formats floats."""
    rows = list(rows)
    if columns is None:
        fields: list[str] = []
        for row in rows:
            fields += [k for k in row if k not in fields]
    else:
        fields = list(columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        if float_format is not None:
            row = {k: (format(v, float_format) if isinstance(v, float) else v) for k, v in row.items()}
        writer.writerow(row)
    return buffer.getvalue()


def environment(details: bool = False) -> dict[str, Any]:
    """What made the numbers: lstmkit's and torch's versions and the CPU count (``details``: Python and platform too)."""
    import platform

    import torch

    from lstmkit._version import __version__

    if details:
        return {"lstmkit": __version__, "torch": torch.__version__, "python": platform.python_version(),
                "cpus": os.cpu_count(), "platform": platform.platform(terse=True)}  # fmt: skip
    return {"lstmkit": __version__, "torch": torch.__version__, "cpus": os.cpu_count()}


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (110 dpi, tight box); the figure is closed."""
    plt = pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


class Report:
    """A benchmark's output folder: ``Report(out)`` creates and checks it, then each method writes one file.

    ``text``, ``csv``, ``json`` (indented, newline-terminated: config.json), ``figure`` (a matplotlib
    figure as PNG) and ``png`` (PNG bytes) write atomically and return the path. Only the main
    process (rank 0) of a multi-process run writes; elsewhere :attr:`active` is False, nothing is
    created and every write returns None.
    """

    def __init__(self, out: str | os.PathLike[str], option: str = "--out") -> None:
        from lstmkit.train.distributed import is_main
        from lstmkit.util.files import prepare_output_dir

        self.active = is_main()
        self.folder = prepare_output_dir(out, option) if self.active else Path(out).expanduser()

    def path(self, name: str) -> Path:
        return self.folder / name

    def _bytes(self, name: str, data: bytes, what: str) -> Path | None:
        if not self.active:
            return None
        from lstmkit.util.files import write_bytes_atomic

        write_bytes_atomic(self.path(name), data, what=what)
        return self.path(name)

    def text(self, name: str, text: str) -> Path | None:
        return self._bytes(name, text.encode("utf-8"), "output file")

    def csv(self, name: str, rows: Iterable[dict[str, Any]], columns: Sequence[str] | None = None,
            float_format: str | None = None) -> Path | None:
        return self.text(name, csv_text(rows, columns, float_format))

    def json(self, name: str, data: Any) -> Path | None:
        return self.text(name, json.dumps(data, indent=2) + "\n")

    def png(self, name: str, data: bytes) -> Path | None:
        return self._bytes(name, data, "plot")

    def figure(self, name: str, fig) -> Path | None:
        if not self.active:
            pyplot().close(fig)
            return None
        return self.png(name, figure_png(fig))

    def echo(self, echo: Callable[[str], Any]) -> Callable[[str], Any]:
        """``echo`` where the report is active, a no-op elsewhere: a multi-process run prints each line once."""
        return echo if self.active else _silent

    def names(self, names: Iterable[str]) -> str:
        """``"DIR/a, DIR/b"``: the files a benchmark says it wrote."""
        return ", ".join(str(self.path(n)) for n in names)


__all__ = ["MODEL_STYLE", "Report", "markdown_header", "markdown_table", "csv_text", "environment", "pyplot", "figure_png"]
