"""``lstmkit bench ...``: benchmarks that check the article's claims, each seeded and budgeted.

Thin commands: they parse options, call a task module and print. Each benchmark module adds its
commands to :data:`bench_app` through a ``register(bench_app)`` function called at the bottom.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

bench_app = typer.Typer(
    name="bench",
    help="Benchmarks: long-range memory (adding, copy), gradient flow, very long sequences.",
    no_args_is_help=True,
)

# ---- long-range memory and gradient flow (lstmkit.bench.longrange, lstmkit.bench.gradient_flow) ----

DEFAULT_STEPS = 2000
Steps = Annotated[Optional[int], typer.Option(help=f"Budget: optimizer steps per (model, length) run (default {DEFAULT_STEPS} when --minutes is not given).", show_default=False)]
Minutes = Annotated[Optional[float], typer.Option(help="Budget: minutes of training time per (model, length) run, instead of --steps.", show_default=False)]
Seed = Annotated[int, typer.Option(help="Seed of the initial weights and training batches (test sets are fixed).")]
Out = Annotated[Path, typer.Option("--out", "-o", help="Folder for the tables, plots and config.json.", show_default=False)]
Hidden = Annotated[int, typer.Option(help="LSTM units; the other models' sizes are searched to match its parameter count.")]
BatchSize = Annotated[int, typer.Option(help="Training batch size.")]
LearningRate = Annotated[float, typer.Option("--lr", help="Adam learning rate.")]
Clip = Annotated[float, typer.Option(help="Gradient-norm clipping threshold.")]
ForgetBias = Annotated[str, typer.Option(help="The LSTM's initial forget-gate bias, or 'chrono' (Tallec & Ollivier 2018: b_f ~ log U[1, T-1], b_i = -b_f).")]
Threads = Annotated[int, typer.Option(help="torch threads (1 measured fastest on the 2-core machines; see docs/longrange.md).")]


def _budget(steps: Optional[int], minutes: Optional[float]):
    from lstmkit.bench.longrange import Budget

    if steps is None and minutes is None:
        steps = DEFAULT_STEPS
    return Budget(steps=steps, minutes=minutes)


def _command(name: str, **options: object) -> str:
    """The command line that reproduces a run, with every option spelled out."""
    parts = [f"lstmkit bench {name}"]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else f"--no-{flag[2:]}")
        elif value is not None:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


@bench_app.command("longrange")
def longrange(
    out: Out,
    task: Annotated[str, typer.Option(help="adding (Le et al. 2015) or copy (Arjovsky et al. 2016).")] = "adding",
    lengths: Annotated[str, typer.Option(help="Comma-separated sequence lengths T (copy: T blanks, sequences of T+20).")] = "50,100,200,500,1000",
    models: Annotated[str, typer.Option(help="Comma-separated models among rnn, gru, lstm, transformer.")] = "rnn,gru,lstm,transformer",
    steps: Steps = None,
    minutes: Minutes = None,
    seed: Seed = 0,
    hidden: Hidden = 128,
    batch_size: BatchSize = 64,
    lr: LearningRate = 1e-3,
    clip: Clip = 1.0,
    schedule: Annotated[str, typer.Option(help="Learning-rate schedule: constant, or cosine (decay to lr/10 over the budget).")] = "constant",
    warmup: Annotated[int, typer.Option(help="Linear learning-rate warm-up over this many first steps (0: none).")] = 0,
    curriculum: Annotated[bool, typer.Option("--curriculum/--no-curriculum", help="Grow the training length from --curriculum-start to T over the first half of the budget.")] = False,
    curriculum_start: Annotated[int, typer.Option(help="First training length of the curriculum.")] = 50,
    eval_every: Annotated[int, typer.Option(help="Evaluate on the test set every this many steps (and at the end).")] = 250,
    test_size: Annotated[int, typer.Option(help="Sequences in each length's fixed test set.")] = 512,
    forget_bias: ForgetBias = "1",
    threads: Threads = 1,
) -> None:
    """Adding or copy-memory task at several lengths: final metric per model against T, chance baseline drawn.

    Writes results.csv, results.md, results.png (final metric against T), curves.csv and curves.png
    (learning curves) and config.json to --out; the tables are rewritten after every run.
    """
    from lstmkit.bench.longrange import LongRangeBenchmark, TrainSettings, parse_lengths, parse_list

    budget = _budget(steps, minutes)
    settings = TrainSettings(
        batch_size=batch_size, lr=lr, clip=clip, schedule=schedule, warmup=warmup, curriculum=curriculum,
        curriculum_start=curriculum_start, eval_every=eval_every, test_size=test_size, threads=threads,
        forget_bias=forget_bias,
    )  # fmt: skip
    command = _command(
        "longrange", task=task, lengths=lengths, models=models, steps=budget.steps, minutes=budget.minutes, seed=seed,
        hidden=hidden, batch_size=batch_size, lr=lr, clip=clip, schedule=schedule, warmup=warmup, curriculum=curriculum,
        curriculum_start=curriculum_start if curriculum else None, eval_every=eval_every, test_size=test_size,
        forget_bias=settings.forget_bias, threads=threads, out=out,
    )  # fmt: skip
    bench = LongRangeBenchmark(
        task=task, lengths=parse_lengths(lengths), models=parse_list(models, "--models"), budget=budget,
        settings=settings, seed=seed, lstm_hidden=hidden, command=command,
    )  # fmt: skip
    bench.run(out, echo=typer.echo)


@bench_app.command("gradients")
def gradients(
    out: Out,
    models: Annotated[str, typer.Option(help="Comma-separated models among rnn, gru, lstm, transformer.")] = "rnn,gru,lstm",
    length: Annotated[int, typer.Option(help="Sequence length T of the adding problem.")] = 200,
    steps: Annotated[Optional[int], typer.Option(help="Training budget per model in optimizer steps (default 1000 when --minutes is not given).", show_default=False)] = None,
    minutes: Annotated[Optional[float], typer.Option(help="Training budget per model in minutes, instead of --steps.", show_default=False)] = None,
    seed: Seed = 0,
    hidden: Hidden = 128,
    batch_size: BatchSize = 64,
    lr: LearningRate = 1e-3,
    clip: Clip = 1.0,
    probe_size: Annotated[int, typer.Option(help="Sequences over which ||dL/dx_t|| is averaged.")] = 256,
    eval_every: Annotated[int, typer.Option(help="Evaluate on the test set every this many training steps.")] = 250,
    forget_bias: ForgetBias = "1",
    threads: Threads = 1,
) -> None:
    """Norm of dL/dx_t against the distance from the loss (log scale), at initialisation and after training.

    Adding problem at --length; writes gradients.png, gradients.csv, gradients.md and config.json to --out.
    """
    from lstmkit.bench.gradient_flow import GradientFlowBenchmark
    from lstmkit.bench.longrange import Budget, TrainSettings, parse_list

    budget = Budget(steps=1000) if steps is None and minutes is None else Budget(steps=steps, minutes=minutes)
    settings = TrainSettings(
        batch_size=batch_size, lr=lr, clip=clip, eval_every=eval_every, threads=threads, forget_bias=forget_bias
    )  # fmt: skip
    command = _command(
        "gradients", models=models, length=length, steps=budget.steps, minutes=budget.minutes, seed=seed, hidden=hidden,
        batch_size=batch_size, lr=lr, clip=clip, probe_size=probe_size, eval_every=eval_every,
        forget_bias=settings.forget_bias, threads=threads, out=out,
    )  # fmt: skip
    bench = GradientFlowBenchmark(
        models=parse_list(models, "--models"), length=length, budget=budget, settings=settings, seed=seed,
        lstm_hidden=hidden, probe_size=probe_size, command=command,
    )  # fmt: skip
    bench.run(out, echo=typer.echo)


# Each benchmark module registers its commands here.
from lstmkit.cli import bench_scaling  # noqa: E402

bench_scaling.register(bench_app)
