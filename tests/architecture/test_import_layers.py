"""The floors of docs/ARCHITECTURE.md stay true: no import runs back up, and there are no cycles.

Every ``import`` of the project's modules is read from the source (module level and inside
functions alike, since a function-level import is an arrow all the same), and checked against
the floors: ``canopic.core`` (ground) < ``optics``, ``analog`` < ``sensor`` < ``learn``, ``hil``
< ``canopic.app`` (roof). ``learn`` and ``hil`` stand side by side and never import each other.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("canopic", "optics", "analog", "sensor", "learn", "hil")
#: Floor of each part of the project; a module may import only its own floor's part or lower.
FLOORS = {"canopic.core": 0, "optics": 1, "analog": 1, "sensor": 2, "learn": 3, "hil": 3,
          "canopic.app": 4, "canopic.__main__": 4}
#: Aliases of moved modules kept for one release: outside the floors, imported by nothing.
DEPRECATED_ALIASES = {"canopic.units", "canopic.files", "canopic.paths", "canopic.bundle",
                      "canopic.cli"}
#: Side by side on one floor, never importing each other.
STRANGERS = {("learn", "hil"), ("hil", "learn")}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> "dict[str, Path]":
    return {module_name(path): path for package in PACKAGES
            for path in (ROOT / package).rglob("*.py")}


def imports_of(name: str, path: Path, known: "set[str]") -> "set[str]":
    """The project's modules that ``name`` imports (``from pkg import sub`` counts as pkg.sub)."""
    found = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[:len(here) - (node.level - 1)]
                base = ".".join(here + ([node.module] if node.module else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t.split(".")[0] in PACKAGES)
    return found


def part_of(module: str) -> str:
    for part in sorted(FLOORS, key=len, reverse=True):
        if module == part or module.startswith(part + "."):
            return part
    return module


def graph() -> "dict[str, set[str]]":
    modules = project_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def arrows_back_up(edges: "dict[str, set[str]]") -> "list[str]":
    bad = []
    for source, targets in sorted(edges.items()):
        if source in DEPRECATED_ALIASES or source == "canopic":
            continue
        for target in sorted(targets):
            if target in DEPRECATED_ALIASES:
                bad.append(f"{source} -> {target} (a deprecated alias)")
                continue
            if target == "canopic":
                continue            # the package's own version string and docstring
            here, there = part_of(source), part_of(target)
            if here not in FLOORS or there not in FLOORS:
                bad.append(f"{source} -> {target} (outside the floors)")
            elif FLOORS[there] > FLOORS[here] or (here, there) in STRANGERS:
                bad.append(f"{source} -> {target} ({here} floor {FLOORS[here]} -> {there} floor "
                           f"{FLOORS[there]})")
    return bad


def cycles(edges: "dict[str, set[str]]") -> "list[list[str]]":
    """Strongly connected components of more than one module (Tarjan), or self-imports."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in edges:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_runs_back_up_the_floors():
    assert arrows_back_up(graph()) == []


def test_there_are_no_import_cycles():
    assert cycles(graph()) == []


def test_the_checks_catch_an_arrow_up_and_a_cycle():
    planted = {"optics.a": {"sensor.camera"}, "sensor.camera": {"optics.a"},
               "hil.x": {"learn.y"}, "learn.y": set(), "canopic.core.z": {"canopic.app.cli"},
               "canopic.app.cli": set(), "analog.q": {"canopic.units"}, "canopic.units": set()}
    bad = arrows_back_up(planted)
    assert any(line.startswith("optics.a -> sensor.camera") for line in bad)
    assert any(line.startswith("hil.x -> learn.y") for line in bad)
    assert any(line.startswith("canopic.core.z -> canopic.app.cli") for line in bad)
    assert any("deprecated alias" in line for line in bad)
    assert cycles(planted) == [["optics.a", "sensor.camera"]]


@pytest.mark.parametrize("alias", sorted(DEPRECATED_ALIASES))
def test_deprecated_aliases_warn_and_still_work(alias):
    import importlib
    import sys
    import warnings

    sys.modules.pop(alias, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(alias)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    new = importlib.import_module(alias.replace("canopic.", "canopic.app." if alias ==
                                                "canopic.cli" else "canopic.core."))
    for name in getattr(new, "__all__", ("main", "build_parser")):
        assert getattr(module, name) is getattr(new, name)
