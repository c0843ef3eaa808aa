"""Shared by the CLI tests: run ``lstmkit`` in-process and check the one-line user-error contract."""

from __future__ import annotations

from typer.testing import CliRunner

from lstmkit.cli import app

runner = CliRunner()


def fails(args: list[str], *needles: str) -> str:
    """Run ``lstmkit ARGS``; assert exit code 2, one ``error: ...`` line on stderr holding every needle, no traceback."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in result.output, err
    for needle in needles:
        assert needle in err, err
    return err
