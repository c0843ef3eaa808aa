"""lstmkit.bench.report: the one report writer the benchmarks share (markdown, CSV, config.json, plots)."""

from __future__ import annotations

import csv
import json

import pytest

from lstmkit.bench.report import (MODEL_STYLE, Report, csv_text, environment, figure_png, markdown_header,
                                  markdown_table, pyplot)
from lstmkit.errors import ConfigError

PNG = b"\x89PNG\r\n\x1a\n"


def _figure():
    fig, ax = pyplot().subplots()
    ax.plot([1, 2, 3], [3, 1, 2], color=MODEL_STYLE["lstm"][0], marker=MODEL_STYLE["lstm"][1])
    return fig


def test_markdown_header_and_table():
    assert markdown_header("Title", "lstmkit bench x --out o") == ["# Title", "", "Command: `lstmkit bench x --out o`", ""]
    assert markdown_header("Title", "") == ["# Title", "", "", ""]
    assert markdown_table(["model", "T", ""], "lrr", [["lstm", 50, ""], ("gru", 7, 0.5)]) == [
        "| model | T |  |",
        "|---|---:|---:|",
        "| lstm | 50 |  |",
        "| gru | 7 | 0.5 |",
    ]
    with pytest.raises(ValueError, match="align"):
        markdown_table(["a", "b"], "l", [])
    with pytest.raises(ValueError, match="align"):
        markdown_table(["a"], "c", [])


def test_csv_columns_are_the_union_or_fixed():
    rows = [{"a": 1, "b": 0.123456789}, {"a": 2, "c": "x"}]
    assert csv_text(rows) == "a,b,c\n1,0.123456789,\n2,,x\n"
    assert csv_text(rows, columns=("c", "a"), float_format=".3g") == "c,a\n,1\nx,2\n"
    assert csv_text(rows, columns=("a", "b"), float_format=".3g") == "a,b\n1,0.123\n2,\n"
    assert csv_text([]) == "\n" and csv_text([], columns=("a",)) == "a\n"


def test_report_writes_every_kind_of_file(tmp_path):
    out = tmp_path / "new" / "folder"
    report = Report(out)
    assert report.active and out.is_dir()  # created (and checked writable) when the report is made
    assert report.text("results.md", "# x\n") == out / "results.md"
    report.csv("results.csv", [{"model": "lstm", "mse": 0.25}, {"model": "gru", "acc": 1.0}])
    report.json("config.json", {"command": "c", "sizes": {"lstm": 3}})
    report.figure("curves.png", _figure())
    report.png("raw.png", figure_png(_figure()))
    assert (out / "results.md").read_text() == "# x\n"
    with open(out / "results.csv") as f:
        assert list(csv.DictReader(f)) == [{"model": "lstm", "mse": "0.25", "acc": ""}, {"model": "gru", "mse": "", "acc": "1.0"}]
    text = (out / "config.json").read_text()
    assert text.endswith("}\n") and "\n  " in text and json.loads(text) == {"command": "c", "sizes": {"lstm": 3}}
    for name in ("curves.png", "raw.png"):
        assert (out / name).read_bytes()[:8] == PNG
    report.text("results.md", "# y\n")  # rewritten in place (atomically), no temporary file left behind
    assert (out / "results.md").read_text() == "# y\n"
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "curves.png", "raw.png", "results.csv", "results.md"]
    assert report.names(["a.csv", "b.md"]) == f"{out / 'a.csv'}, {out / 'b.md'}"
    lines = []
    report.echo(lines.append)("printed")
    assert lines == ["printed"]  # a single process is the main one: it prints


def test_a_file_in_the_way_is_one_line(tmp_path):
    blocked = tmp_path / "taken"
    blocked.write_text("keep")
    with pytest.raises(ConfigError, match="--out: expected a folder, found the file"):
        Report(blocked)
    with pytest.raises(ConfigError, match="--dir: expected a folder"):
        Report(blocked, option="--dir")
    assert blocked.read_text() == "keep"


def test_environment_for_config_json():
    env = environment()
    assert list(env) == ["lstmkit", "torch", "cpus"] and env["cpus"] >= 1
    assert list(environment(details=True)) == ["lstmkit", "torch", "python", "cpus", "platform"]
