"""``lstmkit seq train-classifier | classify | evaluate``: thin commands over :mod:`lstmkit.tasks.sequences.classifier`.

DATA is a folder of ``.wav`` files (labels from ``--label-pattern`` or ``--manifest``), an ``.npz``, a
long-format ``.csv`` or a ``.ts`` file (see :mod:`lstmkit.data.sequences`). ``--test-pattern REGEX``
names the test sequences (matched against file names relative to the folder, CSV ids or NPZ row
numbers): train-classifier never trains or validates on them and reports their accuracy at the end;
evaluate scores only them. For the Free Spoken Digit Dataset's official split (index 0-4 is test)::

    lstmkit seq train-classifier recordings -o digits.lstmkit --test-pattern '_[0-4]\\.wav$'
    lstmkit seq evaluate digits.lstmkit recordings --test-pattern '_[0-4]\\.wav$'

Every user mistake is an :class:`~lstmkit.errors.LstmkitError`: one line ``error: ...`` and exit 2.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lstmkit.errors import DataError, InputValueError

seq_app = typer.Typer(
    name="seq",
    help="Sequences (sensor readings, speech): train, apply and evaluate sequence classifiers.",
    no_args_is_help=True,
)

_LABEL_PATTERN_HELP = ("Regex on each wav file's path (relative to DATA) whose group 'label' (or first group) is the "
                       "label; default: the file name's first '_'-separated field ({digit}_{speaker}_{index}.wav).")
_TEST_PATTERN_HELP = "Regex naming the test sequences (file path relative to DATA, CSV id or NPZ row number)."

Manifest = Annotated[Optional[Path], typer.Option(help="CSV with columns 'file' (relative to DATA) and the label column, instead of --label-pattern.")]
IdColumn = Annotated[str, typer.Option(help="CSV arrays: the column naming each row's sequence.")]
LabelColumn = Annotated[str, typer.Option(help="CSV arrays and manifests: the label column.")]
TimeColumn = Annotated[Optional[str], typer.Option(help="CSV arrays: column ordering the steps (default: 'step' when present, else file order).")]
Resample = Annotated[bool, typer.Option("--resample", help="Resample wavs at another rate instead of failing.")]


def _is_audio(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() == ".wav"


def _read(data: Path, **kw: Any) -> Any:
    from lstmkit.data.sequences import read_sequences

    return read_sequences(data, **kw)


def _count_labels(labels: list[Any]) -> str:
    from collections import Counter

    counts = Counter(map(str, labels))
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


@seq_app.command("train-classifier")
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
    cell: Annotated[str, typer.Option(help="Recurrent cell: lstm, gru or rnn (Elman SimpleRNN).")] = "lstm",
    units: Annotated[int, typer.Option(help="Units per layer and direction.")] = 64,
    layers: Annotated[int, typer.Option(help="Stacked recurrent layers.")] = 1,
    bidirectional: Annotated[bool, typer.Option("--bidirectional", help="Read each sequence in both directions.")] = False,
    dropout: Annotated[float, typer.Option(help="Dropout between layers and before the classifier.")] = 0.1,
    pooling: Annotated[str, typer.Option(help="Sequence summary: last (final state), mean (over real steps) or attention.")] = "mean",
    epochs: Annotated[int, typer.Option(help="Maximum epochs (early stopping on validation accuracy).")] = 40,
    batch_size: Annotated[int, typer.Option(help="Batch size.")] = 32,
    learning_rate: Annotated[float, typer.Option(help="Adam learning rate.")] = 0.003,
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
) -> None:
    """Train a recurrent sequence classifier and save it as one model file."""
    from rich.console import Console

    from lstmkit.data.audio import AudioFeatures
    from lstmkit.data.sequences import DEFAULT_LABEL_PATTERN
    from lstmkit.util.checks import prepare_output
    from lstmkit.tasks.sequences.classifier import SequenceClassifier

    out = prepare_output(output)  # fail before reading and training when the output cannot be written
    if sum(x is not None for x in (valid, valid_pattern)) > 1:
        raise InputValueError("give at most one of --valid and --valid-pattern")
    clf = SequenceClassifier(
        cell=cell, units=units, layers=layers, bidirectional=bidirectional, dropout=dropout, pooling=pooling,
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, patience=patience,
        validation_split=valid_fraction, seed=seed, threads=threads, verbose=0 if quiet else 1,
    )
    clf._check_params()  # bad options fail before the (slow) feature extraction
    audio = AudioFeatures(sample_rate=sample_rate, resample=resample, n_mfcc=n_mfcc, deltas=deltas,
                          window_ms=window_ms, hop_ms=hop_ms)
    pattern = label_pattern or DEFAULT_LABEL_PATTERN
    read = dict(audio=audio, label_pattern=pattern, manifest=manifest, id_column=id_column,
                label_column=label_column, time_column=time_column)
    console = Console(highlight=False)
    train = _read(data, **read)
    clf.audio = train.audio
    test = None
    if test_pattern is not None:
        test, train = train.split(test_pattern)
        if not len(test):
            raise DataError(f"--test-pattern {test_pattern!r} matches no sequence of {data}")
        if not len(train):
            raise DataError(f"--test-pattern {test_pattern!r} matches every sequence of {data}; nothing is left to train on")
    val = None
    if valid_pattern is not None:
        val, train = train.split(valid_pattern, "--valid-pattern")
        if not len(val) or not len(train):
            raise DataError(f"--valid-pattern {valid_pattern!r} matches {'no' if not len(val) else 'every'} training sequence of {data}")
    elif valid is not None:
        val = _read(valid, **{**read, "audio": train.audio})  # the training files' sample rate
    console.print(f"data: {data}: {len(train)} training sequences, {train.n_features} features"
                  + (f" ({train.audio.n_mfcc} MFCCs, deltas {train.audio.deltas}, {train.audio.sample_rate} Hz)" if train.audio else ""))
    console.print(f"classes: {_count_labels(train.labels)}")
    if val is not None:
        console.print(f"validation: {len(val)} sequences" + (f" from {valid}" if valid else f" matching {valid_pattern!r}"))
    elif valid_fraction > 0:
        console.print(f"validation: {valid_fraction:g} of the training sequences (stratified, seed {seed})")
    if test is not None:
        console.print(f"test: {len(test)} sequences matching {test_pattern!r} (not trained or validated on)")
    clf.data_info_ = {"label_pattern": pattern if _is_audio(data) and manifest is None else None,
                      "test_pattern": test_pattern}
    clf.fit(train.sequences, train.labels, valid=(val.sequences, val.labels) if val is not None else None)
    clf.save(out)
    console.print(f"{clf.cell} model, {clf.count_params()} parameters; best epoch {clf.best_epoch_} "
                  f"of {len(clf.history_['loss'])}; trained in {clf.fit_seconds_:.1f} s")
    if "val_accuracy" in clf.history_:
        console.print(f"valid accuracy: {clf.history_['val_accuracy'][clf.best_epoch_ - 1]:.4f}")
    if test is not None:
        console.print(f"test accuracy: {clf.score(test.sequences, test.labels):.4f} ({len(test)} sequences)")
    console.print(f"model saved to {out}")


def _load(model: Path, resample: bool) -> Any:
    from lstmkit.tasks.sequences.classifier import SequenceClassifier

    clf = SequenceClassifier.load(model)
    if resample and clf.audio is not None:
        clf.audio = replace(clf.audio, resample=True)
    return clf


def _read_for(clf: Any, data: Path, what: str, **kw: Any) -> Any:
    """``data`` read the way ``clf`` was trained (its audio config); audio for an array model is an error."""
    if not data.exists():
        raise DataError(f"{what} not found: {data}")
    if _is_audio(data) and clf.audio is None:
        raise InputValueError(f"{what} {data} is audio but the model was trained on arrays with {clf.n_features_} features")
    return _read(data, audio=clf.audio, **kw)


@seq_app.command("classify")
def classify(
    model: Annotated[Path, typer.Argument(help="A model file from seq train-classifier.", show_default=False)],
    input: Annotated[Path, typer.Argument(help="A .wav file, a folder of them, or an .npz / .csv / .ts array file.", show_default=False)],
    resample: Resample = False,
    id_column: IdColumn = "id",
    time_column: TimeColumn = None,
    all_labels: Annotated[bool, typer.Option("--all", help="A probability column for every label (default: when there are at most 4).")] = False,
) -> None:
    """Print the label of each sequence in INPUT with its probability (and those of the runners-up, or of every label)."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    clf = _load(model, resample)
    data = _read_for(clf, input, "input", labels_required=False, id_column=id_column, time_column=time_column,
                     label_pattern=None)
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


@seq_app.command("evaluate")
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
) -> None:
    """Accuracy, macro-F1 and the confusion matrix of a model on labelled DATA."""
    from rich.console import Console
    from rich.table import Table

    from lstmkit.data.sequences import DEFAULT_LABEL_PATTERN
    from lstmkit.tasks.text.classifier import classification_report

    clf = _load(model, resample)
    pattern = label_pattern or clf.data_info_.get("label_pattern") or DEFAULT_LABEL_PATTERN
    test = _read_for(clf, data, "data", include=test_pattern, label_pattern=pattern, manifest=manifest,
                     id_column=id_column, label_column=label_column, time_column=time_column)
    labels = clf.match_labels(test.labels)
    unknown = sorted({str(y) for y in labels} - {str(c) for c in clf.classes_})
    if unknown:
        raise DataError(f"{data}: label(s) {', '.join(unknown[:5])} are not among the model's labels "
                        f"({', '.join(map(str, clf.classes_))})")
    rep = classification_report(labels, clf.predict(test.sequences), clf.classes_)
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


__all__ = ["seq_app"]
