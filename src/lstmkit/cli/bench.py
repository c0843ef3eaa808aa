"""``lstmkit bench ...``: benchmarks that check the article's claims, each seeded and budgeted.

Thin commands: they parse options, call a task module and print. Each benchmark module adds its
commands to :data:`bench_app` through a ``register(bench_app)`` function called at the bottom.
"""

from __future__ import annotations

import typer

bench_app = typer.Typer(
    name="bench",
    help="Benchmarks: long-range memory (adding, copy), gradient flow, very long sequences.",
    no_args_is_help=True,
)


# Each benchmark module registers its commands here.
from lstmkit.cli import bench_scaling  # noqa: E402

bench_scaling.register(bench_app)
