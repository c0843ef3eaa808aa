"""``lstmkit seq train-classifier | classify | evaluate``: thin commands over :mod:`lstmkit.tasks.sequences.classifier`.

DATA is a folder of ``.wav`` files (labels from ``--label-pattern`` or ``--manifest``), an ``.npz``, a
long-format ``.csv`` or a ``.ts`` file (see :mod:`lstmkit.data.sequences`). ``--test-pattern REGEX``
names the test sequences (matched against file names relative to the folder, CSV ids or NPZ row
numbers): train-classifier never trains or validates on them and reports their accuracy at the end;
evaluate scores only them. For the Free Spoken Digit Dataset's official split (index 0-4 is test)::

    lstmkit seq train-classifier recordings -o digits.lstmkit --test-pattern '_[0-4]\\.wav$'
    lstmkit seq evaluate digits.lstmkit recordings --test-pattern '_[0-4]\\.wav$'

``train-classifier`` takes the training options every command shares (:mod:`lstmkit.cli._options`):
``--nproc N`` trains in N processes (only rank 0 prints and saves), ``--precision fp32|bf16|auto``.
The reading, splitting and evaluating live in the task module; these commands parse, call and print.
Every user mistake is an :class:`~lstmkit.errors.LstmkitError`: one line ``error: ...`` and exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from lstmkit.cli._options import (NprocOption, PrecisionOption, check_precision_option, is_main, launch_workers,
                                  main_echo)

_LABEL_PATTERN_HELP = ("Regex on each wav file's path (relative to DATA) whose group 'label' (or first group) is the "
                       "label; default: the file name's first '_'-separated field ({digit}_{speaker}_{index}.wav).")
_TEST_PATTERN_HELP = "Regex naming the test sequences (file path relative to DATA, CSV id or NPZ row number)."

Manifest = Annotated[Optional[Path], typer.Option(help="CSV with columns 'file' (relative to DATA) and the label column, instead of --label-pattern.")]
IdColumn = Annotated[str, typer.Option(help="CSV arrays: the column naming each row's sequence.")]
LabelColumn = Annotated[str, typer.Option(help="CSV arrays and manifests: the label column.")]
TimeColumn = Annotated[Optional[str], typer.Option(help="CSV arrays: column ordering the steps (default: 'step' when present, else file order).")]
Resample = Annotated[bool, typer.Option("--resample", help="Resample wavs at another rate instead of failing.")]
Encoding = Annotated[str, typer.Option(help="Text encoding of CSV, .ts and manifest files (e.g. utf-8, latin-1, cp1252).")]


def register(app: typer.Typer) -> None:
    """Add the sequence-classification commands to ``lstmkit seq``."""

    @app.command("train-classifier")
    def train_classifier(
        data: Annotated[Path, typer.Argument(help="Folder of .wav files, or an .npz / .csv / .ts array file.", show_default=False)],
        output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the model file.", show_default=False)],
        label_pattern: Annotated[Optional[str], typer.Option(help=_LABEL_PATTERN_HELP, show_default=False)] = None,
        manifest: Manifest = None,
        test_pattern: Annotated[Optional[str], typer.Option(help=_TEST_PATTERN_HELP + " Held out from training; its accuracy is reported.")] = None,
        valid: Annotated[Optional[Path], typer.Option(help="Separate validation data (same format) for early stopping.")] = None,
        valid_pattern: Annotated[Optional[str], typer.Option(help="Regex naming the validation sequences among the training ones.")] = None,
        valid_fraction: Annotated[float, typer.Option(help="Else: fraction of the training sequences held out (stratified) for early stopping; 0: none.")] = 0.1,
        id_column: IdColumn = "id",
        label_column: LabelColumn = "label",
        time_column: TimeColumn = None,
        encoding: Encoding = "utf-8",
        cell: Annotated[str, typer.Option(help="Recurrent cell: lstm, gru or rnn (Elman SimpleRNN).")] = "lstm",
        units: Annotated[int, typer.Option(help="Units per layer and direction.")] = 64,
        layers: Annotated[int, typer.Option(help="Stacked recurrent layers.")] = 1,
        bidirectional: Annotated[bool, typer.Option("--bidirectional", help="Read each sequence in both directions.")] = False,
        dropout: Annotated[float, typer.Option(help="Dropout between layers and before the classifier.")] = 0.1,
        pooling: Annotated[str, typer.Option(help="Sequence summary: last (final state), mean (over real steps) or attention.")] = "mean",
        epochs: Annotated[int, typer.Option(help="Maximum epochs (early stopping on validation accuracy).")] = 40,
        batch_size: Annotated[int, typer.Option(help="Batch size (the global batch, shared by --nproc processes).")] = 32,
        learning_rate: Annotated[float, typer.Option(help="Adam learning rate.")] = 0.003,
        clip_norm: Annotated[float, typer.Option(help="Clip the global gradient norm to this.")] = 1.0,
        patience: Annotated[int, typer.Option(help="Epochs without a better validation accuracy before stopping.")] = 8,
        sample_rate: Annotated[Optional[int], typer.Option(help="Audio: expected sample rate in Hz (default: the first file's).")] = None,
        resample: Resample = False,
        n_mfcc: Annotated[int, typer.Option(help="Audio: MFCC coefficients per frame.")] = 13,
        deltas: Annotated[int, typer.Option(help="Audio: append 0, 1 or 2 orders of MFCC time derivatives.")] = 2,
        window_ms: Annotated[float, typer.Option(help="Audio: frame length in ms.")] = 25.0,
        hop_ms: Annotated[float, typer.Option(help="Audio: frame step in ms.")] = 10.0,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
        threads: Annotated[int, typer.Option(help="torch threads (1 is robust on a small or busy CPU).")] = 1,
        quiet: Annotated[bool, typer.Option("--quiet", help="No line per epoch.")] = False,
        nproc: NprocOption = "1",
        precision: PrecisionOption = None,
    ) -> None:
        """Train a recurrent sequence classifier and save it as one model file."""
        from rich.console import Console

        from lstmkit.data.audio import AudioFeatures
        from lstmkit.errors import DataError, InputValueError
        from lstmkit.tasks.sequences.classifier import SequenceClassifier, count_labels, fit_on, read_training_data
        from lstmkit.train import distributed
        from lstmkit.util.checks import prepare_output

        # Every option is checked once, before any worker starts, so a mistake is one line and exit 2 with --nproc too.
        nproc = distributed.validate_nproc(nproc)
        out = prepare_output(output)  # fail before reading and training when the output cannot be written
        if valid is not None and valid_pattern is not None:
            raise InputValueError("give at most one of --valid and --valid-pattern")
        if not data.exists():
            raise DataError(f"data not found: {data}")
        clf = SequenceClassifier(
            cell=cell, units=units, layers=layers, bidirectional=bidirectional, dropout=dropout, pooling=pooling,
            epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, clip_norm=clip_norm, patience=patience,
            validation_split=valid_fraction, precision=check_precision_option(precision), seed=seed, threads=threads,
            verbose=0 if quiet else 1,
        )
        clf._check_params()  # bad options fail before the (slow) feature extraction
        clf._resolved_precision("--precision")  # bf16 on a CPU without bfloat16 units: one line, before any work
        audio = AudioFeatures(sample_rate=sample_rate, resample=resample, n_mfcc=n_mfcc, deltas=deltas,
                              window_ms=window_ms, hop_ms=hop_ms)
        launch_workers(nproc)  # --nproc N > 1: runs in N workers, exits with their code
        distributed.init_from_env()  # in a worker: join the group now, so only rank 0 prints and saves
        try:
            split = read_training_data(
                data, audio=audio, label_pattern=label_pattern, manifest=manifest, test_pattern=test_pattern,
                valid=valid, valid_pattern=valid_pattern, id_column=id_column, label_column=label_column,
                time_column=time_column, encoding=encoding,
            )
            echo = main_echo(Console(highlight=False).print)
            train, val, test = split.train, split.valid, split.test
            echo(f"data: {data}: {len(train)} training sequences, {train.n_features} features"
                 + (f" ({train.audio.n_mfcc} MFCCs, deltas {train.audio.deltas}, {train.audio.sample_rate} Hz)" if train.audio else "")
                 + (f"; {distributed.world_size()} processes" if distributed.world_size() > 1 else ""))
            echo(f"classes: {count_labels(train.labels)}")
            if val is not None:
                echo(f"validation: {len(val)} sequences" + (f" from {valid}" if valid else f" matching {valid_pattern!r}"))
            elif valid_fraction > 0:
                echo(f"validation: {valid_fraction:g} of the training sequences (stratified, seed {seed})")
            if test is not None:
                echo(f"test: {len(test)} sequences matching {test_pattern!r} (not trained or validated on)")
            fit_on(clf, split)
            if is_main():
                clf.save(out)
                echo(f"{clf.cell} model, {clf.count_params()} parameters; best epoch {clf.best_epoch_} "
                     f"of {len(clf.history_['loss'])}; trained in {clf.fit_seconds_:.1f} s")
                if "val_accuracy" in clf.history_:
                    echo(f"valid accuracy: {clf.history_['val_accuracy'][clf.best_epoch_ - 1]:.4f}")
                if test is not None:
                    echo(f"test accuracy: {clf.score(test.sequences, test.labels):.4f} ({len(test)} sequences)")
                echo(f"model saved to {out}")
        finally:
            distributed.shutdown()

    @app.command("classify")
    def classify(
        model: Annotated[Path, typer.Argument(help="A model file from seq train-classifier.", show_default=False)],
        input: Annotated[Path, typer.Argument(help="A .wav file, a folder of them, or an .npz / .csv / .ts array file.", show_default=False)],
        resample: Resample = False,
        id_column: IdColumn = "id",
        label_column: Annotated[str, typer.Option(help="CSV arrays: a label column to leave out of the features, when there is one.")] = "label",
        time_column: TimeColumn = None,
        encoding: Encoding = "utf-8",
        all_labels: Annotated[bool, typer.Option("--all", help="A probability column for every label (default: when there are at most 4).")] = False,
    ) -> None:
        """Print the label of each sequence in INPUT with its probability (and those of the runners-up, or of every label)."""
        import numpy as np
        from rich.console import Console
        from rich.table import Table

        from lstmkit.tasks.sequences.classifier import load_classifier, read_for_model

        clf = load_classifier(model, resample=resample)
        data = read_for_model(clf, input, "input", labels_required=False, id_column=id_column, label_column=label_column,
                              time_column=time_column, label_pattern=None, encoding=encoding)
        probs = clf.predict_proba(data.sequences)
        every = all_labels or len(clf.classes_) <= 4
        table = Table(show_header=True, header_style="bold")
        prob_columns = [f"P({c})" for c in clf.classes_] if every else ["P(label)", "runners-up"]
        for col in ("sequence", "label", *prob_columns):
            table.add_column(col, justify="right" if col.startswith("P(") else "left", no_wrap=col != "sequence", overflow="fold")
        for name, p in zip(data.names, probs):
            order = np.argsort(-p, kind="stable")
            if every:
                cells = [f"{v:.3f}" for v in p]
            else:
                cells = [f"{p[order[0]]:.3f}", "  ".join(f"{clf.classes_[i]}: {p[i]:.3f}" for i in order[1:3])]
            table.add_row(name, str(clf.classes_[order[0]]), *cells)
        Console(width=max(100, Console().width)).print(table)

    @app.command("evaluate")
    def evaluate(
        model: Annotated[Path, typer.Argument(help="A model file from seq train-classifier.", show_default=False)],
        data: Annotated[Path, typer.Argument(help="Labelled data: a folder of .wav files or an .npz / .csv / .ts file.", show_default=False)],
        test_pattern: Annotated[Optional[str], typer.Option(help=_TEST_PATTERN_HELP + " Only these are scored.")] = None,
        label_pattern: Annotated[Optional[str], typer.Option(help=_LABEL_PATTERN_HELP + " Default: the one the model was trained with.", show_default=False)] = None,
        manifest: Manifest = None,
        resample: Resample = False,
        id_column: IdColumn = "id",
        label_column: LabelColumn = "label",
        time_column: TimeColumn = None,
        encoding: Encoding = "utf-8",
    ) -> None:
        """Accuracy, macro-F1 and the confusion matrix of a model on labelled DATA."""
        from rich.console import Console
        from rich.table import Table

        from lstmkit.tasks.sequences.classifier import evaluate_on, load_classifier

        clf = load_classifier(model, resample=resample)
        rep = evaluate_on(clf, data, test_pattern=test_pattern, label_pattern=label_pattern, manifest=manifest,
                          id_column=id_column, label_column=label_column, time_column=time_column, encoding=encoding)
        console = Console(highlight=False)
        console.print(f"{data}: {rep.size} sequences" + (f" matching {test_pattern!r}" if test_pattern else ""))
        summary = Table(show_header=True, header_style="bold")
        for col in ("model", "accuracy", "macro-F1"):
            summary.add_column(col, justify="left" if col == "model" else "right")
        summary.add_row(f"{clf.cell} ({model.name})", f"{rep.accuracy:.4f}", f"{rep.macro_f1:.4f}")
        console.print(summary)
        cm = Table(title="confusion matrix", caption="rows: true label, columns: predicted", show_header=True)
        cm.add_column("true \\ predicted")
        for c in rep.labels:
            cm.add_column(str(c), justify="right")
        for c, row in zip(rep.labels, rep.confusion):
            cm.add_row(str(c), *(str(int(v)) for v in row))
        console.print(cm)


__all__ = ["register"]
