"""The layers of the house, checked: who may import whom, with every import counted
(function-local ones and those under TYPE_CHECKING too).

Run it as `python scripts/check_layers.py` (pre-commit and `make test` do); it prints one
line per broken rule and exits 1 when there is any. docs/architecture.md says why the
layers are what they are; this file says what they are.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("digest", "workers")

# Lowest first. A module may import its own layer and the layers before it, never after.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("errors", ("digest.errors",)),
    ("core", ("digest.core",)),
    ("edges", ("digest.gather", "digest.content", "digest.render", "digest.mail")),
    ("config", ("digest.config",)),
    ("wiring", ("digest.wiring",)),
    ("store", ("digest.store",)),
    ("services", ("digest.services",)),
    ("pipeline", ("digest.pipeline",)),
    ("runtime", ("digest.runtime",)),
    ("faces", ("digest.cli", "digest.web", "digest.__main__")),
    ("workers", ("workers",)),
)
# The edges know nothing of each other: each one is a room of its own.
EDGES = ("digest.gather", "digest.content", "digest.render", "digest.mail")
FACES = ("digest.cli", "digest.web")
# Only the faces hand work to the workers, through their dispatcher alone.
FACE_TO_WORKERS = ("workers.dispatch",)
# Third-party packages that belong to one layer.
ONLY_IN = {
    "sqlalchemy": ("digest.store",),
    "alembic": ("digest.store",),
    "celery": ("workers",),
    "kombu": ("workers",),
}
# The package itself (digest/__init__.py) holds the version only; anyone may read it.
ANYONE = ("digest",)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str  # a module of the project, or a third-party top-level name
    line: int


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of digest/ and workers/ by dotted name (migration revisions included)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            found[_module_name(path, root)] = path
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module `name` refers to (a module, or a name inside one), else None."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    """Every import in the file, wherever it stands, resolved to project modules (or to
    the top-level name of a third-party package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # `from a import b` may name module a.b: count it, else count a.
            targets = [f"{module}.{alias.name}" for alias in node.names] or [module]
        for target in targets:
            resolved = _resolve(target, modules)
            if resolved is not None:
                if resolved != name:
                    yield Import(name, resolved, node.lineno)
            elif target.split(".")[0] not in PACKAGES:
                yield Import(name, target.split(".")[0], node.lineno)


def _within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def layer_of(module: str) -> int | None:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if _within(module, prefixes):
            return rank
    return None


def _edge_of(module: str) -> str | None:
    return next((e for e in EDGES if _within(module, (e,))), None)


def rule_problems(imp: Import, modules: dict[str, Path]) -> list[str]:
    where = f"{imp.importer} (line {imp.line})"
    if imp.imported not in modules:  # third party
        allowed = ONLY_IN.get(imp.imported)
        if allowed and not _within(imp.importer, allowed):
            return [f"{where} imports {imp.imported}, which only {', '.join(allowed)} may"]
        return []
    if imp.imported in ANYONE:
        return []
    problems = []
    low, high = layer_of(imp.importer), layer_of(imp.imported)
    if low is None:
        problems.append(f"{where}: {imp.importer} is in no layer; add it to LAYERS")
    elif high is None:
        problems.append(f"{where} imports {imp.imported}, which is in no layer")
    elif high > low and not (
        _within(imp.importer, FACES) and _within(imp.imported, FACE_TO_WORKERS)
    ):
        problems.append(
            f"{where} imports {imp.imported}: {LAYERS[low][0]} may not import "
            f"{LAYERS[high][0]}, a later layer"
        )
    ours, theirs = _edge_of(imp.importer), _edge_of(imp.imported)
    if ours and theirs and ours != theirs:
        problems.append(f"{where} imports {imp.imported}: one edge may not import another")
    if _within(imp.importer, FACES) and _within(imp.imported, ("digest.store",)):
        problems.append(f"{where} imports {imp.imported}: the faces go through services")
    return problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def problems(root: Path = ROOT) -> list[str]:
    modules = project_modules(root)
    found: list[str] = []
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        for imp in imports_of(name, path, modules):
            found += rule_problems(imp, modules)
            if imp.imported in modules and imp.imported not in ANYONE:
                graph.setdefault(name, set()).add(imp.imported)
    for group in cycles(graph):
        found.append("import cycle: " + " <-> ".join(group))
    return found


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
