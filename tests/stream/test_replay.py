"""lstmkit stream replay: a real model file and events CSV through the engine into SQLite; a second
replay continues each stream's memory; bad rows are one line with the file and line."""

from __future__ import annotations

import csv

import numpy as np
import torch
from typer.testing import CliRunner

from lstmkit.cli import app
from lstmkit.layers import LSTM, Dense, Input
from lstmkit.models import Sequential

runner = CliRunner()


def _model(tmp_path):
    torch.manual_seed(0)
    m = Sequential([Input(shape=(None, 2)), LSTM(6), Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    path = tmp_path / "m.lstmkit"
    m.save(path)
    return m, path


def _write(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["stream_id", "seq", "x0", "x1"])
        w.writerows(rows)


def test_replay_twice_continues_every_stream(tmp_path):
    model, path = _model(tmp_path)
    x = np.random.default_rng(0).standard_normal((3, 4, 2)).astype(np.float32)
    _write(tmp_path / "a.csv", [[f"s{n}", t + 1, *x[n, t]] for t in range(2) for n in range(3)])
    _write(tmp_path / "b.csv", [[f"s{n}", "", *x[n, t]] for t in range(2, 4) for n in range(3)])
    for part in ("a", "b"):
        r = runner.invoke(app, ["stream", "replay", str(path), str(tmp_path / f"{part}.csv"), "-o",
                                str(tmp_path / f"{part}_out.csv"), "--batch", "4"])
        assert r.exit_code == 0, r.output
        assert "6 events of 3 streams applied; state in sqlite:///" in r.output
    rows = list(csv.DictReader(open(tmp_path / "b_out.csv")))
    assert [(r["stream_id"], r["seq"]) for r in rows[:3]] == [("s0", "3"), ("s1", "3"), ("s2", "3")]
    ref = model.predict(x, verbose=0)          # each stream's output after all 4 steps
    got = {r["stream_id"]: float(r["y0"]) for r in rows[3:]}
    for n in range(3):
        assert abs(got[f"s{n}"] - float(ref[n, 0])) < 1e-5
    assert (tmp_path / "m.lstmkit.streams.db").exists()


def test_bad_rows_are_one_line(tmp_path):
    _, path = _model(tmp_path)
    _write(tmp_path / "bad.csv", [["s0", 1, 0.1, 0.2], ["s0", 2, "abc", 0.2]])
    r = runner.invoke(app, ["stream", "replay", str(path), str(tmp_path / "bad.csv"), "--store", "memory://"])
    assert r.exit_code == 2 and "bad.csv, line 3: values: expected numbers" in r.output
    _write(tmp_path / "gap.csv", [["s0", 1, 0.1, 0.2], ["s0", 5, 0.1, 0.2]])
    r = runner.invoke(app, ["stream", "replay", str(path), str(tmp_path / "gap.csv"), "--store", "memory://"])
    assert r.exit_code == 2 and "gap.csv, lines 2-3: stream 's0': seq 5 refused; the next is 2" in r.output
    r = runner.invoke(app, ["stream", "replay", str(path), str(tmp_path / "gap.csv"), "--store", "ftp://x"])
    assert r.exit_code == 2 and "expected memory://" in r.output
