"""``lstmkit text train-lm | generate``: thin commands over :mod:`lstmkit.tasks.text.language_model`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from lstmkit.cli._options import NprocOption, PrecisionOption, launch_workers, main_echo
from lstmkit.errors import ConfigError

EXIT_INTERRUPTED = 130


def register(text_app: typer.Typer) -> None:
    """Add the language-model commands to ``lstmkit text``."""

    @text_app.command("train-lm")
    def train_lm(
        file: Annotated[Path, typer.Argument(help="Training text file.", show_default=False)],
        output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the model (checkpoint: OUTPUT.ckpt).")],
        level: Annotated[Optional[str], typer.Option(help="char (bits/char) or word (perplexity; newline = <eos>).")] = None,
        valid: Annotated[Optional[Path], typer.Option(help="Validation text (default: the last 10% of FILE).")] = None,
        layers: Annotated[Optional[int], typer.Option(help="LSTM layers [2].")] = None,
        units: Annotated[Optional[int], typer.Option(help="LSTM units per layer [256].")] = None,
        embedding_size: Annotated[Optional[int], typer.Option(help="Embedding size [= units]; with --tie, < units projects the LSTM output.")] = None,
        tie: Annotated[Optional[bool], typer.Option("--tie/--no-tie", help="Share the embedding with the decoder [--tie]; --no-tie gives each its own weights.")] = None,
        dropout: Annotated[Optional[float], typer.Option(help="Dropout [0.2].")] = None,
        bptt: Annotated[Optional[int], typer.Option(help="Truncated BPTT window [128].")] = None,
        batch_size: Annotated[Optional[int], typer.Option(help="Parallel streams [64] (with --nproc N, shared out among the N processes).")] = None,
        lr: Annotated[Optional[float], typer.Option("--lr", "--learning-rate", help="Learning rate [2e-3 adam, 1.0 sgd].")] = None,
        optimizer: Annotated[Optional[str], typer.Option(help="adam or sgd [adam].")] = None,
        schedule: Annotated[Optional[str], typer.Option(help="plateau | step | cosine | constant [cosine with --minutes, else plateau].")] = None,
        lr_decay: Annotated[Optional[float], typer.Option(help="Decay factor for plateau/step [0.5].")] = None,
        decay_start: Annotated[Optional[int], typer.Option(help="step schedule: epochs before decaying [4].")] = None,
        clip: Annotated[Optional[float], typer.Option("--clip", "--clip-norm", help="Gradient norm clip [5].")] = None,
        epochs: Annotated[Optional[int], typer.Option(help="Epochs [10] (or --minutes).")] = None,
        minutes: Annotated[Optional[float], typer.Option(help="Time budget in minutes instead of epochs.")] = None,
        seed: Annotated[Optional[int], typer.Option(help="Random seed [0].")] = None,
        threads: Annotated[Optional[int], typer.Option(help="torch threads [1; with --nproc N: cpu_count // N per process].", show_default=False)] = None,
        precision: PrecisionOption = None,
        nproc: NprocOption = "1",
        resume: Annotated[bool, typer.Option("--resume", help="Continue from OUTPUT.ckpt (same settings).")] = False,
        encoding: Annotated[str, typer.Option(help="Text encoding of the files.")] = "utf-8",
        log_every: Annotated[int, typer.Option(help="Print the running loss every N steps (0: per epoch only).")] = 0,
    ) -> None:
        """Train an LSTM language model (truncated BPTT, checkpoint per epoch and on Ctrl-C, --resume, --nproc)."""
        import warnings

        from lstmkit.tasks.text import language_model as lm
        from lstmkit.train import distributed
        from lstmkit.train.precision import check_precision, resolve_precision

        warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")
        # The cheap checks run here, once, before any worker process starts.
        nproc = distributed.validate_nproc(nproc)
        if epochs is not None and minutes is not None:
            raise ConfigError(f"--epochs and --minutes: give one of them, found --epochs {epochs} and --minutes {minutes}")
        if threads is not None and threads < 1:
            raise ConfigError(f"--threads: expected an integer >= 1, found {threads}")
        if log_every < 0:
            raise ConfigError(f"--log-every: expected an integer >= 0, found {log_every}")
        if precision is not None:
            precision = check_precision(precision, "--precision")
            resolve_precision(precision, "cpu", name="--precision")
        given = {
            "level": level, "layers": layers, "units": units, "embedding_size": embedding_size, "tie_weights": tie, "dropout": dropout,
            "bptt": bptt, "batch_size": batch_size, "learning_rate": lr, "optimizer": optimizer, "schedule": schedule,
            "lr_decay": lr_decay, "decay_start": decay_start, "clip_norm": clip, "epochs": epochs, "minutes": minutes,
            "seed": seed, "precision": precision,
        }
        given = {k: v for k, v in given.items() if v is not None}
        if resume:
            # Unset options take the checkpoint's values; set ones must agree (checked by the task).
            saved = lm.read_checkpoint(lm.checkpoint_path(output))[1]
            if "epochs" in given or "minutes" in given:
                saved.pop("epochs", None)
                saved.pop("minutes", None)
            saved.pop("threads", None)
            given = {**saved, **given}
        if threads is None:  # None in workers: each gets cpu_count // N threads (lstmkit.train.distributed)
            threads = 1 if nproc == 1 and not distributed.is_worker() else None
        config = lm.LMConfig(**{**given, "threads": threads})
        if nproc > 1 and not distributed.is_worker():
            # every check the run makes (data, checkpoint, settings), once, so a mistake is one line
            lm.prepare_run(file, output, config, valid_path=valid, resume=resume, encoding=encoding, world=nproc)
        # with --nproc N > 1: runs this command in N workers and exits with their code
        launch_workers(nproc)
        try:
            distributed.init_from_env()
            echo = main_echo()
            result = lm.train_language_model(
                file, output, config, valid_path=valid, resume=resume, encoding=encoding, echo=echo,
                log_every=log_every,
            )
            if result.interrupted:
                main_echo(lambda text: typer.echo(text, err=True))(
                    f"interrupted: checkpoint saved to {result.checkpoint}; continue with the same command and --resume"
                )
                raise typer.Exit(EXIT_INTERRUPTED)
            echo(
                f"validation: {result.metric_text()} after {result.epochs_completed} epochs, {result.steps} steps, "
                f"{result.seconds:.1f} s"
            )
            echo(f"model saved to {result.output} (checkpoint {result.checkpoint})")
            distributed.barrier()  # leave together: rank 0's saving and printing must not race the others' exit
        finally:
            distributed.shutdown()

    @text_app.command("generate")
    def generate(
        model: Annotated[Path, typer.Argument(help="A language model (or its .ckpt checkpoint).", show_default=False)],
        prime: Annotated[str, typer.Option(help="Text to start from.")] = "",
        length: Annotated[int, typer.Option(help="Tokens (characters or words) to generate.")] = 500,
        temperature: Annotated[float, typer.Option(help="Sampling temperature (> 0).")] = 1.0,
        top_k: Annotated[Optional[int], typer.Option(help="Sample only among the k most likely tokens.")] = None,
        seed: Annotated[Optional[int], typer.Option(help="Random seed (same seed, same text).")] = None,
        interactive: Annotated[bool, typer.Option("--interactive", help="Read primes from stdin until EOF or an empty line.")] = False,
    ) -> None:
        """Generate text from a trained language model, streamed to stdout as it is produced."""
        import warnings

        from lstmkit.tasks.text.language_model import LanguageModelGenerator

        warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")
        if length <= 0:
            raise ConfigError(f"--length: expected an integer >= 1, found {length}")
        if not temperature > 0:
            raise ConfigError(f"--temperature: expected a number > 0, found {temperature}")
        if top_k is not None and top_k < 1:
            raise ConfigError(f"--top-k: expected an integer >= 1, found {top_k}")
        gen = LanguageModelGenerator.load(model)

        def run(text: str) -> None:
            unknown = gen.unknown(text)
            if unknown:
                shown = ", ".join(repr(t) for t in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
                typer.echo(f"warning: the prime has {len(unknown)} unseen {gen.level} token(s) ({shown}); "
                           f"they are read as <oov>", err=True)
            sys.stdout.write(text)
            sys.stdout.flush()
            for piece in gen.generate(text, length, temperature, top_k, seed):
                sys.stdout.write(piece)
                sys.stdout.flush()
            sys.stdout.write("\n")
            sys.stdout.flush()

        if not interactive:
            run(prime)
            return
        while True:
            sys.stderr.write("prime> ")
            sys.stderr.flush()
            line = sys.stdin.readline()
            if not line or not line.rstrip("\n"):
                break
            run(line.rstrip("\n"))
