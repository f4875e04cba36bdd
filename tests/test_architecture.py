"""The package's shape: dependencies run one way, so no module ever imports, even lazily, a module
that imports it back.

An import inside a function hides a cycle from Python until the day an import order changes; an
AST walk sees every ``import`` statement wherever it sits, so this test fails on the first edge
that closes a loop, and names the loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "python_pkg" / "nbops"
#: The faces: the core never imports them.
FACES = ("nbops.magics", "nbops.prompt_magics", "nbops.cli", "nbops.widgets", "nbops.server")


def module_names(root: Path) -> dict[str, Path]:
    """Dotted module name → file, for every module of the package rooted at ``root``."""
    found = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules ``name`` imports anywhere in its file (top level, functions, TYPE_CHECKING)."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            # ``from pkg import sub`` imports the submodule; ``from mod import name`` the module.
            targets = [
                f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # ``import a.b.c`` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def graph(root: Path) -> dict[str, set[str]]:
    modules = module_names(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def describe(component: list[str], edges: dict[str, set[str]]) -> str:
    members = set(component)
    arrows = [f"{a} -> {b}" for a in component for b in sorted(edges[a] & members)]
    return f"{len(component)} modules: " + "; ".join(arrows)


def test_the_package_has_no_import_cycle_lazy_imports_included() -> None:
    edges = graph(PACKAGE)
    assert len(edges) > 40  # the walk saw the package
    found = cycles(edges)
    assert not found, (
        "import cycles (lower layers must not import higher ones, even inside functions):\n"
        + "\n".join(describe(c, edges) for c in found)
    )


def test_the_core_never_imports_a_face() -> None:
    edges = graph(PACKAGE)

    def is_face(module: str) -> bool:
        return any(module == face or module.startswith(face + ".") for face in FACES)

    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in edges.items()
        if not is_face(module) and module != "nbops"
        for target in targets
        if is_face(target)
    )
    assert not wrong, "core modules importing faces: " + ", ".join(wrong)


def test_the_walk_finds_a_cycle_closed_by_an_import_inside_a_function(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text("def f():\n    from .sub import high\n    return high\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "high.py").write_text("from .. import low\n")
    (pkg / "other.py").write_text("import pkg.low\n")
    edges = graph(pkg)
    assert edges["pkg.other"] == {"pkg.low"}
    assert cycles(edges) == [["pkg.low", "pkg.sub.high"]]
