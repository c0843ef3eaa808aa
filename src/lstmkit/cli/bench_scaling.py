"""``lstmkit bench scaling``: a thin command over :mod:`lstmkit.bench.scaling`, registered like every command module.

Its training-throughput job trains through the engine (:mod:`lstmkit.train`) and takes
``--precision``. It has no ``--nproc``: it measures the speed and memory of one process per
configuration, which data parallelism over several processes would not show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lstmkit.cli._options import PrecisionOption
from lstmkit.cli.bench import command_line


def register(bench_app: typer.Typer) -> None:
    """Add ``scaling`` to ``lstmkit bench``."""

    @bench_app.command("scaling")
    def scaling(
        ctx: typer.Context,
        out: Annotated[Path, typer.Option("--out", help="Folder for streaming.csv, training.csv, results.md, config.json and the PNGs.", show_default=False)],
        lengths: Annotated[str, typer.Option(help="Streaming lengths (positions reached, one step at a time at the end).")] = "1000,10000,100000,1000000",
        train_lengths: Annotated[str, typer.Option(help="Training sequence lengths for the throughput panel ('' to skip).")] = "128,256,512,1024,2048,4096",
        memory_cap_gb: Annotated[float, typer.Option(help="Memory cap per run (GB): a run whose predicted or measured resident memory passes it stops cleanly, and longer lengths of that model are skipped.")] = 1.0,
        hidden_size: Annotated[int, typer.Option(help="LSTM units; the Transformer's d_model and feed-forward size are chosen to match its parameter count.")] = 256,
        input_size: Annotated[int, typer.Option(help="Input features per step.")] = 32,
        nhead: Annotated[int, typer.Option(help="Transformer attention heads.")] = 4,
        layers: Annotated[int, typer.Option(help="Transformer layers (the LSTM has one).")] = 2,
        batch_size: Annotated[int, typer.Option(help="Streams decoded together.")] = 1,
        timed_steps: Annotated[int, typer.Option(help="Single steps timed at the end of each streaming run.")] = 50,
        warmup_steps: Annotated[int, typer.Option(help="Untimed single steps before the timed ones.")] = 3,
        prefill: Annotated[str, typer.Option(help="Transformer cache prefill: 'blockwise' (O(L): chunks attend to themselves; same per-step work) or 'exact' (O(L^2)).")] = "blockwise",
        prefill_chunk: Annotated[int, typer.Option(help="Steps per chunk of the Transformer's prefill.")] = 256,
        train_tokens: Annotated[int, typer.Option(help="Tokens per training batch (batch = max(1, tokens // L)).")] = 4096,
        train_iters: Annotated[int, typer.Option(help="Timed training iterations per length (after one warm-up).")] = 5,
        run_timeout: Annotated[float, typer.Option(help="Seconds one configuration may take before it is recorded as failed.")] = 600.0,
        in_process: Annotated[bool, typer.Option("--in-process", help="Run every configuration in this process (faster start; peak memory reset between runs where Linux allows).")] = False,
        threads: Annotated[int, typer.Option(help="torch threads (1 is robust on a small or busy CPU).")] = 1,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
        precision: PrecisionOption = None,
    ) -> None:
        """Streaming inference one step at a time at very long lengths (LSTM state vs Transformer KV cache):
        per-step latency, OS-measured peak memory, crossover; plus training tokens/s against length."""
        from lstmkit.bench.scaling import ScalingSettings, parse_int_list, run_scaling

        settings = ScalingSettings(
            lengths=parse_int_list(lengths, "--lengths"), train_lengths=parse_int_list(train_lengths, "--train-lengths"),
            input_size=input_size, hidden_size=hidden_size, nhead=nhead, num_layers=layers, batch_size=batch_size,
            memory_cap_gb=memory_cap_gb, timed_steps=timed_steps, warmup_steps=warmup_steps, prefill=prefill,
            prefill_chunk=prefill_chunk, train_tokens=train_tokens, train_iters=train_iters, run_timeout_s=run_timeout,
            threads=threads, seed=seed, precision="fp32" if precision is None else precision,
        )  # fmt: skip
        command = command_line("scaling", {**ctx.params, "in_process": in_process or None, "precision": settings.precision})
        run_scaling(settings, out, isolate=not in_process, echo=typer.echo, command=command)
