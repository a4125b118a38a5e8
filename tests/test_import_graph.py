"""No import circles inside ``server/ragls``, and every module imports.

The graph is read from the source with ``ast``: every ``import`` and ``from … import`` of a ragls
module counts, at module level or inside a function (a deferred import is still a dependency),
except those under ``if TYPE_CHECKING:``, which never run. An edge goes to the module named, or to
the submodule when ``from package import name`` names one.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ragls

PACKAGE_ROOT = Path(ragls.__file__).parent


def module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """The ragls modules that ``module``'s source imports."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package this module is in (or is)
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                # ``from ragls.lsp import convert`` imports the submodule ragls.lsp.convert;
                # ``from ragls.core.chunking import chunk_document`` the package itself
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in modules else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name in modules and name != module}


def import_graph() -> dict[str, set[str]]:
    names = module_names()
    return {
        module: _imports(ast.parse(path.read_text(encoding="utf-8"), str(path)), module, path.name == "__init__.py", set(names))
        for module, path in names.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as ``[a, b, …, a]``, or None (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_the_graph_sees_the_imports_it_must_see():
    # the checker itself: these edges exist in the code, in each of the forms it reads
    graph = import_graph()
    assert "ragls.core.types" in graph["ragls.core.chunking.windows"]  # from x.y import Name
    assert "ragls.lsp.convert" in graph["ragls.lsp.hover"]  # from package import submodule
    assert "ragls.lsp.server" in graph["ragls.cli"]  # an import inside a function
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_circles_inside_ragls():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " → ".join(cycle)


def test_every_ragls_module_imports():
    # In a fresh interpreter, so this process's imports cannot hide a module that only imports
    # after another one has been imported.
    modules = sorted(module_names())
    probe = (
        "import importlib, sys\n"
        "failed = []\n"
        f"for name in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(modules) > 50  # the walk found the package, not an empty folder
