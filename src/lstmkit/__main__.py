"""``python -m lstmkit ...``: the ``lstmkit`` command (what torchrun workers run under ``--nproc``)."""

from lstmkit.cli import app

if __name__ == "__main__":
    app()
