"""``lstmkit seq train-classifier | classify | evaluate``: thin commands over :mod:`lstmkit.tasks.sequences.classifier`.

DATA is a folder of ``.wav`` files (labels from ``--label-pattern`` or ``--manifest``), an ``.npz``, a
long-format ``.csv`` or a ``.ts`` file (see :mod:`lstmkit.data.sequences`). ``--test-pattern REGEX``
names the test sequences (matched against file names relative to the folder, CSV ids or NPZ row
numbers): train-classifier never trains or validates on them and reports their accuracy at the end;
evaluate scores only them. Sets that ship as separate train and test files take ``--test FILE``
instead: after training, the model's accuracy and macro-F1 on it are printed beside the 1-NN
Euclidean baseline's. For the Free Spoken Digit Dataset's official split (index 0-4 is test)::

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


def _int_list(text: str, option: str) -> tuple[int, ...]:
    """``"128,256,128"`` -> ``(128, 256, 128)``; anything else is a one-line ConfigError naming ``option``."""
    from lstmkit.errors import ConfigError

    parts = [p.strip() for p in str(text).split(",")]
    if not parts or any(not p.isdigit() or int(p) < 1 for p in parts):
        raise ConfigError(f"{option}: expected positive integers separated by commas (e.g. 128,256,128); found {text!r}")
    return tuple(int(p) for p in parts)


def register(app: typer.Typer) -> None:
    """Add the sequence-classification commands to ``lstmkit seq``."""

    @app.command("train-classifier")
    def train_classifier(
        data: Annotated[Path, typer.Argument(help="Folder of .wav files, or an .npz / .csv / .ts array file.", show_default=False)],
        output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the model file.", show_default=False)],
        label_pattern: Annotated[Optional[str], typer.Option(help=_LABEL_PATTERN_HELP, show_default=False)] = None,
        manifest: Manifest = None,
        test_pattern: Annotated[Optional[str], typer.Option(help=_TEST_PATTERN_HELP + " Held out from training; its accuracy is reported.")] = None,
        test: Annotated[Optional[Path], typer.Option("--test", help="A separate labelled test file (same format), for sets shipped as train and test files: "
                                                                    "evaluated after training, beside the 1-NN Euclidean baseline.", show_default=False)] = None,
        valid: Annotated[Optional[Path], typer.Option(help="Separate validation data (same format) for early stopping.")] = None,
        valid_pattern: Annotated[Optional[str], typer.Option(help="Regex naming the validation sequences among the training ones.")] = None,
        valid_fraction: Annotated[Optional[float], typer.Option(help="Fraction of the training sequences held out (stratified) for early stopping; 0: none. "
                                                                     "Default: 0.1 when every class keeps 5 or more, else none (see --selection).", show_default=False)] = None,
        id_column: IdColumn = "id",
        label_column: LabelColumn = "label",
        time_column: TimeColumn = None,
        encoding: Encoding = "utf-8",
        model: Annotated[str, typer.Option(help="lstm_fcn (LSTM-FCN, Karim et al. 2018), alstm_fcn (with attention) or lstm (the plain recurrent network).")] = "lstm_fcn",
        cell: Annotated[str, typer.Option(help="Recurrent cell: lstm, gru or rnn (Elman SimpleRNN).")] = "lstm",
        units: Annotated[Optional[int], typer.Option(help="Units per layer and direction (default: 8 for the FCN models, 64 for lstm).", show_default=False)] = None,
        layers: Annotated[int, typer.Option(help="Stacked recurrent layers.")] = 1,
        bidirectional: Annotated[bool, typer.Option("--bidirectional", help="Read each sequence in both directions.")] = False,
        dropout: Annotated[Optional[float], typer.Option(help="Dropout after the recurrent part (default: 0.8 for the FCN models, 0.1 for lstm).", show_default=False)] = None,
        pooling: Annotated[Optional[str], typer.Option(help="Recurrent summary: last (final state), mean or attention (default: last for lstm_fcn, attention for alstm_fcn, mean for lstm).", show_default=False)] = None,
        attention_units: Annotated[int, typer.Option(help="Hidden units of the attention pooling.")] = 32,
        filters: Annotated[str, typer.Option(help="FCN models: filters of each convolution block, comma-separated.")] = "128,256,128",
        kernel_sizes: Annotated[str, typer.Option(help="FCN models: kernel size of each convolution block, comma-separated.")] = "8,5,3",
        normalize: Annotated[Optional[str], typer.Option(help="series (z-normalise each series), feature (per-feature training statistics) or none; default: from the data.", show_default=False)] = None,
        standardize: Annotated[bool, typer.Option(help="With --no-standardize and no --normalize: no normalisation.")] = True,
        downsample: Annotated[Optional[int], typer.Option(help="Average each run of K steps (PAA) before the model; default: from the series length.", show_default=False)] = None,
        ensemble: Annotated[Optional[int], typer.Option(help="Networks trained with seeds seed, seed+1, ... and averaged; default: as many as fit the compute budget (1-5).", show_default=False)] = None,
        selection: Annotated[str, typer.Option(help="Which epoch is kept: auto, holdout (best validation accuracy), train_loss (all data, lowest training loss) or none (the last).")] = "auto",
        epochs: Annotated[Optional[int], typer.Option(help="Epochs (default: enough for 2,000 steps within the compute budget; 300 steps for lstm).", show_default=False)] = None,
        batch_size: Annotated[Optional[int], typer.Option(help="Batch size, the global batch shared by --nproc processes (default: about 16 steps per epoch).", show_default=False)] = None,
        learning_rate: Annotated[Optional[float], typer.Option(help="Adam learning rate (default 0.003; the FCN models decay it on a cosine).", show_default=False)] = None,
        clip_norm: Annotated[float, typer.Option(help="Clip the global gradient norm to this.")] = 1.0,
        patience: Annotated[Optional[int], typer.Option(help="With a hold-out: epochs without a better validation accuracy before stopping (default: a fifth of the epochs).", show_default=False)] = None,
        sample_rate: Annotated[Optional[int], typer.Option(help="Audio: expected sample rate in Hz (default: the first file's).")] = None,
        resample: Resample = False,
        n_mfcc: Annotated[int, typer.Option(help="Audio: MFCC coefficients per frame.")] = 13,
        deltas: Annotated[int, typer.Option(help="Audio: append 0, 1 or 2 orders of MFCC time derivatives.")] = 2,
        window_ms: Annotated[float, typer.Option(help="Audio: frame length in ms.")] = 25.0,
        hop_ms: Annotated[float, typer.Option(help="Audio: frame step in ms.")] = 10.0,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
        threads: Annotated[int, typer.Option(help="torch threads (1 is robust on a small or busy CPU).")] = 1,
        quiet: Annotated[bool, typer.Option("--quiet", help="No line per epoch (the chosen settings are still printed, on stderr).")] = False,
        nproc: NprocOption = "1",
        precision: PrecisionOption = None,
    ) -> None:
        """Train a sequence classifier (LSTM-FCN by default) and save it as one model file.

        Every setting left unset is chosen from the data and printed in one line on stderr
        (e.g. `batch_size=8: 40 training samples; 8 gives 5 steps per epoch`).
        """
        from rich.console import Console
        from rich.table import Table

        from lstmkit.data.audio import AudioFeatures
        from lstmkit.errors import DataError, InputValueError
        from lstmkit.tasks.sequences.classifier import (SequenceClassifier, compare_with_baseline, count_labels, fit_on,
                                                        read_training_data)
        from lstmkit.train import distributed
        from lstmkit.util.checks import prepare_output

        # Every option is checked once, before any worker starts, so a mistake is one line and exit 2 with --nproc too.
        nproc = distributed.validate_nproc(nproc)
        out = prepare_output(output)  # fail before reading and training when the output cannot be written
        if valid is not None and valid_pattern is not None:
            raise InputValueError("give at most one of --valid and --valid-pattern")
        if test is not None and test_pattern is not None:
            raise InputValueError("give at most one of --test and --test-pattern")
        if not data.exists():
            raise DataError(f"data not found: {data}")
        if test is not None and not test.exists():
            raise DataError(f"--test file not found: {test}")
        clf = SequenceClassifier(
            model=model, cell=cell, units=units, layers=layers, bidirectional=bidirectional, dropout=dropout,
            pooling=pooling, attention_units=attention_units, filters=_int_list(filters, "--filters"),
            kernel_sizes=_int_list(kernel_sizes, "--kernel-sizes"), normalize=normalize, standardize=standardize,
            downsample=downsample, ensemble=ensemble, selection=selection, epochs=epochs, batch_size=batch_size,
            learning_rate=learning_rate, clip_norm=clip_norm, patience=patience, validation_split=valid_fraction,
            precision=check_precision_option(precision), seed=seed, threads=threads, verbose=1 if quiet else 2,
        )
        clf._check_params()  # bad options fail before the (slow) feature extraction
        clf._resolved_precision("--precision")  # bf16 on a CPU without bfloat16 units: one line, before any work
        audio = AudioFeatures(sample_rate=sample_rate, resample=resample, n_mfcc=n_mfcc, deltas=deltas,
                              window_ms=window_ms, hop_ms=hop_ms)
        launch_workers(nproc)  # --nproc N > 1: runs in N workers, exits with their code
        distributed.init_from_env()  # in a worker: join the group now, so only rank 0 prints and saves
        if not is_main():
            clf.verbose = False
        try:
            split = read_training_data(
                data, audio=audio, label_pattern=label_pattern, manifest=manifest, test_pattern=test_pattern,
                valid=valid, valid_pattern=valid_pattern, id_column=id_column, label_column=label_column,
                time_column=time_column, encoding=encoding, test=test,
            )
            console = Console(highlight=False)
            echo = main_echo(console.print)
            train, val, held_out = split.train, split.valid, split.test
            echo(f"data: {data}: {len(train)} training sequences, {train.n_features} features"
                 + (f" ({train.audio.n_mfcc} MFCCs, deltas {train.audio.deltas}, {train.audio.sample_rate} Hz)" if train.audio else "")
                 + (f"; {distributed.world_size()} processes" if distributed.world_size() > 1 else ""))
            echo(f"classes: {count_labels(train.labels)}")
            if val is not None:
                echo(f"validation: {len(val)} sequences" + (f" from {valid}" if valid else f" matching {valid_pattern!r}"))
            if held_out is not None:
                echo(f"test: {len(held_out)} sequences " + (f"from {test}" if test is not None else f"matching {test_pattern!r}")
                     + " (not trained or validated on)")
            fit_on(clf, split)
            if is_main():
                clf.save(out)
                st = clf.settings_
                members = f" x {st['ensemble']} seeds" if st["ensemble"] > 1 else ""
                echo(f"{st['model']} model ({st['cell']} cell{members}), {clf.count_params()} parameters; best epoch "
                     f"{clf.best_epoch_} of {len(clf.history_['loss'])} (selection: {st['selection']}); trained in "
                     f"{clf.fit_seconds_:.1f} s")
                if "val_accuracy" in clf.history_:
                    echo(f"valid accuracy: {clf.valid_score_:.4f}")
                elif clf.valid_score_ is not None:
                    echo(f"training accuracy of the kept model: {clf.valid_score_:.4f} (no hold-out)")
                if held_out is not None:
                    cmp = compare_with_baseline(clf, train, held_out)
                    echo(f"test accuracy: {cmp.model.accuracy:.4f} ({cmp.size} sequences)")
                    table = Table(show_header=True, header_style="bold", title=f"test set: {cmp.size} sequences")
                    for col in ("model", "accuracy", "macro-F1"):
                        table.add_column(col, justify="left" if col == "model" else "right")
                    table.add_row(f"{st['model']} (this model)", f"{cmp.model.accuracy:.4f}", f"{cmp.model.macro_f1:.4f}")
                    table.add_row("1-NN Euclidean (baseline)", f"{cmp.baseline.accuracy:.4f}", f"{cmp.baseline.macro_f1:.4f}")
                    echo(table)
                echo(f"model saved to {out}")
            distributed.barrier()  # leave together: rank 0's saving and printing must not race the others' exit
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
        summary.add_row(f"{clf.settings_.get('model', 'lstm')} ({clf.cell} cell, {model.name})", f"{rep.accuracy:.4f}",
                        f"{rep.macro_f1:.4f}")
        console.print(summary)
        cm = Table(title="confusion matrix", caption="rows: true label, columns: predicted", show_header=True)
        cm.add_column("true \\ predicted")
        for c in rep.labels:
            cm.add_column(str(c), justify="right")
        for c, row in zip(rep.labels, rep.confusion):
            cm.add_row(str(c), *(str(int(v)) for v in row))
        console.print(cm)


__all__ = ["register"]
