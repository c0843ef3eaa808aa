"""``lstmkit text train-classifier | classify | evaluate``: thin commands over :mod:`lstmkit.tasks.text.classifier`.

Every user mistake is an :class:`~lstmkit.errors.LstmkitError`, which the root group turns into one
line ``error: ...`` and exit code 2. ``train-classifier --nproc N`` trains in N torchrun processes
(:mod:`lstmkit.cli._options`); rank 0 alone prints and saves the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lstmkit.cli._options import NprocOption, PrecisionOption, check_precision_option, launch_workers, main_echo
from lstmkit.errors import ConfigError, DataError, InputValueError


def _fmt(label: Any) -> str:
    return str(label)


def register(text_app: typer.Typer) -> None:
    """Add the text-classification commands to ``lstmkit text``."""

    @text_app.command("train-classifier")
    def train_classifier(
        data: Annotated[Path, typer.Argument(help="Training data: .csv, .tsv, .jsonl, or a folder of class-named subfolders of .txt files.", show_default=False)],
        output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the model file.", show_default=False)],
        text_field: Annotated[str, typer.Option(help="Field / column holding the text.")] = "text",
        label_field: Annotated[str, typer.Option(help="Field / column holding the label (string or int).")] = "label",
        valid: Annotated[Optional[Path], typer.Option(help="Validation data (same format): early stopping and the architecture choice on its accuracy.")] = None,
        valid_fraction: Annotated[Optional[float], typer.Option(help="Without --valid: the fraction of DATA held out (stratified) for validation; 0: none. Default: from the data (about 500 texts, 10-20%).", show_default=False)] = None,
        epochs: Annotated[Optional[int], typer.Option(help="Maximum epochs. Default: from the data (enough for 300 steps, 10-200).", show_default=False)] = None,
        patience: Annotated[Optional[int], typer.Option(help="Early stopping: epochs without a better validation accuracy. Default: a fifth of the epochs, at least 3.", show_default=False)] = None,
        batch_size: Annotated[Optional[int], typer.Option(help="Batch size. Default: from the number of texts (4-32).", show_default=False)] = None,
        learning_rate: Annotated[float, typer.Option(help="Adam's learning rate.")] = 0.001,
        clip_norm: Annotated[Optional[float], typer.Option(help="Clip the norm of all gradients together to this (default: no clipping).", show_default=False)] = None,
        units: Annotated[int, typer.Option(help="LSTM units (per direction).")] = 64,
        embedding_dim: Annotated[Optional[int], typer.Option(help="Embedding size. Default: from the number of training tokens (32 below 500k, 64 below 10M, else 128).", show_default=False)] = None,
        max_length: Annotated[Optional[int], typer.Option(help="Tokens kept per text (--truncation says which). Default: the 95th percentile of the training texts' token counts, at most 1024.", show_default=False)] = None,
        max_tokens: Annotated[int, typer.Option(help="Vocabulary size (padding and OOV included).")] = 20000,
        min_count: Annotated[int, typer.Option(help="Words seen fewer times in the training texts are out-of-vocabulary.")] = 2,
        pooling: Annotated[Optional[str], typer.Option(help="What the classifier reads: last (final state), mean, max or attention; auto (default): chosen on validation with --bidirectional.", show_default=False)] = None,
        bidirectional: Annotated[Optional[bool], typer.Option("--bidirectional/--no-bidirectional", help="Bidirectional LSTM or not. Default: chosen on validation with --pooling.", show_default=False)] = None,
        attention: Annotated[bool, typer.Option("--attention", help="Attention pooling over all steps (= --pooling attention).")] = False,
        attention_units: Annotated[int, typer.Option(help="Size of the attention's hidden layer.")] = 64,
        cell: Annotated[str, typer.Option(help="Recurrent cell: lstm, gru or simple_rnn.")] = "lstm",
        dropout: Annotated[float, typer.Option(help="Dropout before the classifier, in [0, 1).")] = 0.5,
        embedding_dropout: Annotated[float, typer.Option(help="Dropout on the embedding features (one mask per text, shared by its steps), in [0, 1).")] = 0.5,
        pretrain_epochs: Annotated[int, typer.Option(help="Epochs of language-model pre-training on the training texts before fine-tuning (0: none).")] = 0,
        level: Annotated[str, typer.Option(help="Tokens: 'word' or 'char'.")] = "word",
        truncation: Annotated[str, typer.Option(help="Which end of a long text is cut: pre keeps the last tokens, post the first.")] = "pre",
        standardize: Annotated[str, typer.Option(help="Text clean-up before splitting: lower_and_strip_punctuation, lower, strip_punctuation or none.")] = "lower_and_strip_punctuation",
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
        threads: Annotated[int, typer.Option(help="torch threads (1 is robust on a small or busy CPU).")] = 1,
        encoding: Annotated[str, typer.Option(help="Text encoding of the data files.")] = "utf-8",
        quiet: Annotated[bool, typer.Option("--quiet", help="Do not print the chosen defaults and the per-epoch lines (warnings are still printed).")] = False,
        nproc: NprocOption = "1",
        precision: PrecisionOption = None,
    ) -> None:
        """Train an LSTM text classifier on labelled texts and save it as one model file.

        Settings left out are chosen from the data, one line each on stderr (e.g. max_length=40: 95th
        percentile ...); then one line per epoch, and at the end how many epochs ran and which was kept.
        """
        from rich.console import Console

        from lstmkit.tasks.text.classifier import TextClassifier, read_dataset
        from lstmkit.train import distributed
        from lstmkit.train.precision import resolve_precision
        from lstmkit.util.checks import prepare_output

        # Checked before any worker starts, so a mistake is one line and exit 2 even with --nproc N
        # (a failing torchrun worker would come back wrapped in torchrun's own report).
        nproc = distributed.validate_nproc(nproc)
        prec = check_precision_option(precision)
        resolve_precision(prec, "cpu")  # bf16 without bf16 units: one line, before any work
        if valid is not None and valid_fraction is not None:
            raise ConfigError("--valid-fraction: not used with --valid FILE (the file is the validation set); give one of them")
        clf = TextClassifier(
            units=units, embedding_dim=embedding_dim, max_tokens=max_tokens, min_count=min_count, max_length=max_length,
            bidirectional=bidirectional, attention=attention, attention_units=attention_units,
            pooling=None if pooling in (None, "auto") else pooling, cell=cell, dropout=dropout,
            embedding_dropout=embedding_dropout, learning_rate=learning_rate, clip_norm=clip_norm, patience=patience,
            valid_fraction=valid_fraction, pretrain_epochs=pretrain_epochs, epochs=epochs, batch_size=batch_size,
            level=level, truncation=truncation, standardize=None if standardize == "none" else standardize,
            seed=seed, threads=threads, precision=prec, verbose=not quiet,
        )
        clf.check_params()  # every hyper-parameter, before reading data or starting workers
        out = prepare_output(output)  # fail before training when the output cannot be written
        train = read_dataset(data, text_field, label_field, encoding=encoding)
        val = read_dataset(valid, text_field, label_field, encoding=encoding) if valid is not None else None
        launch_workers(nproc)  # --nproc N > 1: runs again in N workers; returns in the one that trains
        distributed.init_from_env()  # in a worker: join the group now, so only rank 0 prints and saves
        try:
            console = Console(soft_wrap=True)  # one line per message, whatever the terminal's width
            say = main_echo(console.print)
            say(f"training on {len(train)} texts from {data}, {len(set(train.labels))} classes"
                + (f"; validating on {len(val)} from {valid}" if val is not None else "")
                + (f"; {distributed.world_size()} processes" if distributed.world_size() > 1 else ""))
            clf.fit(train.texts, train.labels, valid=(val.texts, val.labels) if val is not None else None)
            if distributed.is_main():
                clf.save(out)
                say(f"labels: {', '.join(map(_fmt, clf.classes_))}")
                say(f"model: {clf.describe_fit()}")
                say(f"train accuracy: {clf.score(train.texts, train.labels):.4f}")
                val_acc = clf.history_.get("val_accuracy") or []
                if val is not None:
                    say(f"valid accuracy: {clf.score(val.texts, val.labels):.4f} (best epoch {clf.best_epoch_})")
                elif val_acc:
                    say(f"held-out validation accuracy ({clf.valid_fraction_:.0%} of {data}): "
                        f"{val_acc[clf.best_epoch_ - 1]:.4f} (best epoch {clf.best_epoch_})")
                say(f"epochs: {clf.epochs_run_} run, epoch {clf.best_epoch_} kept")
                say(f"trained in {clf.fit_seconds_:.1f} s; model saved to {out}")
            distributed.barrier()  # leave together: rank 0's saving and printing must not race the others' exit
        finally:
            distributed.shutdown()

    @text_app.command("classify")
    def classify(
        model: Annotated[Path, typer.Argument(help="A model file from train-classifier.", show_default=False)],
        text: Annotated[Optional[str], typer.Argument(help="The text to classify.", show_default=False)] = None,
        file: Annotated[Optional[Path], typer.Option("--file", help="Classify each line of this file.")] = None,
        encoding: Annotated[str, typer.Option(help="Text encoding of --file.")] = "utf-8",
    ) -> None:
        """Print the label of a text (or of each line of --file) and the probability of every label."""
        from rich.console import Console
        from rich.table import Table

        from lstmkit.tasks.text.classifier import TextClassifier

        if (text is None) == (file is None):
            raise InputValueError("give either a TEXT argument or --file FILE (one text per line), not both or neither")
        if text is not None and not text.strip():
            raise InputValueError("TEXT: the text is empty; give a text to classify, or --file FILE (one text per line)")
        clf = TextClassifier.load(model)
        if file is not None:
            from lstmkit.data.readers import read_text

            content = read_text(file, kind="text", encoding=encoding)
            texts = [line for line in content.splitlines() if line.strip()]
            if not texts:
                raise DataError(f"text file has no non-blank lines: {file}")
        else:
            texts = [text]
        probs = clf.predict_proba(texts)
        table = Table(show_header=True, header_style="bold")
        table.add_column("label")
        for c in clf.classes_:
            table.add_column(f"P({_fmt(c)})", justify="right")
        table.add_column("text")
        for t, p in zip(texts, probs):
            short = t if len(t) <= 60 else t[:57] + "..."
            table.add_row(_fmt(clf.classes_[int(p.argmax())]), *(f"{v:.3f}" for v in p), short)
        Console().print(table)

    @text_app.command("evaluate")
    def evaluate(
        model: Annotated[Path, typer.Argument(help="A model file from train-classifier.", show_default=False)],
        data: Annotated[Path, typer.Argument(help="Labelled test data (.csv, .tsv, .jsonl or a class folder).", show_default=False)],
        text_field: Annotated[str, typer.Option(help="Field / column holding the text.")] = "text",
        label_field: Annotated[str, typer.Option(help="Field / column holding the label.")] = "label",
        train: Annotated[Optional[Path], typer.Option(help="Training data: fit a TF-IDF + logistic-regression baseline on it and score it on DATA too.")] = None,
        encoding: Annotated[str, typer.Option(help="Text encoding of the data files.")] = "utf-8",
    ) -> None:
        """Accuracy, macro-F1 and confusion matrix on DATA (and a TF-IDF + LR baseline with --train)."""
        from rich.console import Console
        from rich.table import Table

        from lstmkit.tasks.text.classifier import TextClassifier, classification_report, read_dataset, tfidf_baseline

        clf = TextClassifier.load(model)
        test = read_dataset(data, text_field, label_field, encoding=encoding)
        test.labels = clf.match_labels(test.labels)
        known = set(clf.classes_)
        unknown = sorted({str(y) for y in test.labels if y not in known})
        if unknown:
            raise DataError(
                f"{data}: label(s) {', '.join(unknown[:5])} are not among the model's labels "
                f"({', '.join(map(_fmt, clf.classes_))}); check --label-field"
            )
        results = [("lstmkit model", classification_report(test.labels, clf.predict(test.texts), clf.classes_))]
        if train is not None:
            tr = read_dataset(train, text_field, label_field, encoding=encoding)
            pred = tfidf_baseline(tr.texts, tr.labels, test.texts)
            results.append(("TF-IDF + LR baseline", classification_report(test.labels, pred, clf.classes_)))
        console = Console()
        summary = Table(title=f"{data} ({len(test)} texts)", show_header=True, header_style="bold")
        summary.add_column("model")
        summary.add_column("accuracy", justify="right")
        summary.add_column("macro-F1", justify="right")
        for name, rep in results:
            summary.add_row(name, f"{rep.accuracy:.4f}", f"{rep.macro_f1:.4f}")
        console.print(summary)
        if train is None:
            console.print("(no baseline: pass --train DATA to fit a TF-IDF + logistic-regression baseline)")
        for name, rep in results:
            cm = Table(title=f"confusion matrix: {name}", caption="rows: true label, columns: predicted", show_header=True)
            cm.add_column("true \\ predicted")
            for c in rep.labels:
                cm.add_column(_fmt(c), justify="right")
            for c, row in zip(rep.labels, rep.confusion):
                cm.add_row(_fmt(c), *(str(int(v)) for v in row))
            console.print(cm)
