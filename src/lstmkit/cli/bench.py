"""``lstmkit bench longrange | gradients``: benchmarks that check the article's claims, each seeded and budgeted.

Thin commands: they parse options, call :mod:`lstmkit.bench.longrange` or
:mod:`lstmkit.bench.gradient_flow` and print. Like every command module, this one adds its
commands through :func:`register` (``lstmkit bench`` is made in :mod:`lstmkit.cli`, where
:mod:`lstmkit.cli.bench_scaling` registers ``scaling`` the same way). Both commands train through
the engine (:mod:`lstmkit.train`) and take ``--precision`` and ``--nproc``: every option is checked
first, then ``--nproc N`` re-runs the command in N ``torchrun`` workers, of which only rank 0 prints
and writes.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lstmkit.cli._options import NprocOption, PrecisionOption, launch_workers

# ---- long-range memory and gradient flow (lstmkit.bench.longrange, lstmkit.bench.gradient_flow) ----

DEFAULT_STEPS = 2000
Steps = Annotated[Optional[int], typer.Option(help=f"Budget: optimizer steps per (model, length) run (default {DEFAULT_STEPS} when --minutes is not given).", show_default=False)]
Minutes = Annotated[Optional[float], typer.Option(help="Budget: minutes of training time per (model, length) run, instead of --steps.", show_default=False)]
Seed = Annotated[int, typer.Option(help="Seed of the initial weights and training batches (test sets are fixed).")]
Out = Annotated[Path, typer.Option("--out", "-o", help="Folder for the tables, plots and config.json.", show_default=False)]
Hidden = Annotated[int, typer.Option(help="LSTM units; the other models' sizes are searched to match its parameter count.")]
BatchSize = Annotated[int, typer.Option(help="Training batch size.")]
LearningRate = Annotated[float, typer.Option("--learning-rate", "--lr", help="Adam learning rate.")]
Clip = Annotated[float, typer.Option("--clip-norm", "--clip", help="Gradient-norm clipping threshold.")]
ForgetBias = Annotated[str, typer.Option(help="The LSTM's initial forget-gate bias, or 'chrono' (Tallec & Ollivier 2018: b_f ~ log U[1, T-1], b_i = -b_f).")]
Threads = Annotated[int, typer.Option(help="torch threads (1 measured fastest on the 2-core machines; see docs/longrange.md).")]


def _budget(steps: Optional[int], minutes: Optional[float]):
    from lstmkit.bench.longrange import Budget

    if steps is None and minutes is None:
        steps = DEFAULT_STEPS
    return Budget(steps=steps, minutes=minutes)


def command_line(name: str, options: dict[str, Any]) -> str:
    """The command line that reproduces a run of ``lstmkit bench NAME``, every option spelled out.

    ``None`` leaves an option out; ``True`` is its flag and ``False`` its ``--no-`` flag (pass None
    for a flag that has no ``--no-`` form); other values are shell-quoted where needed.
    """
    words = ["lstmkit", "bench", name]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag if value else f"--no-{flag[2:]}")
        elif value is not None:
            words += [flag, shlex.quote(str(value))]
    return " ".join(words)


def processes(nproc: int | str) -> int:
    """The ``--nproc`` of the whole run, for its command line: in a torchrun worker (started without
    ``--nproc``) the number of processes, else ``nproc``."""
    from lstmkit.train import distributed

    return distributed.env_world_size() if distributed.is_worker() else distributed.validate_nproc(nproc)



def run_benchmark(bench: Any, out: Path, nproc: int | str) -> None:
    """Check ``--nproc`` and ``--out``, then run ``bench`` here or in ``nproc`` torchrun workers.

    Every check comes before any worker starts, so a mistake is one line and exit 2 once; in the
    workers only rank 0 prints and writes (:class:`lstmkit.bench.report.Report`).
    """
    from lstmkit.train import distributed
    from lstmkit.util.files import prepare_output_dir

    nproc = distributed.validate_nproc(nproc)
    prepare_output_dir(out)
    launch_workers(nproc)
    try:
        bench.run(out, echo=typer.echo)  # it joins the process group (gloo) and prints in rank 0 only
    finally:
        distributed.shutdown()


def register(bench_app: typer.Typer) -> None:
    """Add ``longrange`` and ``gradients`` to ``lstmkit bench``."""

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
        precision: PrecisionOption = None,
        nproc: NprocOption = "1",
    ) -> None:
        """Adding or copy-memory task at several lengths: final metric per model against T, chance baseline drawn.

        Writes results.csv, results.md, results.png (final metric against T), curves.csv and curves.png
        (learning curves) and config.json to --out; the tables are rewritten after every run.
        """
        from lstmkit.bench.longrange import LongRangeBenchmark, TrainSettings, parse_lengths, parse_list

        budget = _budget(steps, minutes)
        settings = TrainSettings(
            batch_size=batch_size, learning_rate=lr, clip_norm=clip, schedule=schedule, warmup=warmup,
            curriculum=curriculum, curriculum_start=curriculum_start, eval_every=eval_every, test_size=test_size,
            threads=threads, forget_bias=forget_bias, precision="fp32" if precision is None else precision,
        )  # fmt: skip
        command = command_line("longrange", dict(
            task=task, lengths=lengths, models=models, steps=budget.steps, minutes=budget.minutes, seed=seed,
            hidden=hidden, batch_size=batch_size, lr=lr, clip=clip, schedule=schedule, warmup=warmup, curriculum=curriculum,
            curriculum_start=curriculum_start if curriculum else None, eval_every=eval_every, test_size=test_size,
            forget_bias=settings.forget_bias, threads=threads, precision=settings.precision, nproc=processes(nproc), out=out,
        ))  # fmt: skip
        bench = LongRangeBenchmark(
            task=task, lengths=parse_lengths(lengths), models=parse_list(models, "--models"), budget=budget,
            settings=settings, seed=seed, lstm_hidden=hidden, command=command,
        )  # fmt: skip
        run_benchmark(bench, out, nproc)

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
        precision: PrecisionOption = None,
        nproc: NprocOption = "1",
    ) -> None:
        """Norm of dL/dx_t against the distance from the loss (log scale), at initialisation and after training.

        Adding problem at --length; writes gradients.png, gradients.csv, gradients.md and config.json to --out.
        """
        from lstmkit.bench.gradient_flow import GradientFlowBenchmark
        from lstmkit.bench.longrange import Budget, TrainSettings, parse_list

        budget = Budget(steps=1000) if steps is None and minutes is None else Budget(steps=steps, minutes=minutes)
        settings = TrainSettings(
            batch_size=batch_size, learning_rate=lr, clip_norm=clip, eval_every=eval_every, threads=threads,
            forget_bias=forget_bias, precision="fp32" if precision is None else precision,
        )  # fmt: skip
        command = command_line("gradients", dict(
            models=models, length=length, steps=budget.steps, minutes=budget.minutes, seed=seed, hidden=hidden,
            batch_size=batch_size, lr=lr, clip=clip, probe_size=probe_size, eval_every=eval_every,
            forget_bias=settings.forget_bias, threads=threads, precision=settings.precision, nproc=processes(nproc), out=out,
        ))  # fmt: skip
        bench = GradientFlowBenchmark(
            models=parse_list(models, "--models"), length=length, budget=budget, settings=settings, seed=seed,
            lstm_hidden=hidden, probe_size=probe_size, command=command,
        )  # fmt: skip
        run_benchmark(bench, out, nproc)
