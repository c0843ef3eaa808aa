"""Long-range tasks: data generators, chance baselines, matched model sizes, the training loop and its files."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch

from lstmkit.errors import ConfigError
from lstmkit.train import Constant, Cosine, bf16_available, read_log
from lstmkit.bench.longrange import (
    MODEL_NAMES,
    AddingProblem,
    Budget,
    CopyMemory,
    LongRangeBenchmark,
    TrainSettings,
    build_model,
    evaluate,
    generator,
    initial_model,
    make_task,
    matched_sizes,
    model_size,
    parse_forget_bias,
    parse_lengths,
    parse_list,
    fixed_test_set,
    train_run,
    training_batches,
)

TINY = TrainSettings(batch_size=16, eval_every=5, test_size=24)


# ---- adding problem ---------------------------------------------------------------------------


@pytest.mark.parametrize("length", [2, 7, 50])
def test_adding_batch_has_one_marker_in_each_half_and_the_target_is_their_sum(length):
    task = AddingProblem()
    x, y = task.sample(200, length, generator(1))
    assert x.shape == (length, 200, 2) and y.shape == (200,)
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert torch.equal(markers.sum(0), torch.full((200,), 2.0))
    half = length // 2
    assert torch.equal(markers[:half].sum(0), torch.ones(200)) and torch.equal(markers[half:].sum(0), torch.ones(200))
    torch.testing.assert_close(y, (values * markers).sum(0))


def test_batches_come_from_the_seeded_generator():
    task = AddingProblem()
    a, b = task.sample(8, 20, generator(0, "x")), task.sample(8, 20, generator(0, "x"))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    gen = generator(0, "x")
    first, second = task.sample(8, 20, gen), task.sample(8, 20, gen)
    assert not torch.equal(first[0], second[0])  # fresh batches from one stream
    assert not torch.equal(task.sample(8, 20, generator(1, "x"))[0], a[0])


def test_adding_chance_baseline_is_one_sixth_and_the_data_agree():
    task = AddingProblem()
    assert task.baseline(200)["mse"] == pytest.approx(1 / 6)
    x, y = task.sample(20000, 10, generator(3))
    predict_one = task.finish(task.sums(torch.ones(20000, 1), y))["mse"]
    assert predict_one == pytest.approx(1 / 6, abs=0.005)
    assert task.data_baseline(y)["mse"] == pytest.approx(1 / 6, abs=0.005)
    assert task.data_baseline(y)["mse"] <= predict_one  # the fitted constant is the best constant


# ---- copy memory ------------------------------------------------------------------------------


def test_copy_batch_layout():
    task = CopyMemory()
    T = 5
    x, y = task.sample(3, T, generator(0))
    assert x.shape == (T + 20, 3, 10) and y.shape == (T + 20, 3)
    assert torch.equal(x.sum(-1), torch.ones(T + 20, 3))  # one-hot
    ids = x.argmax(-1)
    symbols = ids[:10]
    assert ((symbols >= 1) & (symbols <= 8)).all()
    assert (ids[10 : T + 9] == 0).all() and (ids[T + 9] == 9).all() and (ids[T + 10 :] == 0).all()
    assert (y[: T + 10] == 0).all() and torch.equal(y[T + 10 :], symbols)


def test_copy_chance_baseline_is_10_ln8_over_T_plus_20():
    task = CopyMemory()
    T = 30
    assert task.baseline(T)["cross_entropy"] == pytest.approx(10 * math.log(8) / (T + 20))
    x, y = task.sample(64, T, generator(0))
    # The memoryless predictor: certain blanks, then uniform over the 8 categories.
    logits = torch.full((T + 20, 64, 9), -1e9)
    logits[: T + 10, :, 0] = 0.0
    logits[T + 10 :, :, 1:] = 0.0
    metrics = task.finish(task.sums(logits, y))
    assert metrics["cross_entropy"] == pytest.approx(task.baseline(T)["cross_entropy"], rel=1e-5)
    assert metrics["symbol_cross_entropy"] == pytest.approx(math.log(8), rel=1e-5)
    _, y_big = task.sample(4000, T, generator(1))
    data = task.data_baseline(y_big)
    assert data["cross_entropy"] == pytest.approx(task.baseline(T)["cross_entropy"], rel=0.01)
    assert data["symbol_accuracy"] == pytest.approx(1 / 8, abs=0.02)


def test_copy_metrics_of_a_perfect_predictor():
    task = CopyMemory()
    _, y = task.sample(16, 7, generator(0))
    logits = torch.nn.functional.one_hot(y, 9).float() * 50
    metrics = task.finish(task.sums(logits, y))
    assert metrics["symbol_accuracy"] == 1.0 and metrics["cross_entropy"] < 1e-6
    assert task.solved(metrics)


def test_make_task_rejects_unknown_names():
    assert make_task("copy").name == "copy"
    with pytest.raises(ConfigError, match="task: expected one of adding, copy, found 'sum'"):
        make_task("sum")


# ---- models and matched sizes -----------------------------------------------------------------


@pytest.mark.parametrize("task_name", ["adding", "copy"])
def test_parameter_counts_are_matched_within_5_percent(task_name):
    task = make_task(task_name)
    sizes = matched_sizes(MODEL_NAMES, task, 128)
    lstm = sizes["lstm"].params
    # LSTM: 4 (H_in H + H^2 + 2H) + readout (H + 1) * out
    assert lstm == 4 * (task.input_size * 128 + 128 * 128 + 2 * 128) + 129 * task.output_size
    for spec in sizes.values():
        assert abs(spec.params / lstm - 1) <= 0.05, spec
        built = build_model(spec, task, 50)
        assert sum(p.numel() for p in built.parameters()) == spec.params
    assert sizes["transformer"].size % 4 == 0


def test_matched_size_is_the_closest():
    task = AddingProblem()
    target = model_size("lstm", 32, task).params
    rnn = matched_sizes(["rnn"], task, 32)["rnn"]
    for other in (rnn.size - 1, rnn.size + 1):
        assert abs(model_size("rnn", other, task).params - target) >= abs(rnn.params - target)


@pytest.mark.parametrize("kind", MODEL_NAMES)
@pytest.mark.parametrize("task_name", ["adding", "copy"])
def test_models_give_the_task_shapes(kind, task_name):
    task = make_task(task_name)
    spec = matched_sizes(MODEL_NAMES, task, 8)[kind]
    model = build_model(spec, task, 6)
    x, y = task.sample(3, 6, generator(0))
    out = model(x)
    assert out.shape == ((3, 1) if task_name == "adding" else (26, 3, 9))
    assert torch.isfinite(task.loss(out, y))


def test_lstm_forget_gate_bias_is_one():
    spec = matched_sizes(["lstm"], AddingProblem(), 8)["lstm"]
    lstm = build_model(spec, AddingProblem()).backbone
    assert torch.equal(lstm.bias_ih_l0[8:16] + lstm.bias_hh_l0[8:16], torch.ones(8))


@pytest.mark.parametrize("task, length, T_max", [(AddingProblem(), 200, 200), (CopyMemory(), 30, 50)])
def test_chrono_forget_bias_spans_the_sequence_length(task, length, T_max):
    spec = matched_sizes(["lstm"], task, 32)["lstm"]
    lstm = initial_model(spec, task, length, seed=0, forget_bias="chrono").backbone
    b_f = lstm.bias_ih_l0[32:64] + lstm.bias_hh_l0[32:64]
    timescales = 1 + torch.exp(b_f)
    assert timescales.min() >= 2 - 1e-4 and T_max / 3 < timescales.max() <= T_max + 1e-3
    same = initial_model(spec, task, length, seed=0, forget_bias="chrono").backbone
    assert torch.equal(same.bias_ih_l0, lstm.bias_ih_l0)  # seeded like the weights
    other = initial_model(spec, task, length, seed=0, forget_bias=2.0).backbone
    assert torch.all(other.bias_ih_l0[32:64] + other.bias_hh_l0[32:64] == 2.0)


def test_forget_bias_parsing():
    assert parse_forget_bias("chrono") == "chrono" and parse_forget_bias(" Chrono ") == "chrono"
    assert parse_forget_bias("2.5") == 2.5 and parse_forget_bias(1) == 1.0
    assert TrainSettings(forget_bias="3").forget_bias == 3.0
    for bad in ("high", "nan", "inf", True, None):
        with pytest.raises(ConfigError, match="--forget-bias: expected a number or 'chrono'"):
            parse_forget_bias(bad)


# ---- settings ---------------------------------------------------------------------------------


def test_budget_needs_exactly_one_positive_limit():
    assert Budget(steps=10).progress(5, 99.0) == 0.5
    assert Budget(minutes=1.0).progress(10**6, 30.0) == 0.5
    assert Budget(steps=10).done(10, 0.0) and not Budget(minutes=1).done(0, 59.0)
    for bad in ({}, {"steps": 5, "minutes": 1.0}, {"steps": 0}, {"minutes": -1.0}, {"minutes": math.inf}, {"steps": 2.5}):
        with pytest.raises(ConfigError):
            Budget(**bad)


def test_curriculum_grows_to_the_full_length_over_half_the_budget():
    settings = TrainSettings(curriculum=True, curriculum_start=50)
    lengths = [settings.train_length(1000, p / 100) for p in range(101)]
    assert lengths[0] == 50 and lengths[50] == 1000 and lengths[-1] == 1000
    assert lengths == sorted(lengths) and all(L % 50 == 0 for L in lengths)
    assert TrainSettings().train_length(1000, 0.0) == 1000  # off by default
    assert settings.train_length(40, 0.0) == 40  # T below the start: no curriculum


def test_learning_rate_schedules_are_the_engines():
    cosine = TrainSettings(learning_rate=1.0, schedule="cosine", warmup=10).lr_schedule()
    assert isinstance(cosine, Cosine) and cosine.floor == 0.1  # decay to lr/10
    cosine.start(1.0, total_steps=40)
    assert cosine.lr(0) == pytest.approx(0.1 * (0.1 + 0.9 * 0.5 * (1 + math.cos(0.0))))  # warm-up step 1 of 10
    assert cosine.lr(20) == pytest.approx(0.55) and cosine.lr(40) == pytest.approx(0.1)
    by_time = TrainSettings(schedule="cosine").lr_schedule()
    by_time.start(1.0, total_steps=None, budget_seconds=60.0)
    assert by_time.lr(10**6, 30.0) == pytest.approx(0.55)  # a minutes budget: progress over time
    warm = TrainSettings(learning_rate=0.5, warmup=4).lr_schedule()  # constant after a warm-up
    warm.start(0.5, total_steps=100)
    assert [warm.lr(t) for t in (0, 3, 99)] == pytest.approx([0.125, 0.5, 0.5])
    assert isinstance(TrainSettings().lr_schedule(), Constant)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "--batch-size"),
        ({"lr": 0.0}, "--lr"),
        ({"clip": -1.0}, "--clip"),
        ({"learning_rate": 0.0}, "--lr"),
        ({"clip_norm": float("inf")}, "--clip"),
        ({"schedule": "linear"}, "--schedule"),
        ({"threads": 0}, "--threads"),
        ({"test_size": 0}, "--test-size"),
    ],
)
def test_settings_reject_bad_values(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TrainSettings(**kwargs)


def test_settings_learning_rate_and_clip_norm_with_lr_and_clip_as_old_names():
    from dataclasses import FrozenInstanceError, asdict

    new = TrainSettings(learning_rate=3e-3, clip_norm=0.5)
    old = TrainSettings(lr=3e-3, clip=0.5)
    assert old == new and (old.learning_rate, old.clip_norm, old.lr, old.clip) == (3e-3, 0.5, 3e-3, 0.5)
    assert {"learning_rate", "clip_norm"} <= set(asdict(new)) and not {"lr", "clip"} & set(asdict(new))
    with pytest.raises(FrozenInstanceError):
        old.lr = 1.0  # frozen, under either name
    for kwargs, name, old_name in [({"lr": 1e-3, "learning_rate": 1e-3}, "learning_rate", "lr"),
                                   ({"clip": 1.0, "clip_norm": 2.0}, "clip_norm", "clip")]:
        with pytest.raises(ConfigError, match=rf"^TrainSettings: {name} given twice \(as {name}= and as its old name "
                                              rf"{old_name}=\); give {name}= only$") as e:
            TrainSettings(**kwargs)
        assert "\n" not in str(e.value)
    # config.json keeps the keys it always had, in the same order, so old results stay comparable
    config = new.as_config()
    assert list(config)[:3] == ["batch_size", "lr", "clip"] and (config["lr"], config["clip"]) == (3e-3, 0.5)
    assert not {"learning_rate", "clip_norm"} & set(config)


def test_list_parsing():
    assert parse_list(" rnn, lstm ", "--models") == ["rnn", "lstm"]
    assert parse_lengths("50,100") == [50, 100]
    with pytest.raises(ConfigError, match="--lengths: expected comma-separated integers, found 'ten'"):
        parse_lengths("10,ten")
    with pytest.raises(ConfigError, match="--models"):
        parse_list("rnn,,lstm", "--models")


# ---- training ---------------------------------------------------------------------------------


def test_evaluation_does_not_depend_on_the_chunk_size():
    task = CopyMemory()
    spec = matched_sizes(["gru"], task, 8)["gru"]
    model = build_model(spec, task, 4)
    x, y = fixed_test_set(task, 4, 10)
    assert evaluate(model, task, x, y, chunk=3) == pytest.approx(evaluate(model, task, x, y, chunk=64))


def test_training_is_deterministic_and_learns_a_short_adding_problem():
    task = AddingProblem()
    spec = matched_sizes(["lstm"], task, 16)["lstm"]
    settings = TrainSettings(batch_size=32, learning_rate=0.01, eval_every=100, test_size=128)
    _, first = train_run(task, spec, 6, Budget(steps=300), settings, seed=0)
    _, again = train_run(task, spec, 6, Budget(steps=300), settings, seed=0)
    assert [p.pop("seconds") >= 0 for p in first.curve + again.curve]
    assert first.curve == again.curve and first.curve[0]["train_loss"] is None
    assert first.steps == 300 and [p["step"] for p in first.curve] == [0, 100, 200, 300]
    assert first.metrics["mse"] < 0.5 * task.baseline(6)["mse"]  # well below chance: it learned
    _, other = train_run(task, spec, 6, Budget(steps=5), settings, seed=1)
    assert other.curve[0] != first.curve[0]  # another seed, other initial weights


def test_training_runs_through_the_engine(tmp_path):
    """The engine's own JSONL log is the artefact: its steps, learning rates and evaluations are the run's."""
    task = CopyMemory()
    spec = matched_sizes(["lstm"], task, 6)["lstm"]
    settings = TrainSettings(batch_size=8, learning_rate=0.01, schedule="cosine", warmup=2, eval_every=3, test_size=8)
    log = tmp_path / "run.jsonl"
    _, result = train_run(task, spec, 4, Budget(steps=6), settings, log_path=log, log_every=1)
    events = read_log(log)
    steps = [e for e in events if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3, 4, 5, 6] and result.steps == 6
    schedule = settings.lr_schedule()  # the engine's Cosine: warm-up, then decay to lr/10 over the 6 steps
    schedule.start(0.01, total_steps=6)
    assert [e["lr"] for e in steps] == pytest.approx([schedule.lr(t) for t in range(6)])
    assert steps[0]["lr"] == pytest.approx(0.005 * (0.1 + 0.9 * 0.5 * (1 + math.cos(0.0))))
    evals = [e for e in events if e["event"] == "eval"]
    assert [e["step"] for e in evals] == [3, 6] == [p["step"] for p in result.curve[1:]]
    assert [e["metrics"]["cross_entropy"] for e in evals] == pytest.approx([p["cross_entropy"] for p in result.curve[1:]])
    # the curve's training loss is the mean of the engine's step losses since the previous evaluation
    assert result.curve[2]["train_loss"] == pytest.approx(sum(e["loss"] for e in steps[3:]) / 3)
    assert result.precision == "fp32" and result.train_seconds == pytest.approx(steps[-1]["elapsed"], abs=0.05)


def test_training_batches_come_in_order_and_shard_the_global_batch():
    task = AddingProblem()
    settings = TrainSettings(batch_size=5)

    def source():
        return training_batches(task, 6, settings, seed=3, progress=lambda: 0.0)

    assert source().num_batches(0) is None  # endless: the budget ends the run
    x, y = source().batch(0, 0)
    parts = [source().batch(0, 0, rank, 2) for rank in (0, 1)]
    assert [p[0].shape[1] for p in parts] == [3, 2]
    assert torch.equal(torch.cat([p[0] for p in parts], dim=1), x) and torch.equal(torch.cat([p[1] for p in parts]), y)
    assert source().batch(0, 0, 5, 6) is None  # a process whose shard is empty
    in_order = source()
    in_order.batch(0, 0)
    with pytest.raises(ConfigError, match="asked for batch 5, next is 1"):
        in_order.batch(0, 5)


@pytest.mark.skipif(bf16_available("cpu"), reason="this CPU has bfloat16 units")
def test_bf16_without_bf16_units_is_refused_before_training():
    with pytest.raises(ConfigError) as info:
        TrainSettings(precision="bf16")
    message = str(info.value)
    assert message.startswith("--precision 'bf16': this CPU has no bfloat16 matrix units") and "\n" not in message


def test_precision_spellings():
    assert TrainSettings(precision="FP32").precision == "fp32" and TrainSettings(precision="auto").precision == "auto"
    with pytest.raises(ConfigError, match="--precision: expected 'fp32', 'bf16' or 'auto', found 'fp16'"):
        TrainSettings(precision="fp16")


def test_a_minutes_budget_stops():
    task = AddingProblem()
    spec = matched_sizes(["rnn"], task, 4)["rnn"]
    _, result = train_run(task, spec, 4, Budget(minutes=0.002), TINY)
    assert result.steps >= 1 and result.train_seconds >= 0.12


def test_benchmark_checks_its_arguments(tmp_path):
    budget = Budget(steps=1)
    with pytest.raises(ConfigError, match="--models: expected names among rnn, gru, lstm, transformer, found 'lstm2'"):
        LongRangeBenchmark("adding", [10], ["lstm2"], budget)
    with pytest.raises(ConfigError, match="--lengths: expected integers >= 2 for the adding task, found 1"):
        LongRangeBenchmark("adding", [1], ["lstm"], budget)
    with pytest.raises(ConfigError, match="--lengths: expected integers >= 1 for the copy task, found 0"):
        LongRangeBenchmark("copy", [0], ["lstm"], budget)
    with pytest.raises(ConfigError, match="each model at most once"):
        LongRangeBenchmark("copy", [5], ["lstm", "lstm"], budget)
    blocked = tmp_path / "file"
    blocked.write_text("x")
    with pytest.raises(ConfigError, match="--out: expected a folder"):
        LongRangeBenchmark("copy", [5], ["lstm"], budget).run(blocked, echo=lambda s: None)


def test_benchmark_writes_tables_and_plots(tmp_path):
    lines = []
    bench = LongRangeBenchmark("copy", [4, 2], ["rnn", "lstm"], Budget(steps=3), TINY, lstm_hidden=6, command="lstmkit bench x")
    results = bench.run(tmp_path, echo=lines.append)
    assert [(r.model, r.length) for r in results] == [("rnn", 2), ("lstm", 2), ("rnn", 4), ("lstm", 4)]
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["model"], r["length"]) for r in rows] == [("rnn", "2"), ("lstm", "2"), ("rnn", "4"), ("lstm", "4")]
    assert {"params", "cross_entropy", "symbol_accuracy", "chance_cross_entropy", "chance_data_cross_entropy", "budget"} <= set(rows[0])
    assert float(rows[0]["chance_cross_entropy"]) == pytest.approx(10 * math.log(8) / 22)
    md = (tmp_path / "results.md").read_text()
    assert "Budget per (model, length): 3 steps" in md and "`lstmkit bench x`" in md
    assert "batch 16, Adam lr 0.001 (constant schedule, warm-up 0 steps), gradient-norm clipping 1, " in md
    stored = json.loads((Path(__file__).parents[2] / "docs/results/longrange-adding/config.json").read_text())
    settings = json.loads((tmp_path / "config.json").read_text())["settings"]
    assert list(stored["settings"]) == [k for k in settings if k in stored["settings"]]  # the same keys, same order
    assert (settings["lr"], settings["clip"]) == (TINY.learning_rate, TINY.clip_norm)
    for name in ("results.png", "curves.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any("chance baseline cross_entropy" in line for line in lines)
