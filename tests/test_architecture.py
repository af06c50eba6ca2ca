"""The package's folders are its layers (docs/architecture.md): imports point down, never in a circle.

Every import counts, including those inside functions and under ``TYPE_CHECKING``: a cycle that only type hints
close still ties the modules together for a reader and for mypyc.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import SOURCE

ROOT = SOURCE.parent
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()

#: What each layer may import, besides itself. Top-level modules (cli, regen, __init__...) may import anything.
ALLOWED = {
    "core": set(),
    "pcap": {"core"},
    "l2": {"core"},
    "io": {"core"},
    "net": {"core", "pcap", "l2"},
    "guests": {"core", "pcap", "l2", "net"},
    "topology": {"core", "pcap", "l2", "io", "net", "guests"},
    "scenario": {"core", "pcap", "l2", "io", "net", "guests", "topology"},
    "kernel": {"core", "pcap", "l2", "io", "net", "guests", "topology", "scenario", "realtime", "iocheck"},
    "live": {"core", "pcap", "l2", "io", "net", "guests", "topology", "scenario", "realtime", "kernel"},
    "iocheck": {"core", "pcap", "l2", "io", "net", "guests", "topology", "scenario"},
    "bench": {"core", "pcap", "l2", "io", "net", "guests", "topology", "scenario", "realtime", "buildinfo"},
    "report": {"core", "pcap", "l2", "io", "net", "guests", "topology", "scenario"},
    "testing": {"core", "pcap", "l2", "io", "net", "guests", "topology", "scenario"},
    "buildinfo": {"core", "l2", "net", "pcap"},
    "realtime": set(),
}
MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, by absolute name (``from .x import y`` gives ``x.y`` when that is one of
    ours, else ``x``)."""
    me = module_name(path)
    package = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def imports_of(path: Path) -> set[str]:
    """The vswitch modules ``path`` imports."""
    return {name for name in imported_modules(path) if name in MODULES and name != module_name(path)}


MODULES = {module_name(p): p for p in SOURCE.rglob("*.py")}
GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def layer(module: str) -> str:
    return module.split(".")[1] if "." in module else "vswitch"


def test_no_import_cycles():
    """Tarjan's strongly connected components; re-exports into a package's __init__ point back up, so edges
    into an ``__init__`` are left out."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in MODULES or MODULES[w].name == "__init__.py":
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert cycles == []


def test_every_import_of_a_vswitch_module_names_one_that_exists():
    """An import inside a function fails only when the function runs: ``frame.summary()`` imported a module that
    never existed."""
    missing = sorted(f"{module} imports {target}" for module, path in MODULES.items()
                     for target in imported_modules(path) if target.split(".")[0] == "vswitch" and target not in MODULES)
    assert missing == []


def test_every_import_points_down_the_layers():
    wrong = sorted(f"{module} imports {target}" for module, targets in GRAPH.items() for target in targets
                   if layer(module) in ALLOWED and layer(target) != layer(module)
                   and layer(target) not in ALLOWED[layer(module)])
    assert wrong == []


def test_the_layer_table_names_every_subpackage_and_the_docs_describe_each():
    subpackages = sorted(p.parent.name for p in SOURCE.glob("*/__init__.py"))
    assert set(subpackages) <= set(ALLOWED)
    assert [name for name in subpackages if f"`{name}/`" not in ARCHITECTURE] == []
    assert [name for name in subpackages if not ast.get_docstring(ast.parse((SOURCE / name / "__init__.py").read_text()))] == []


def test_no_module_is_longer_than_500_lines():
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_public_api_is_importable_from_the_package():
    import vswitch

    assert sorted(vswitch.__all__) == sorted(set(vswitch.__all__))
    assert [name for name in vswitch.__all__ if not hasattr(vswitch, name)] == []
