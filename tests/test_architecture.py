"""The layout's two rules, checked from the source's imports (every import, lazy ones inside functions too).

1. Imports point one way, down the layer list below: a module may import only modules of its own
   layer or of lower ones.
2. No circles: the graph of module imports has no cycle (a lazy import still makes a circle).

Imports inside ``if TYPE_CHECKING:`` never run and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "lstmkit"

# Lowest first. The first matching prefix wins.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("util", ("lstmkit._version", "lstmkit.errors", "lstmkit._aliases", "lstmkit.util")),
    ("nn", ("lstmkit.nn",)),
    ("train", ("lstmkit.train",)),
    ("layers/models", ("lstmkit.layers", "lstmkit.models", "lstmkit.utils", "lstmkit.keras")),
    ("data", ("lstmkit.data",)),
    ("tasks", ("lstmkit.tasks",)),
    ("bench/inspect", ("lstmkit.bench", "lstmkit.inspect")),
    ("stream/serve", ("lstmkit.stream", "lstmkit.serve", "lstmkit.export", "lstmkit.interop", "lstmkit.memory")),
    ("cli", ("lstmkit.cli", "lstmkit.__main__")),
]


def layer_of(module: str) -> int:
    if module == "lstmkit":
        return len(LAYERS)  # the root package only re-exports lazily
    for i, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    raise AssertionError(f"{module} belongs to no layer; add it to LAYERS in {__file__}")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_pkg = path.name == "__init__.py"
        deps: set[str] = set()
        tree = ast.parse(path.read_text(), str(path))
        type_only = {id(n) for block in ast.walk(tree) if _is_type_checking_block(block) for n in ast.walk(block)}
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in files else mod for a in node.names]
            for t in targets:
                if not t.startswith("lstmkit"):
                    continue
                while t not in files and "." in t:  # "import lstmkit.a.b" names module lstmkit.a.b
                    t = t.rsplit(".", 1)[0]
                if t != name:
                    deps.add(t)
        graph[name] = deps
    return graph


def _is_type_checking_block(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` blocks never run; their imports are for type checkers only."""
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


GRAPH = import_graph()


def test_every_module_has_a_layer():
    for name in GRAPH:
        layer_of(name)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down_the_layers(module):
    mine = layer_of(module)
    upward = sorted(d for d in GRAPH[module] if d != "lstmkit" and layer_of(d) > mine)
    assert not upward, (
        f"{module} ({LAYERS[mine][0]}) imports {upward}, which sit in higher layers "
        f"({', '.join(LAYERS[layer_of(d)][0] for d in upward)})"
    )


def test_no_import_cycles():
    # Tarjan's strongly connected components; a component of more than one module is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not cycles, f"import circles: {cycles}"


def test_the_root_package_imports_nothing_heavy():
    # `import lstmkit` stays light: the version, the errors and the alias table; lstmkit.load imports
    # the registry only when called.
    assert GRAPH["lstmkit"] <= {"lstmkit._version", "lstmkit.errors", "lstmkit._aliases", "lstmkit.util.registry"}
