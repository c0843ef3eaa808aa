"""Gradient flow: ||dL/dx_t|| against distance from the loss, and the benchmark's files."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from lstmkit.errors import ConfigError
from lstmkit.bench.gradient_flow import GradientFlowBenchmark, input_gradient_norms
from lstmkit.bench.longrange import MODEL_NAMES, AddingProblem, Budget, TrainSettings, build_model, generator, matched_sizes

TASK = AddingProblem()


def _model(kind: str, hidden: int = 8, length: int = 12):
    spec = matched_sizes(MODEL_NAMES, TASK, hidden)[kind]
    return build_model(spec, TASK, length)


def test_norms_are_per_sequence_gradients_indexed_by_distance():
    model = _model("lstm")
    x, y = TASK.sample(5, 12, generator(0))
    g = input_gradient_norms(model, x, y)
    assert g.shape == (12,) and g.dtype == np.float64 and (g > 0).all()
    # Recompute by hand, one sequence at a time, in float64.
    probe = model.double()
    per_sequence = []
    for n in range(5):
        xn = x[:, n : n + 1].double().requires_grad_(True)
        loss = TASK.loss(probe(xn), y[n : n + 1].double())
        (grad,) = torch.autograd.grad(loss, xn)
        per_sequence.append(grad[:, 0].norm(dim=1))
    expected = torch.stack(per_sequence).mean(0).flip(0).numpy()
    np.testing.assert_allclose(g, expected, rtol=1e-9)


def test_measurement_leaves_the_model_alone():
    model = _model("gru")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = TASK.sample(4, 12, generator(0))
    input_gradient_norms(model, x, y)
    assert all(torch.equal(before[k], v) and v.dtype == torch.float32 for k, v in model.state_dict().items())
    assert model.training and all(p.grad is None for p in model.parameters())


def test_without_recurrence_only_the_last_input_gets_gradient():
    model = _model("rnn")
    with torch.no_grad():
        model.backbone.weight_hh_l0.zero_()
    x, y = TASK.sample(4, 12, generator(0))
    g = input_gradient_norms(model, x, y)
    assert g[0] > 0 and (g[1:] == 0).all()


def test_a_simple_rnn_at_init_loses_its_gradient_geometrically():
    model = _model("rnn", hidden=32, length=60)
    x, y = TASK.sample(16, 60, generator(0))
    g = input_gradient_norms(model, x, y)
    assert g[-1] < 1e-6 * g[0]  # far below what float32 could show relative to g(0) at this length
    assert g[-1] > 0  # float64 resolves it instead of rounding to zero


def test_benchmark_writes_csv_markdown_and_png(tmp_path):
    lines = []
    bench = GradientFlowBenchmark(
        models=["rnn", "lstm"], length=8, budget=Budget(steps=3), settings=TrainSettings(batch_size=8, eval_every=5, test_size=16),
        lstm_hidden=6, probe_size=4,
    )  # fmt: skip
    flows = bench.run(tmp_path, echo=lines.append)
    assert [f.model for f in flows] == ["rnn", "lstm"] and all(f.steps == 3 for f in flows)
    with open(tmp_path / "gradients.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 2 * 8
    assert {(r["model"], r["stage"]) for r in rows} == {(m, s) for m in ("rnn", "lstm") for s in ("init", "trained")}
    assert [int(r["distance"]) for r in rows[:8]] == list(range(8))
    assert (tmp_path / "gradients.png").read_bytes()[:4] == b"\x89PNG"
    md = (tmp_path / "gradients.md").read_text()
    assert "| lstm |" in md and "3 steps" in md
    assert any("ratio" in line for line in lines)
    # Training changed the weights, so the two curves differ.
    assert not np.array_equal(flows[1].norms["init"], flows[1].norms["trained"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"models": ["lstm", "cnn"]}, "found 'cnn'"),
        ({"models": []}, "--models: expected at least one"),
        ({"length": 0}, "--length: expected integers >= 2"),
        ({"probe_size": 0}, "--probe-size"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        GradientFlowBenchmark(**kwargs)
