"""``lstmkit export MODEL -o model.onnx [--int8] [--opset N] [--no-check]``: a thin command over :mod:`lstmkit.export.core`.

Writes ``model.onnx`` and the sidecar ``model.onnx.json`` (what the inputs and outputs mean, the
vocabulary and tokenisation of a text model), after checking on the spot that ONNX Runtime reproduces
lstmkit to 1e-5 (with ``--int8``: the int8 graph's largest difference is printed, checked against a
looser tolerance). Every user mistake, and a failed check, is one line ``error: ...`` and exit 2; the
output file is then left as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``lstmkit export`` to the root app."""

    @app.command("export")
    def export(
        model: Annotated[Path, typer.Argument(help="An lstmkit model file: a Keras-style model, text classifier, sentiment demo model, language model, forecaster or sequence classifier.", show_default=False)],
        output: Annotated[Path, typer.Option("--output", "-o", help="The ONNX file to write (its metadata also goes to OUTPUT.json).", show_default=False)],
        int8: Annotated[bool, typer.Option("--int8", help="Quantize the weights to int8 (ONNX Runtime dynamic quantization); checked with a looser tolerance.")] = False,
        opset: Annotated[int, typer.Option(help="ONNX opset to write (13 or newer).")] = 17,
        check: Annotated[bool, typer.Option("--check/--no-check", help="Check ONNX Runtime against lstmkit on sample inputs before writing (default).")] = True,
    ) -> None:
        """Export a model to ONNX with its recurrent state as explicit inputs and outputs, checked against lstmkit."""
        from lstmkit.export.core import INT8_TOLERANCE, TOLERANCE, write_onnx

        result = write_onnx(model, output, opset=opset, int8=int8, check=check)
        size = result.bytes / 1e6
        typer.echo(f"exported {result.kind} to {result.path} (opset {result.opset}{', int8' if int8 else ''}, "
                   f"{size:.2f} MB); metadata in {result.sidecar}")
        typer.echo(f"inputs: {', '.join(result.inputs)}; outputs: {', '.join(result.outputs)}")
        if result.checked:
            typer.echo(f"checked against lstmkit on {len(result.cases)} sample inputs ({'; '.join(result.cases)}): "
                       f"max |difference| {result.max_diff:.2g} (tolerance {TOLERANCE:g})")
            if int8:
                typer.echo(f"int8: max |difference| from lstmkit {result.int8_max_diff:.4g} "
                           f"(tolerance {INT8_TOLERANCE:g}, relative above 1)")
        else:
            typer.echo("not checked (--no-check)")


__all__ = ["register"]
