r"""Gradient flow through time: ``||dL/dx_t||`` against the distance from the loss.

On the adding problem (:class:`lstmkit.bench.longrange.AddingProblem`) the loss is computed once,
after the last step ``T - 1``, so the gradient that reaches input ``x_t`` has travelled
``d = T - 1 - t`` steps back through the recurrence. For a simple RNN it is a product of ``d``
factors ``W_hh^T diag(1 - h^2)`` and shrinks geometrically with ``d`` (the vanishing gradient); the
LSTM's additive cell path scales it by the forget gates instead, which training can hold open.

For each model (matched parameter counts, :func:`lstmkit.bench.longrange.matched_sizes`) this
measures, at initialisation and again after training on the adding problem at the same length::

    g(d) = mean over sequences n of || dL_n / dx_{n, T-1-d} ||_2        (d = 0 .. T-1)

where ``L_n`` is sequence ``n``'s own squared error (so ``g`` does not depend on the batch size)
and the norm runs over the 2 input channels. The measurement is made on a float64 copy of the
model, so gradients down to ~1e-300 are resolved instead of underflowing to zero as float32 would
below ~1e-45; training itself goes through the engine (:func:`lstmkit.bench.longrange.train_run`,
which runs :class:`lstmkit.train.Trainer`) exactly as in ``lstmkit bench longrange``, in the
precision and the number of processes it is given; the files go through :mod:`lstmkit.bench.report`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.bench.longrange import (
    BACKEND,
    AddingProblem,
    Budget,
    Echo,
    ModelSize,
    TrainSettings,
    check_lengths,
    check_models,
    describe_forget_bias,
    describe_run,
    generator,
    initial_model,
    matched_sizes,
    train_run,
)
from lstmkit.bench.report import MODEL_STYLE, Report, environment, markdown_header, markdown_table, pyplot
from lstmkit.util.checks import check_int

STAGES = ("init", "trained")
FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # ~1.2e-38: below it float32 loses precision, then flushes to 0
DEFAULT_MODELS = ("rnn", "gru", "lstm")
OUTPUT_FILES = ("gradients.csv", "gradients.md", "gradients.png")


def input_gradient_norms(model: nn.Module, x: Tensor, y: Tensor, task: AddingProblem | None = None) -> np.ndarray:
    """``g[d]`` for ``d = 0 .. L-1``: the mean over sequences of ``||dL_n/dx_{L-1-d}||`` (float64)."""
    task = task or AddingProblem()
    probe = copy.deepcopy(model).to(torch.float64).eval()
    inputs = x.detach().to(torch.float64).requires_grad_(True)
    loss = task.loss(probe(inputs), y.to(torch.float64), reduction="sum")  # sum of per-sequence losses
    (grad,) = torch.autograd.grad(loss, inputs)  # (L, N, C)
    per_step = grad.norm(dim=2).mean(dim=1)  # (L,)
    return per_step.flip(0).numpy()  # index = distance from the loss


@dataclass
class GradientFlow:
    """One model's gradient norms at initialisation and after training, and its test MSE at each."""

    model: str
    spec: ModelSize
    norms: dict[str, np.ndarray]
    mse: dict[str, float]
    steps: int
    train_seconds: float

    def decay(self, stage: str) -> float:
        """``g(T-1) / g(0)``: how much of the gradient survives the whole sequence."""
        g = self.norms[stage]
        return float(g[-1] / g[0]) if g[0] > 0 else math.nan


@dataclass
class GradientFlowBenchmark:
    """``lstmkit bench gradients``: gradient norms against distance, at init and after training."""

    models: Sequence[str] = DEFAULT_MODELS
    length: int = 200
    budget: Budget = field(default_factory=lambda: Budget(steps=1000))
    settings: TrainSettings = field(default_factory=TrainSettings)
    seed: int = 0
    lstm_hidden: int = 128
    probe_size: int = 256
    command: str = ""

    def __post_init__(self) -> None:
        self._task = AddingProblem()
        self.models = check_models(self.models)
        (self.length,) = check_lengths([self.length], self._task, option="--length")
        self.lstm_hidden = check_int("--hidden", self.lstm_hidden, 1)
        self.probe_size = check_int("--probe-size", self.probe_size, 1)
        self.seed = check_int("--seed", self.seed, 0)
        from lstmkit.bench.longrange import check_hidden_fits

        check_hidden_fits(self._task, self.lstm_hidden, max(self.settings.batch_size, self.probe_size), [self.length])

    def run(self, out: str | Path, echo: Echo = print) -> list[GradientFlow]:
        """Measure, train and measure again, model by model; the files in ``out`` are rewritten after each model.

        Under ``torchrun`` every process trains its shard of each batch; only rank 0 prints and writes.
        """
        from lstmkit.train import distributed

        distributed.init_from_env(backend=BACKEND)
        report = Report(out)
        echo = report.echo(echo)
        task, T = self._task, self.length
        sizes = matched_sizes(self.models, task, self.lstm_hidden)
        x, y = task.sample(self.probe_size, T, generator(self.seed, "gradient-probe", T))
        echo(f"adding problem, T={T}: gradient norms on {self.probe_size} sequences (float64), at init and after "
             f"{self.budget.describe()} of training (batch {self.settings.batch_size}, "
             f"Adam lr {self.settings.learning_rate:g}, clip {self.settings.clip_norm:g}, "
             f"{self.settings.threads} thread(s), seed {self.seed}, "
             f"{describe_forget_bias(self.settings.forget_bias)}{describe_run(self.settings)})")  # fmt: skip
        flows = []
        for kind in self.models:
            spec = sizes[kind]
            echo(f"{kind}: {spec.params} parameters ({spec.describe()})")
            model = initial_model(spec, task, T, self.seed, self.settings.forget_bias)
            at_init = input_gradient_norms(model, x, y, task)
            model, result = train_run(task, spec, T, self.budget, self.settings, self.seed, echo=echo, model=model)
            norms = {"init": at_init, "trained": input_gradient_norms(model, x, y, task)}
            flow = GradientFlow(kind, spec, norms, {"init": result.curve[0]["mse"], "trained": result.metrics["mse"]},
                                result.steps, result.train_seconds)  # fmt: skip
            for stage in STAGES:
                echo(f"  {kind} {stage:<7} ||dL/dx|| at distance 0: {norms[stage][0]:.3e}, at {T - 1}: "
                     f"{norms[stage][-1]:.3e} (ratio {flow.decay(stage):.3e}); test MSE {flow.mse[stage]:.4f}")  # fmt: skip
            flows.append(flow)
            self.write(report, flows, sizes)
        echo(f"wrote {report.names(OUTPUT_FILES)}")
        return flows

    def write(self, report: Report, flows: list[GradientFlow], sizes: dict[str, ModelSize]) -> None:
        if not report.active:
            return
        rows = [
            {"model": f.model, "stage": stage, "distance": d, "grad_norm": float(g)}
            for f in flows for stage in STAGES for d, g in enumerate(f.norms[stage])
        ]  # fmt: skip
        report.csv("gradients.csv", rows)
        report.text("gradients.md", self.markdown(flows))
        report.figure("gradients.png", plot_gradients(flows, self.length, self.budget))
        config = {
            "command": self.command, "models": list(self.models), "length": self.length, "budget": asdict(self.budget),
            "settings": self.settings.as_config(), "seed": self.seed, "lstm_hidden": self.lstm_hidden,
            "probe_size": self.probe_size, "sizes": {k: asdict(v) for k, v in sizes.items()}, "environment": environment(),
        }  # fmt: skip
        report.json("config.json", config)

    def markdown(self, flows: list[GradientFlow]) -> str:
        T, st = self.length, self.settings
        lines = [
            *markdown_header(f"Gradient flow on the adding problem, T = {T}", self.command),
            f"`g(d)` = mean over {self.probe_size} sequences of `||dL/dx_t||` at distance `d = T-1-t` from the loss "
            f"(float64). Training: {self.budget.describe()} per model, batch {st.batch_size}, "
            f"Adam lr {st.learning_rate:g}, clipping {st.clip_norm:g}, {st.threads} thread(s), seed {self.seed}, "
            f"{describe_forget_bias(st.forget_bias)}"
            f"{describe_run(st)}.",
            "",
            *markdown_table(
                ["model", "parameters", "stage", "g(0)", f"g({T - 1})", f"g({T - 1}) / g(0)", "test MSE", "steps", "train s"],
                "lrlrrrrrr",
                ([f.model, f.spec.params, stage, f"{f.norms[stage][0]:.3e}", f"{f.norms[stage][-1]:.3e}",
                  f"{f.decay(stage):.3e}", f"{f.mse[stage]:.4f}", f.steps if stage == "trained" else 0,
                  f"{f.train_seconds:.0f}" if stage == "trained" else "0"] for f in flows for stage in STAGES),
            ),
        ]  # fmt: skip
        lines += ["", "Plot: `gradients.png`; every value: `gradients.csv`. Chance MSE: 0.1667.", ""]
        return "\n".join(lines)


def plot_gradients(flows: list[GradientFlow], length: int, budget: Budget):
    """The figure of ``gradients.png``: two panels (at init, after training), ``g(d)`` on a log scale against distance ``d``."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12.0, 4.6), sharey=True)
    titles = {"init": "at initialisation", "trained": f"after training ({budget.describe()})"}
    for ax, stage in zip(axes, STAGES):
        for f in flows:
            g = f.norms[stage]
            distance = np.arange(len(g))
            shown = g > 0  # a log axis cannot show exact zeros
            color, _ = MODEL_STYLE.get(f.model, ("black", "o"))
            ax.plot(distance[shown], g[shown], color=color, label=f"{f.model} (test MSE {f.mse[stage]:.3f})")
        if any((f.norms[stage][f.norms[stage] > 0] < FLOAT32_TINY).any() for f in flows):
            ax.axhline(FLOAT32_TINY, color="grey", linestyle=":", linewidth=1, label="float32 smallest normal")
        ax.set_yscale("log")
        ax.set_xlabel("distance from the loss, T - 1 - t (steps)")
        ax.set_title(titles[stage])
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("||dL / dx_t||  (mean over sequences)")
    fig.suptitle(f"Gradient flow on the adding problem, T = {length}")
    fig.tight_layout()
    return fig


__all__ = ["input_gradient_norms", "GradientFlow", "GradientFlowBenchmark", "plot_gradients", "STAGES"]
