"""The package layering, read from the source (no import runs): every module of ksync
sits in one layer, imports only its own layer and those below it, faces never import
each other, and no modules import each other in a cycle when they load.

    process   server, cli, demo            start and stop everything
    faces     api, console, settings       parse input, call one service, format output
    control   control                      the controller and the services
    engine    replication, worker, monitoring
    access    store, kafka, devkafka       persistence, the librdkafka wrapper, test clusters
    domain    domain, spec, patterns       words and values every layer shares (no I/O)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

DOMAIN, ACCESS, ENGINE, CONTROL, FACES, PROCESS = range(6)
LAYER_NAMES = ["domain", "access", "engine", "control", "faces", "process"]

# Module (or package) -> layer; a module belongs to the longest prefix listed.
LAYERS = {
    "ksync": DOMAIN,  # the package itself: __version__
    "ksync.domain": DOMAIN,
    "ksync.spec": DOMAIN,
    "ksync.patterns": DOMAIN,
    "ksync.store": ACCESS,
    "ksync.kafka": ACCESS,
    "ksync.devkafka": ACCESS,
    "ksync.replication": ENGINE,
    "ksync.worker": ENGINE,
    "ksync.monitoring": ENGINE,
    "ksync.control": CONTROL,
    "ksync.api": FACES,
    "ksync.console": FACES,
    "ksync.settings": FACES,
    "ksync.server": PROCESS,
    "ksync.demo": PROCESS,
    "ksync.cli": PROCESS,
    "ksync.__main__": PROCESS,
}

# The faces users talk to: none may import another (they share services, not handlers).
# The app that mounts them all (ksync.api.app) and the API's shared parts (errors, deps,
# schemas, auth…) belong to none.
FACE_PACKAGES = {
    "native API": ("ksync.api.routes",),
    "Kafka Connect": ("ksync.api.compat.connect",),
    "Tencent Cloud": ("ksync.api.compat.tencent",),
    "console": ("ksync.console",),
    "CLI": ("ksync.cli",),
}

# Imports that break the layering today and are being removed by work under way; each
# must still exist (so the entry goes when the import does), and no other may appear.
KNOWN_UPWARD: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {
    module_name(p): p
    for p in sorted((SRC / "ksync").rglob("*.py"))
    if "migrations" not in p.parts
}


def owner(name: str, table: dict[str, int]) -> int | None:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in table:
            return table[prefix]
    return None


def resolve(target: str) -> str:
    """The ksync module an import names (a `from package import module` names the module)."""
    while target not in MODULES and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


def imports(name: str, *, module_level_only: bool = False) -> Iterator[str]:
    """The ksync modules `name` imports (in functions and TYPE_CHECKING blocks too, unless
    `module_level_only`: then only what runs when it loads)."""
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    package = name if MODULES[name].name == "__init__.py" else name.rsplit(".", 1)[0]
    nodes = _loaded_at_import(tree.body) if module_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            if target == "ksync" or target.startswith("ksync."):
                yield resolve(target)


def _loaded_at_import(body: list[ast.stmt]) -> Iterator[ast.AST]:
    for stmt in body:
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            yield from _loaded_at_import(stmt.orelse)
        elif isinstance(stmt, (ast.If, ast.Try)):
            yield from _loaded_at_import(stmt.body)
            yield from _loaded_at_import(stmt.orelse)
            if isinstance(stmt, ast.Try):
                for handler in stmt.handlers:
                    yield from _loaded_at_import(handler.body)
                yield from _loaded_at_import(stmt.finalbody)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            yield stmt


def test_every_module_has_a_layer() -> None:
    unplaced = [name for name in MODULES if owner(name, LAYERS) is None]
    assert not unplaced, f"put these modules in a layer in tests/test_layering.py: {unplaced}"


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = set()
    for name in MODULES:
        mine = owner(name, LAYERS)
        assert mine is not None
        for target in imports(name):
            theirs = owner(target, LAYERS)
            if theirs is not None and theirs > mine:
                upward.add((name, target))
    unexpected = sorted(upward - KNOWN_UPWARD)
    assert not unexpected, "\n".join(
        f"{a} ({LAYER_NAMES[owner(a, LAYERS) or 0]}) imports {b} "
        f"({LAYER_NAMES[owner(b, LAYERS) or 0]})"
        for a, b in unexpected
    )
    gone = sorted(KNOWN_UPWARD - upward)
    assert not gone, f"these imports are gone: remove them from KNOWN_UPWARD: {gone}"


def test_no_face_imports_another_face() -> None:
    faces = {prefix: face for face, prefixes in FACE_PACKAGES.items() for prefix in prefixes}

    def face_of(name: str) -> str | None:
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            if ".".join(parts[:i]) in faces:
                return faces[".".join(parts[:i])]
        return None

    crossing = sorted(
        f"{name} ({face_of(name)}) imports {target} ({face_of(target)})"
        for name in MODULES
        for target in imports(name)
        if face_of(name) is not None
        and face_of(target) is not None
        and face_of(target) != face_of(name)
    )
    assert not crossing, "\n".join(crossing)


def test_no_modules_import_each_other_in_a_cycle_when_they_load() -> None:
    graph: dict[str, set[str]] = {}
    for name in MODULES:
        # Importing a.b.c runs the packages a and a.b first, unless the importer is inside
        # them (then they are already loading).
        mine = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        edges = set()
        for target in imports(name, module_level_only=True):
            parts = target.split(".")
            edges.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        graph[name] = {t for t in edges - mine if t in MODULES}
    cycles = _cycles(graph)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize(
    ("name", "layer"),
    [("ksync.domain.task", DOMAIN), ("ksync.api.compat.connect.routes", FACES),
     ("ksync.cli", PROCESS), ("ksync.cli.tasks", PROCESS)],
)
def test_modules_belong_to_the_longest_prefix(name: str, layer: int) -> None:
    assert owner(name, LAYERS) == layer
