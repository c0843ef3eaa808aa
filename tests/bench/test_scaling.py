"""lstmkit.bench.scaling and ``lstmkit bench scaling``: matched sizes, the streaming and training runs at
tiny lengths, the memory cap, the crossover, the output files, and bad input as one line + exit 2."""

from __future__ import annotations

import csv
import math

import pytest
from typer.testing import CliRunner

from lstmkit.cli import app
from lstmkit.errors import ConfigError
from lstmkit.nn.kv_cache import KVCache
from lstmkit.train import bf16_available
from lstmkit.bench import scaling
from lstmkit.bench.scaling import (
    ScalingSettings,
    build_model,
    crossover,
    matched_transformer,
    memory_snapshot,
    parse_int_list,
    predicted_training_peak,
    run_isolated,
    run_scaling,
    stream_run,
    train_run,
)

TINY = dict(lengths=(10, 50), train_lengths=(8, 16), input_size=4, hidden_size=8, timed_steps=3, warmup_steps=1,
            prefill_chunk=16, train_tokens=64, train_iters=1,
            memory_cap_gb=64.0)  # fmt: skip  # the cap counts the whole pytest process, which can pass 1 GB late in the suite
runner = CliRunner()


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("hidden, inputs, heads, layers", [(256, 32, 4, 2), (64, 7, 2, 3), (8, 4, 4, 2)])
def test_parameter_counts_are_matched_and_the_formulas_are_exact(hidden, inputs, heads, layers):
    s = ScalingSettings(hidden_size=hidden, input_size=inputs, nhead=heads, num_layers=layers)
    sizes = matched_transformer(s)
    assert _count(build_model("lstm", s)) == sizes.lstm_params
    transformer = build_model("transformer", s)
    assert _count(transformer) == sizes.transformer_params
    assert transformer.d_model == sizes.d_model and transformer.d_model % heads == 0
    assert abs(sizes.ratio - 1) < 0.03


def test_settings_and_lists_are_checked():
    assert parse_int_list("1000, 10_000,10", "--lengths") == (1000, 10000, 10)
    assert parse_int_list("", "--train-lengths") == ()
    assert ScalingSettings(lengths=(50, 10)).lengths == (10, 50)
    for bad, match in [
        (dict(lengths=()), "--lengths: expected at least one"),
        (dict(lengths=(10, 0)), "--lengths: expected integers >= 1"),
        (dict(lengths=(10, 10)), "at most once"),
        (dict(prefill="fast"), "--prefill"),
        (dict(memory_cap_gb=0), "--memory-cap-gb"),
        (dict(run_timeout_s=-1.0), "--run-timeout"),
        (dict(timed_steps=0), "--timed-steps"),
    ]:  # fmt: skip
        with pytest.raises(ConfigError, match=match):
            ScalingSettings(**bad)
    with pytest.raises(ConfigError, match="--lengths: expected comma-separated integers, found '1e3'"):
        parse_int_list("10,1e3", "--lengths")
    with pytest.raises(ConfigError, match="model"):
        build_model("gru", ScalingSettings())


def test_crossover_is_interpolated_in_log_length():
    lstm = {10: 5.0, 100: 5.0, 1000: 5.0}
    found = crossover(lstm, {10: 1.0, 100: 3.0, 1000: 7.0}, "x")
    assert found.length == pytest.approx(math.sqrt(100 * 1000))  # halfway in log L between 100 and 1000
    assert "between 100 and 1000" in found.text
    assert crossover(lstm, {10: 6.0, 100: 7.0}, "x").text.endswith("shortest length measured, L = 10")
    assert crossover(lstm, {10: 1.0, 1000: 2.0}, "x").length is None
    assert "no length measured" in crossover(lstm, {}, "x").text


def test_memory_snapshot_reads_the_os_figures():
    mem = memory_snapshot()
    assert mem["rss"] > 10e6 and mem["peak"] >= mem["rss"] * 0.9 and mem["ru_maxrss"] > 0


@pytest.mark.parametrize("kind, prefill", [("lstm", "blockwise"), ("transformer", "blockwise"), ("transformer", "exact")])
def test_stream_run_reaches_the_length_with_timed_single_steps(kind, prefill):
    s = ScalingSettings(**{**TINY, "prefill": prefill})
    r = stream_run(kind, 50, s)
    assert r["status"] == "ok" and r["position"] == 50
    assert r["prefill_steps"] + s.warmup_steps + r["timed_steps"] == 50 and r["timed_steps"] == 3
    assert 0 < r["step_us_min"] <= r["step_us_median"] <= r["step_us_p90"]
    assert r["peak_rss"] >= r["baseline_rss"] > 0
    expected_state = 2 * 8 * 4 if kind == "lstm" else KVCache.bytes_for(build_model(kind, s), 50)
    assert r["state_bytes"] == expected_state
    short = stream_run(kind, 2, s)  # shorter than the timed steps: every step is timed
    assert short["status"] == "ok" and short["timed_steps"] == 2 and short["prefill_steps"] == 0


def test_memory_cap_stops_runs_cleanly():
    tiny_cap = ScalingSettings(**{**TINY, "memory_cap_gb": 0.001})
    predicted = stream_run("transformer", 50, tiny_cap)
    assert predicted["status"] == "stopped" and "not started" in predicted["reason"] and predicted["position"] == 0
    measured = stream_run("lstm", 50, tiny_cap)  # the LSTM has no prediction: the RSS check after a chunk stops it
    assert measured["status"] == "stopped" and "passed the cap" in measured["reason"] and measured["position"] > 0
    assert train_run("lstm", 8, tiny_cap)["status"] == "stopped"
    runs = [{"length": 100, "peak_rss": 300, "baseline_rss": 200}, {"length": 200, "peak_rss": 520, "baseline_rss": 210}]
    b = (310 - 100) / (200**2 - 100**2)  # extra memory = a + b L^2 through both runs
    assert predicted_training_peak(runs, 400) == pytest.approx(210 + 310 + b * (400**2 - 200**2))
    flat = [runs[0], {**runs[1], "peak_rss": 250}]  # shrinking memory: no growth assumed
    assert predicted_training_peak(flat, 400) == pytest.approx(250)
    assert predicted_training_peak(runs[:1], 300) is None


def test_train_run_measures_tokens_per_second():
    r = train_run("transformer", 16, ScalingSettings(**TINY))
    assert r["status"] == "ok" and r["batch"] == 4 and r["tokens_per_s"] > 0 and math.isfinite(r["loss"])
    # the engine ran the iterations: one warm-up and train_iters timed steps, in fp32
    assert r["steps"] == 1 + TINY["train_iters"] and r["precision"] == "fp32"
    three = train_run("lstm", 8, ScalingSettings(**{**TINY, "train_iters": 3}))
    assert three["steps"] == 4 and three["seconds"] > 0


@pytest.mark.skipif(bf16_available("cpu"), reason="this CPU has bfloat16 units")
def test_bf16_without_bf16_units_is_refused_before_any_run(tmp_path):
    with pytest.raises(ConfigError, match="^--precision 'bf16': this CPU has no bfloat16 matrix units"):
        ScalingSettings(**{**TINY, "precision": "bf16"})
    res = runner.invoke(app, ["bench", "scaling", "--out", str(tmp_path / "o"), "--precision", "bf16"])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and res.stderr.startswith("error: --precision 'bf16'")
    assert not (tmp_path / "o").exists()


def _fake_runner(job, kind, length, settings):
    """Streaming: the Transformer's memory grows with L and stops at 1000; the LSTM stays flat."""
    base = {"job": job, "model": kind, "length": length, "baseline_rss": 100e6}
    if job == "stream":
        if kind == "transformer" and length >= 1000:
            return {**base, "status": "stopped", "reason": "predicted peak over the cap; not started", "position": 0}
        peak = 100e6 + (length * 1e5 if kind == "transformer" else 2e6)
        return {**base, "status": "ok", "peak_rss": peak, "step_us_median": 10.0 + (length if kind == "transformer" else 0),
                "step_us_p90": 20.0, "state_bytes": 64, "prefill_seconds": 0.1, "timed_steps": 3}  # fmt: skip
    peak = 110e6 if kind == "lstm" else 100e6 + 1e6 * length**2  # training: the Transformer grows as L^2
    return {**base, "status": "ok", "batch": 1, "peak_rss": peak, "tokens_per_s": 1000.0 if kind == "lstm" else 500.0 * length}


def test_run_scaling_writes_tables_and_plots_and_skips_after_a_stop(tmp_path, monkeypatch):
    monkeypatch.setattr(scaling, "run_in_process", _fake_runner)
    s = ScalingSettings(lengths=(10, 100, 1000, 10000), train_lengths=(1, 4, 32))
    lines = []
    result = run_scaling(s, tmp_path / "out", isolate=False, echo=lines.append, command="lstmkit bench scaling ...")
    out = tmp_path / "out"
    rows = list(csv.DictReader(open(out / "streaming.csv")))
    assert [(r["model"], r["length"], r["status"]) for r in rows if r["model"] == "transformer"] == [
        ("transformer", "10", "ok"), ("transformer", "100", "ok"), ("transformer", "1000", "stopped"),
        ("transformer", "10000", "skipped"),
    ]  # fmt: skip
    found = result.crossovers()
    assert 10 < found["memory"].length < 100  # transformer 101 MB vs LSTM 102 MB at 10, 110 MB at 100
    assert found["latency"].length is None and "shortest length" in found["latency"].text
    assert 1 < found["training"].length < 4
    train = [(r["model"], r["length"], r["status"]) for r in csv.DictReader(open(out / "training.csv"))]
    assert train[-3:] == [("transformer", "1", "ok"), ("transformer", "4", "ok"), ("transformer", "32", "stopped")]
    assert ("lstm", "32", "ok") in train  # flat memory: predicted under the cap
    md = (out / "results.md").read_text()
    assert "train transformer stopped at L = 32: predicted peak 1.12 GB (a + b L^2 through the peaks measured at L = 1 and 4)" in md
    assert "stream transformer stopped at L = 1000: predicted peak over the cap" in md
    assert "| 100 | 8.0 MB | 11.00 |" in md  # the Transformer against the LSTM, same benchmark
    for name in ("streaming.png", "training.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (out / name).stat().st_size > 10_000
    assert any("passes the LSTM's" in line for line in lines)


def test_run_isolated_runs_a_fresh_process_and_reports_failures():
    s = ScalingSettings(**TINY)
    r = run_isolated("stream", "lstm", 10, s)
    assert r["status"] == "ok" and r["position"] == 10 and r["peak_rss"] > 0
    slow = run_isolated("stream", "lstm", 10, ScalingSettings(**{**TINY, "run_timeout_s": 0.01}))
    assert slow["status"] == "failed" and "--run-timeout" in slow["reason"]


def test_cli_smoke_at_tiny_lengths(tmp_path):
    out = tmp_path / "scaling"
    args = ["bench", "scaling", "--lengths", "10,50", "--train-lengths", "8,16", "--in-process", "--hidden-size", "8",
            "--input-size", "4", "--timed-steps", "3", "--train-iters", "1", "--train-tokens", "64", "--memory-cap-gb", "64", "--out", str(out)]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "peak memory (streaming)" in res.output and "wrote" in res.output
    assert len(list(csv.DictReader(open(out / "streaming.csv")))) == 4
    assert len(list(csv.DictReader(open(out / "training.csv")))) == 4
    md = (out / "results.md").read_text()
    assert "lstmkit bench scaling" in md and "--precision fp32" in md and "--in-process" in md
    assert '"precision": "fp32"' in (out / "config.json").read_text()


@pytest.mark.parametrize("extra, message", [
    (["--lengths", "10,abc"], "error: --lengths: expected comma-separated integers, found 'abc'"),
    (["--lengths", "0"], "error: --lengths: expected integers >= 1"),
    (["--prefill", "fast"], "error: --prefill: expected one of blockwise, exact, found 'fast'"),
    (["--memory-cap-gb", "-1"], "error: --memory-cap-gb: expected a number > 0"),
    (["--precision", "fp16"], "error: --precision: expected 'fp32', 'bf16' or 'auto', found 'fp16'"),
])  # fmt: skip
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, extra, message):
    res = runner.invoke(app, ["bench", "scaling", "--out", str(tmp_path / "o"), *extra])
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output


def test_cli_out_must_be_a_folder(tmp_path):
    file = tmp_path / "taken"
    file.write_text("x")
    res = runner.invoke(app, ["bench", "scaling", "--lengths", "10", "--out", str(file)])
    assert res.exit_code == 2 and "error: --out: expected a folder" in res.output
