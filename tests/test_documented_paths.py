"""Nothing lost: every ``lstmkit.x.y`` path named in the README and docs still resolves.

Old paths from before the layout of issue 15 resolve through :mod:`lstmkit._aliases` to the same
objects as their new homes.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PATH = re.compile(r"\blstmkit(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def documented_paths() -> list[str]:
    found: set[str] = set()
    for doc in DOCS:
        for m in PATH.finditer(doc.read_text()):
            found.add(m.group(0).rstrip("."))
    return sorted(found)


def resolve(path: str) -> object:
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(path)


@pytest.mark.parametrize("path", documented_paths())
def test_documented_path_resolves(path):
    try:
        resolve(path)
    except (ModuleNotFoundError, AttributeError) as exc:
        pytest.fail(f"{path} is named in the docs but does not resolve ({exc})")


def test_old_paths_are_the_same_modules():
    from lstmkit._aliases import ALIASES

    for old, new in ALIASES.items():
        assert importlib.import_module(old) is importlib.import_module(new), old
