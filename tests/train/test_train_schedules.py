"""Each schedule's values, its state round trip, and early stopping's monitor rules."""

from __future__ import annotations

import math

import pytest

from lstmkit.errors import ConfigError
from lstmkit.train import Constant, Cosine, EarlyStopping, Monitor, ReduceOnPlateau, StepDecay, make_schedule


def test_constant():
    s = Constant()
    s.start(0.01, total_steps=10)
    assert [s.lr(t) for t in (0, 5, 10)] == [0.01, 0.01, 0.01]


def test_cosine_over_steps_with_floor():
    s = Cosine(floor=0.1)
    s.start(1.0, total_steps=100)
    assert s.lr(0) == pytest.approx(1.0)
    assert s.lr(50) == pytest.approx(0.1 + 0.9 * 0.5)
    assert s.lr(100) == pytest.approx(0.1)
    assert s.lr(500) == pytest.approx(0.1)  # clamped past the end


def test_cosine_zero_floor_is_the_forecasters_formula():
    s = Cosine()
    s.start(2e-3, total_steps=40)
    for t in (0, 7, 39):
        assert s.lr(t) == pytest.approx(2e-3 * 0.5 * (1 + math.cos(math.pi * t / 40)))


def test_cosine_warmup_multiplies_like_longrange():
    s = Cosine(warmup_steps=10, floor=0.1)
    s.start(3e-3, total_steps=1000)
    for t in (0, 4, 9, 10, 500):
        expected = 3e-3 * min(1.0, (t + 1) / 10) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t / 1000)))
        assert s.lr(t) == pytest.approx(expected)


def test_cosine_over_time_is_the_language_models_formula():
    s = Cosine(floor=0.05, over="auto")
    s.start(2e-3, total_steps=None, budget_seconds=300.0)
    for sec in (0.0, 150.0, 300.0, 999.0):
        frac = min(1.0, sec / 300.0)
        assert s.lr(step=123, elapsed=sec) == pytest.approx(2e-3 * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac))))


def test_cosine_needs_a_budget():
    with pytest.raises(ConfigError, match="over time: the run has no time budget"):
        Cosine(over="time").start(1.0, total_steps=10)
    with pytest.raises(ConfigError, match="no step count"):
        Cosine(over="steps").start(1.0, total_steps=None, budget_seconds=60)


def test_plateau_factor_patience_min_delta_and_state():
    s = ReduceOnPlateau(monitor="val_loss", factor=0.5, patience=2, min_delta=0.01)
    s.start(1.0)
    values = [1.0, 0.995, 0.99, 0.5, 0.6, 0.6, 0.6, 0.6]
    lrs = []
    for v in values:
        s.on_eval({"val_loss": v})
        lrs.append(s.lr(0))
    # 1.0 best; 0.995 and 0.99 gain < min_delta -> 2 waits -> halve; 0.5 improves; then 2 waits -> halve, 2 more -> halve
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.125]
    state = s.state_dict()
    t = ReduceOnPlateau(monitor="val_loss", factor=0.5, patience=2, min_delta=0.01)
    t.start(1.0)
    t.load_state_dict(state)
    assert t.lr(0) == 0.125 and t.wait == s.wait and t.monitor.best == s.monitor.best


def test_plateau_patience_one_is_the_language_models_rule_and_min_lr():
    s = ReduceOnPlateau(factor=0.25, patience=1, min_delta=1e-4, min_lr=0.1)
    s.start(1.0)
    for v, lr in ((2.0, 1.0), (1.9, 1.0), (1.95, 0.25), (1.99, 0.1)):
        s.on_eval({"val_loss": v})
        assert s.lr(0) == pytest.approx(lr)


def test_plateau_mode_max_and_missing_monitor():
    s = ReduceOnPlateau(monitor="val_accuracy", factor=0.5)
    s.start(1.0)
    s.on_eval({"val_accuracy": 0.5})
    s.on_eval({"val_accuracy": 0.4})
    assert s.lr(0) == 0.5
    with pytest.raises(ConfigError, match="watches 'val_accuracy', which this run does not log"):
        s.on_eval({"loss": 1.0})


def test_step_decay():
    s = StepDecay(factor=0.5, start_epoch=4)
    s.start(1.0)
    lrs = []
    for done in range(0, 7):
        if done:
            s.on_epoch_end(done, {})
        lrs.append(s.lr(0))
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.25, 0.125]
    z = StepDecay(factor=0.5, start_epoch=0)
    z.start(1.0)
    assert z.lr(0) == 1.0
    z.on_epoch_end(1, {})
    assert z.lr(0) == 0.5


def test_make_schedule_names_and_errors():
    assert isinstance(make_schedule("cosine", floor=0.1), Cosine)
    assert isinstance(make_schedule("reduce_on_plateau"), ReduceOnPlateau)
    assert isinstance(make_schedule(None), Constant)
    with pytest.raises(ConfigError, match="schedule: expected one of constant, cosine, plateau, step, found 'linear'"):
        make_schedule("linear")
    with pytest.raises(ConfigError, match="factor: expected a number in"):
        StepDecay(factor=0)
    with pytest.raises(ConfigError, match="schedule 'cosine'"):
        make_schedule("cosine", bogus=1)


def test_monitor_tie_break_and_nan():
    m = Monitor(("val_accuracy", "val_loss"))
    assert m.modes == ["max", "min"]
    assert m.update({"val_accuracy": 0.5, "val_loss": 1.0})
    assert m.update({"val_accuracy": 0.5, "val_loss": 0.9})  # same accuracy, lower loss
    assert not m.update({"val_accuracy": 0.5, "val_loss": 0.95})
    assert not m.update({"val_accuracy": float("nan"), "val_loss": 0.1})
    assert m.update({"val_accuracy": 0.6, "val_loss": 2.0})


def test_early_stopping_errors():
    with pytest.raises(ConfigError, match="patience: expected an integer >= 1, found 0"):
        EarlyStopping(patience=0)
    with pytest.raises(ConfigError, match="mode: expected 'auto', 'min' or 'max', found 'up'"):
        EarlyStopping(mode="up")
