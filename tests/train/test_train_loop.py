"""The loop: budgets, gradient accumulation, clipping, truncated BPTT carry, metrics, hooks, early stopping, log."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from lstmkit.errors import ConfigError, DataError
from lstmkit.train import (EarlyStopping, FunctionBatches, Hooks, StepOutput, TensorBatches, TrainConfig, Trainer,
                           read_log)
from train_helpers import (TinyLM, bptt_batches, evaluate_on, lm_step, make_batches, mlp, mse_step,
                           regression_data, token_streams, weights)


def _sgd(model, lr=0.1):
    return torch.optim.SGD(model.parameters(), lr=lr)


def test_epochs_history_and_metrics_are_weighted_means():
    x, y = regression_data(90)
    model = mlp(dropout=0.0)
    losses = []
    result = Trainer(model, _sgd(model), mse_step, make_batches(x, y, 32, shuffle=False), epochs=1,
                     on_step=lambda s: losses.append((float(s.loss), s.batch))).fit()
    assert result.steps == 3 and result.stop_reason == "epochs" and result.epochs_completed == 1
    # batches of 32, 32, 26: the epoch loss is the sample-weighted mean of the step losses
    sizes = [32, 32, 26]
    assert result.history[0]["loss"] == pytest.approx(sum(l * n for (l, _), n in zip(losses, sizes)) / 90, rel=1e-6)
    assert [b for _, b in losses] == [1, 2, 3]
    assert "mae" in result.history[0] and result.final_logs["loss"] == result.history[0]["loss"]


def test_max_steps_and_endless_source():
    x, y = regression_data()
    model = mlp()
    endless = FunctionBatches(lambda e, i, r, w: (x[(i * 8) % 96:(i * 8) % 96 + 8], y[(i * 8) % 96:(i * 8) % 96 + 8]), None)
    result = Trainer(model, _sgd(model), mse_step, endless, epochs=None, max_steps=7).fit()
    assert result.steps == 7 and result.stop_reason == "max_steps" and result.epochs_completed == 0
    with pytest.raises(ConfigError, match="endless"):
        Trainer(model, _sgd(model), mse_step, endless, epochs=3).fit()


def test_minutes_budget_ends_the_run():
    x, y = regression_data()
    model = mlp()
    result = Trainer(model, _sgd(model), mse_step, make_batches(x, y), epochs=None, minutes=1e-9).fit()
    assert result.stop_reason == "time" and result.steps == 1


def test_grad_accumulation_equals_the_big_batch():
    x, y = regression_data(96)
    a, b = mlp(dropout=0.0), mlp(dropout=0.0)
    Trainer(a, _sgd(a), mse_step, make_batches(x, y, 8, shuffle=False), epochs=2, grad_accum=4).fit()
    Trainer(b, _sgd(b), mse_step, make_batches(x, y, 32, shuffle=False), epochs=2).fit()
    for k, v in weights(a).items():
        torch.testing.assert_close(v, weights(b)[k], rtol=1e-5, atol=1e-6)


def test_grad_accumulation_with_uneven_micro_batches_weights_by_samples():
    x, y = regression_data(40)  # micro-batches 16, 16, 8 -> one step of all 40 with grad_accum=3
    a, b = mlp(dropout=0.0), mlp(dropout=0.0)
    Trainer(a, _sgd(a), mse_step, make_batches(x, y, 16, shuffle=False), epochs=1, grad_accum=3).fit()
    Trainer(b, _sgd(b), mse_step, make_batches(x, y, 40, shuffle=False), epochs=1).fit()
    for k, v in weights(a).items():
        torch.testing.assert_close(v, weights(b)[k], rtol=1e-5, atol=1e-6)


def test_clipping_by_global_norm():
    x, y = regression_data(32)
    y = y * 100  # big gradients
    model = mlp(dropout=0.0)
    ref = mlp(dropout=0.0)
    norms = []
    Trainer(model, _sgd(model, 0.01), mse_step, make_batches(x, y, 32, shuffle=False), epochs=1, clip_norm=0.5,
            on_step=lambda s: norms.append(float(s.grad_norm))).fit()
    # by hand: one SGD step with the gradient scaled to norm 0.5
    loss = F.mse_loss(ref(x), y)
    loss.backward()
    total = torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.5)
    with torch.no_grad():
        for p in ref.parameters():
            p -= 0.01 * p.grad
    assert norms[0] == pytest.approx(float(total)) and norms[0] > 0.5
    for k, v in weights(model).items():
        torch.testing.assert_close(v, weights(ref)[k])


def test_tbptt_carry_is_detached_passed_on_and_reset_each_epoch():
    streams = token_streams(length=61)
    model = TinyLM(dropout=0.0)
    seen = []

    def step(model, batch, carry):
        seen.append(None if carry is None else (carry[0].requires_grad, carry[0].grad_fn is None, carry[0].clone()))
        return lm_step(model, batch, carry)

    out = Trainer(model, torch.optim.Adam(model.parameters(), 1e-2), step, bptt_batches(streams, 20), epochs=2).fit()
    assert out.steps == 6
    assert seen[0] is None and seen[3] is None  # reset at each epoch (init_carry default: None)
    for s in (seen[1], seen[2], seen[4], seen[5]):
        assert s[0] is False and s[1] is True and s[2].abs().sum() > 0
    # the same as a hand-written TBPTT loop
    ref = TinyLM(dropout=0.0)
    opt = torch.optim.Adam(ref.parameters(), 1e-2)
    batches = bptt_batches(streams, 20)
    for epoch in range(2):
        hidden = None
        for i in range(3):
            x, y = batches.batch(epoch, i)
            logits, hidden = ref(x, hidden)
            hidden = tuple(h.detach() for h in hidden)
            loss = F.cross_entropy(logits.reshape(-1, 11), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
    for k, v in weights(model).items():
        torch.testing.assert_close(v, weights(ref)[k], rtol=0, atol=0)


def test_init_carry_is_called_per_epoch():
    streams = token_streams(length=41)
    model = TinyLM(dropout=0.0)
    calls = []

    def init(epoch):
        calls.append(epoch)
        return (torch.zeros(1, 4, 16), torch.zeros(1, 4, 16))

    Trainer(model, _sgd(model), lm_step, bptt_batches(streams, 20), epochs=3, init_carry=init).fit()
    assert calls == [0, 1, 2]


def test_early_stopping_restores_the_best_weights():
    x, y = regression_data()
    model = mlp(dropout=0.0)
    scores = iter([1.0, 0.5, 0.7, 0.8, 0.9, 0.4])
    snapshots = {}
    result = Trainer(
        model, _sgd(model), mse_step, make_batches(x, y), epochs=6, evaluate=lambda m: {"val_loss": next(scores)},
        early_stopping=EarlyStopping("val_loss", patience=2),
        on_epoch_end=lambda s, logs: snapshots.__setitem__(s.epoch + 1, weights(s.model)),
    ).fit()
    assert result.stop_reason == "early_stopping" and result.epochs_completed == 4
    assert result.best == {"val_loss": 0.5} and result.best_epoch == 2
    for k, v in weights(model).items():
        assert torch.equal(v, snapshots[2][k])
    assert result.metric("val_loss") == [1.0, 0.5, 0.7, 0.8]


def test_plateau_schedule_in_the_loop_and_lr_in_history():
    x, y = regression_data()
    model = mlp(dropout=0.0)
    scores = iter([1.0, 1.0, 0.5, 0.6])
    result = Trainer(model, _sgd(model, 0.2), mse_step, make_batches(x, y), epochs=4, schedule="plateau",
                     evaluate=lambda m: {"val_loss": next(scores)}).fit()
    # lr used during each epoch: the reduction after epoch 2 applies from epoch 3
    assert [h["lr"] for h in result.history] == pytest.approx([0.2, 0.2, 0.1, 0.1])
    assert model and result.history[-1]["val_loss"] == 0.6


def test_learning_rate_and_alias_and_param_group_ratio():
    model = mlp()
    opt = torch.optim.SGD([{"params": model[0].parameters(), "lr": 1.0},
                           {"params": model[3].parameters(), "lr": 0.5}], lr=1.0)
    x, y = regression_data(16)
    cfg = TrainConfig.from_dict({"lr": 0.1, "clip": 1.0, "epochs": 1})
    assert cfg.learning_rate == 0.1 and cfg.clip_norm == 1.0
    Trainer(model, opt, mse_step, make_batches(x, y), cfg).fit()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.1, 0.05])


def test_hooks_order_and_stop_at_epoch_end():
    x, y = regression_data(32)
    events = []

    class Recorder(Hooks):
        def on_train_begin(self, s): events.append("train_begin")
        def on_epoch_begin(self, s): events.append(f"epoch_begin {s.epoch}")
        def on_step_begin(self, s): events.append(f"step_begin {s.step}")
        def on_step(self, s): events.append(f"step {s.step}")
        def on_eval(self, s, m): events.append(f"eval {m['val_loss']:.0f}")
        def on_epoch_end(self, s, logs):
            events.append(f"epoch_end {s.epoch}")
            logs["custom"] = 7.0
            return s.epoch == 1
        def on_train_end(self, s): events.append("train_end")

    model = mlp()
    result = Trainer(model, _sgd(model), mse_step, make_batches(x, y, 16), epochs=5, hooks=Recorder(),
                     evaluate=lambda m: {"val_loss": 3.0}).fit()
    assert events == ["train_begin", "epoch_begin 0", "step_begin 0", "step 1", "step_begin 1", "step 2", "eval 3",
                      "epoch_end 0", "epoch_begin 1", "step_begin 2", "step 3", "step_begin 3", "step 4", "eval 3",
                      "epoch_end 1", "train_end"]
    assert result.stop_reason == "hook" and not result.interrupted and result.history[0]["custom"] == 7.0


def test_eval_every_and_jsonl_log(tmp_path):
    x, y = regression_data(64)
    model = mlp()
    log = tmp_path / "metrics.jsonl"
    result = Trainer(model, _sgd(model), mse_step, make_batches(x, y, 16), epochs=2, evaluate=evaluate_on(x, y),
                     eval_every=3, log_path=log, log_every=2).fit()
    events = read_log(log)
    kinds = [(e["event"], e["step"]) for e in events]
    assert kinds == [("step", 2), ("eval", 3), ("step", 4), ("epoch", 4), ("step", 6), ("eval", 6), ("step", 8),
                     ("epoch", 8)]
    for e in events:
        assert set(e) == {"event", "epoch", "step", "loss", "lr", "metrics", "elapsed"}
        assert math.isfinite(e["loss"]) and e["lr"] == 0.1
    assert "val_loss" in events[3]["metrics"] and "mae" in events[0]["metrics"]
    assert [ev["step"] for ev in result.evals] == [3, 4, 6, 8]
    with open(log) as f:
        assert all(json.loads(line) for line in f)


def test_verbose_two_prints_a_line_per_epoch(capsys):
    x, y = regression_data(32)
    model = mlp()
    Trainer(model, _sgd(model), mse_step, make_batches(x, y, 16), epochs=2, verbose=2).fit()
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out and "mae:" in out


def test_bad_settings_fail_before_training():
    x, y = regression_data(32)
    model = mlp()
    before = weights(model)
    cases = [
        (dict(epochs=0), "epochs: expected an integer >= 1 or None, found 0"),
        (dict(epochs=None), "budget: give epochs, max_steps or minutes"),
        (dict(grad_accum=0), "grad_accum: expected an integer >= 1, found 0"),
        (dict(clip_norm=-1.0), "clip_norm: expected a positive number or None, found -1.0"),
        (dict(verbose=3), "verbose: expected 0, 1 or 2, found 3"),
        (dict(resume=True), "resume: needs checkpoint="),
        (dict(precision="fp16"), "precision: expected 'fp32', 'bf16' or 'auto', found 'fp16'"),
        (dict(schedule="linear"), "schedule: expected one of"),
        (dict(bogus=1), "train option 'bogus': unknown"),
        (dict(early_stopping=EarlyStopping("val_loss")), "no evaluate function"),
    ]
    for options, message in cases:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
            Trainer(model, _sgd(model), mse_step, make_batches(x, y), **options).fit()
    assert all(torch.equal(v, before[k]) for k, v in weights(model).items())
    with pytest.raises(ConfigError, match="batches: expected a batch source"):
        Trainer(model, _sgd(model), mse_step, [(x, y)])
    with pytest.raises(DataError, match="same first dimension"):
        TensorBatches(x, y[:5])
    with pytest.raises(ConfigError, match="step_fn: expected a loss tensor or a StepOutput"):
        Trainer(model, _sgd(model), lambda m, b, c: 1.0, make_batches(x, y)).fit()


def test_tensor_batches_shuffle_is_seeded_by_seed_and_epoch():
    x = torch.arange(20).float()[:, None]
    b = TensorBatches(x, batch_size=5, seed=3)
    e0 = torch.cat([b.batch(0, i) for i in range(4)]).flatten()
    again = torch.cat([TensorBatches(x, batch_size=5, seed=3).batch(0, i) for i in range(4)]).flatten()
    e1 = torch.cat([b.batch(1, i) for i in range(4)]).flatten()
    assert torch.equal(e0, again) and not torch.equal(e0, e1)
    assert sorted(e0.tolist()) == list(range(20))
    # shards of a global batch together are the batch
    whole = b.batch(1, 2)
    parts = [b.batch(1, 2, rank=r, world=3) for r in range(3)]
    assert torch.equal(torch.cat(parts), whole)
    assert TensorBatches(x[:4], batch_size=5).batch(0, 0, rank=4, world=5) is None
