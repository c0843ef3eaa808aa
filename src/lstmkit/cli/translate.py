"""``lstmkit translate``: thin commands over :class:`lstmkit.tasks.translate.translator.Translator`.

* ``lstmkit translate train DATA.tsv --src en --tgt es -o MODEL [--epochs N | --minutes M]``
  (columns 1 and 2 of the file unless ``--columns``; ``--target-file`` for two aligned plain-text files);
* ``lstmkit translate MODEL "text"`` or ``lstmkit translate MODEL --input FILE`` (one sentence a line);
* ``lstmkit translate evaluate MODEL TEST.tsv [--split test]``: BLEU and chrF through sacrebleu, with
  their signatures;
* ``lstmkit translate align MODEL "text" -o align.png``: the attention heatmap of one sentence.

Every user mistake is an :class:`~lstmkit.errors.LstmkitError`: one line ``error: ...`` and exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from lstmkit.errors import ConfigError, InputValueError


class TranslateGroup(TyperGroup):
    """``lstmkit translate MODEL ...`` runs the hidden ``run`` command when the first word is not a subcommand."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "run", self.commands["run"], args
        return super().resolve_command(ctx, args)


def _columns(text: str) -> tuple[int, int]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise ConfigError(f"--columns: expected two 1-based column numbers such as 1,2, found {text!r}")
    return int(parts[0]), int(parts[1])


def _sentences(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputValueError(f"--input {str(path)!r}: cannot read it ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputValueError(f"--input {str(path)!r} line {line}: not UTF-8 (byte {exc.start}); convert it, "
                              "e.g. iconv -t utf-8") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for i, line in enumerate(lines, 1):
        if not line.strip():
            raise InputValueError(f"--input {str(path)!r} line {i}: empty line; expected one sentence a line")
    if not lines:
        raise InputValueError(f"--input {str(path)!r}: the file is empty")
    return [line.rstrip("\r") for line in lines]


def register(app: typer.Typer) -> None:
    """Add the translation commands to ``lstmkit translate``."""

    @app.command("train")
    def train(
        data: Annotated[Path, typer.Argument(help="Tab-separated pairs, one a line (a third column is kept as "
                                                  "attribution).", show_default=False)],
        output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the model file.",
                                             show_default=False)],
        src: Annotated[str, typer.Option(help="Source language code (the --columns' first column).")] = "en",
        tgt: Annotated[str, typer.Option(help="Target language code (the second column).")] = "es",
        columns: Annotated[str, typer.Option(help="Source and target column numbers, 1-based.")] = "1,2",
        target_file: Annotated[Optional[Path], typer.Option("--target-file", help="DATA is then a plain-text file of "
                                                             "source sentences and this one holds their translations, "
                                                             "line by line.")] = None,
        epochs: Annotated[Optional[int], typer.Option(help="Epochs (default 10 unless --minutes is given).")] = None,
        minutes: Annotated[Optional[float], typer.Option(help="Training time budget in minutes.")] = None,
        model: Annotated[str, typer.Option(help="lstm, transformer (the baseline) or copy (the copy-source baseline).")] = "lstm",
        attention: Annotated[str, typer.Option(help="bahdanau, dot, general or none.")] = "bahdanau",
        vocab_size: Annotated[int, typer.Option(help="Subword vocabulary size per language.")] = 8000,
        emb: Annotated[int, typer.Option(help="Embedding size.")] = 256,
        hidden: Annotated[int, typer.Option(help="LSTM size.")] = 256,
        tie_embeddings: Annotated[bool, typer.Option("--tie-embeddings", help="Share the target embedding with "
                                                     "the output layer (one shared vocabulary).")] = False,
        split_key: Annotated[Optional[str], typer.Option(help="Which language's sentence the hash split uses "
                                                         "(default: en if it is one side, else --src).")] = None,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
        verbose: Annotated[bool, typer.Option("--verbose/--quiet", help="Show training progress.")] = True,
    ) -> None:
        """Train a translation model on DATA.tsv's training split and save it."""
        from lstmkit.tasks.translate.translator import Translator

        from lstmkit.data.parallel import read_parallel_files

        key = split_key or ("en" if "en" in (src, tgt) else src)
        cols = _columns(columns)
        tr = Translator(src=src, tgt=tgt, model=model, attention=attention, vocab_size=vocab_size, emb=emb,
                        hidden=hidden, tie_embeddings=tie_embeddings, split_key=key, seed=seed)
        source: Any = data if target_file is None else read_parallel_files(data, target_file)
        tr.fit(source, epochs=epochs, minutes=minutes, columns=cols, verbose=1 if verbose else 0)
        tr.save(output)
        last = tr.history_[-1] if tr.history_ else {}
        typer.echo(f"{src}->{tgt} {model}" + (f" ({attention} attention)" if model == "lstm" else "")
                   + f": {tr.count_params():,} parameters, trained {tr.train_seconds_:.0f} s"
                   + (f", validation BLEU (greedy) {last['val_bleu']:.2f}" if "val_bleu" in last else ""))
        typer.echo(f"model saved to {output}")
        typer.echo(tr.attribution_)

    @app.command("run", hidden=True)
    def run(
        model: Annotated[Path, typer.Argument(help="A model file from lstmkit translate train.", show_default=False)],
        text: Annotated[Optional[str], typer.Argument(help="The sentence to translate.", show_default=False)] = None,
        input: Annotated[Optional[Path], typer.Option("--input", help="A file of sentences, one a line.")] = None,
        beam: Annotated[int, typer.Option(help="Beam size (1: greedy).")] = 5,
    ) -> None:
        """Translate TEXT or the lines of --input with MODEL (``lstmkit translate MODEL "text"``)."""
        from lstmkit.tasks.translate.translator import Translator

        if (text is None) == (input is None):
            raise ConfigError("translate: give the sentence as an argument or --input FILE, not both or neither")
        if isinstance(beam, bool) or beam < 1:
            raise ConfigError(f"--beam: expected an integer >= 1, found {beam}")
        tr = Translator.load(model)
        sentences = [text] if text is not None else _sentences(input)
        for line in tr.translate(sentences, beam=beam):
            typer.echo(line)

    @app.command("evaluate")
    def evaluate(
        model: Annotated[Path, typer.Argument(help="A model file from lstmkit translate train.", show_default=False)],
        data: Annotated[Path, typer.Argument(help="Tab-separated test pairs.", show_default=False)],
        columns: Annotated[str, typer.Option(help="Source and target column numbers, 1-based.")] = "1,2",
        split: Annotated[str, typer.Option(help="all (the whole file), or test / valid / train: that part of the "
                                                "model's hash split of the file.")] = "all",
        beam: Annotated[int, typer.Option(help="Beam size (1: greedy).")] = 5,
        limit: Annotated[Optional[int], typer.Option(help="Evaluate on the first N pairs only.")] = None,
        reverse: Annotated[bool, typer.Option("--reverse", help="The file's columns are in the other direction "
                                                            "(e.g. an en-es file for an es->en model).")] = False,
    ) -> None:
        """BLEU and chrF (sacrebleu, with signatures) of MODEL on DATA."""
        from lstmkit.data.parallel import read_parallel_tsv
        from lstmkit.tasks.translate.translator import Translator

        tr = Translator.load(model)
        cols = _columns(columns)
        corpus = read_parallel_tsv(data, src_col=cols[0], tgt_col=cols[1])
        if reverse:
            corpus = corpus.reversed()
        r = tr.evaluate(corpus, split=split, beam=beam, limit=limit)
        typer.echo(f"{tr.config.src}->{tr.config.tgt} on {r['sentences']} pairs ({split}), beam {beam}")
        typer.echo(f"BLEU {r['bleu']:.2f}   signature: {r['bleu_signature']}")
        typer.echo(f"chrF {r['chrf']:.2f}   signature: {r['chrf_signature']}")
        typer.echo(f"BLEU against every reference of each distinct source ({r['distinct_sources']}): "
                   f"{r['bleu_multi_reference']:.2f}   signature: {r['bleu_multi_reference_signature']}")
        typer.echo(f"decoding: {r['sentences_per_s']:.1f} sentences/s")

    @app.command("align")
    def align(
        model: Annotated[Path, typer.Argument(help="A model file (an LSTM with attention).", show_default=False)],
        text: Annotated[str, typer.Argument(help="The sentence.", show_default=False)],
        output: Annotated[Path, typer.Option("--output", "-o", help="The PNG to write.", show_default=False)],
        beam: Annotated[int, typer.Option(help="Beam size (1: greedy).")] = 5,
    ) -> None:
        """Write the attention heatmap (source pieces against translated pieces) of TEXT as a PNG."""
        from lstmkit.tasks.translate.translator import Translator

        tr = Translator.load(model)
        path = tr.plot_alignment(text, output, beam=beam)
        typer.echo(tr.translate(text, beam=beam))
        typer.echo(f"alignment saved to {path}")
