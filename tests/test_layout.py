"""The layout a newcomer can guess, enforced: one name per section, imports that point one way.

notebook ``NN_topic.ipynb`` ↔ ``helpers/topic.py`` (or ``helpers/topic/``) ↔
``tests/test_topic.py``;
what notebooks never import lives in ``helpers/_support/``; the replay server imports no lesson.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HELPERS = ROOT / "helpers"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TOPICS = [p.stem[3:] for p in NOTEBOOKS]
LESSONS = set(TOPICS)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def python_files() -> Iterator[Path]:
    yield from sorted(HELPERS.rglob("*.py"))


def imports_of(path: Path) -> set[str]:
    """Every helpers module a file imports, absolute or relative, at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("helpers"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("helpers"):
                continue
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)
    found = {m for m in found if _exists(m)}
    # Importing a.b.c runs a/b/__init__ first: parent packages count (all but the root, whose
    # __init__ only re-exports connect() for notebooks).
    parents = {".".join(m.split(".")[:i]) for m in found for i in range(2, m.count(".") + 1)}
    return found | parents


def _exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def lesson_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LESSONS else None


def test_there_are_nineteen_sections() -> None:
    assert len(NOTEBOOKS) == 19


@pytest.mark.parametrize("topic", TOPICS)
def test_each_notebook_has_its_helper_and_its_test_module(topic: str) -> None:
    helper = HELPERS / f"{topic}.py"
    package = HELPERS / topic / "__init__.py"
    assert helper.is_file() or package.is_file(), f"no helpers/{topic}.py or helpers/{topic}/"
    assert (ROOT / "tests" / f"test_{topic}.py").is_file(), f"no tests/test_{topic}.py"


def test_every_lesson_module_is_named_after_a_notebook() -> None:
    modules = {p.stem for p in HELPERS.glob("*.py") if p.stem != "__init__"}
    packages = {p.parent.name for p in HELPERS.glob("*/__init__.py")}
    strays = (modules | packages) - LESSONS - {"replay", "_support"}
    assert not strays, f"not named after a notebook (move to helpers/_support/?): {sorted(strays)}"


@pytest.mark.parametrize("package", ["helpers.replay", "helpers._support"])
def test_the_server_and_support_import_no_lesson_module(package: str) -> None:
    offenders = {
        f"{module_name(p)} -> {m}"
        for p in python_files()
        if module_name(p).startswith(package)
        for m in imports_of(p)
        if lesson_of(m)
    }
    assert not offenders, sorted(offenders)


def test_no_import_cycles_inside_helpers() -> None:
    """Module-level and function-level imports alike: a hidden cycle is still a cycle.

    A package's ``__init__`` re-exporting its own submodules is not a cycle of its own, and a
    module importing its own package's ``__init__`` only means the package runs first.
    """
    graph: dict[str, set[str]] = {}
    for path in python_files():
        name = module_name(path)
        graph[name] = {m for m in imports_of(path) if m != name and not name.startswith(m + ".")}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_import_no_support_or_server_internals(path: Path) -> None:
    """Notebooks use the public API: ``helpers``, lesson modules, ``helpers.replay`` itself."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    bad = set()
    for node in ast.walk(ast.parse(code)):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.startswith("helpers._support") or name.startswith("helpers.replay."):
                bad.add(name)
    assert not bad, f"{path.name} imports internals: {sorted(bad)}"


SERVER_INTERNALS = frozenset({"state", "document", "app", "simulator", "simulators"})
"""Attributes of a server or a recordings file that are the replay server's own business:
notebooks use ``ReplayServer.reset()``, ``RecordingsFile.find()`` and the like instead."""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_reach_into_no_server_internals(path: Path) -> None:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    bad = {
        ast.unparse(node)
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Attribute) and node.attr in SERVER_INTERNALS
    }
    assert not bad, f"{path.name} reaches into the server: {sorted(bad)}"


# --- one exception root per package ----------------------------------------------------------

ROOTS = {"helpers": ("helpers._support.errors", "CookbookError"),
         "helpers.replay": ("helpers.replay.errors", "ReplayError")}  # fmt: skip
BUILTIN_EXCEPTIONS = {
    name for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}  # fmt: skip


def package_of(module: str) -> str:
    return "helpers.replay" if module.startswith("helpers.replay") else "helpers"


def exception_classes() -> dict[str, list[type[BaseException]]]:
    """Every exception class defined in a module of ``helpers``, imported, by package."""
    found: dict[str, list[type[BaseException]]] = {package: [] for package in ROOTS}
    for path in python_files():
        name = module_name(path)
        if name.endswith("__main__"):
            continue
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == name
            ):
                found[package_of(name)].append(value)
    return found


@pytest.mark.parametrize("package", sorted(ROOTS))
def test_every_exception_derives_from_its_packages_root(package: str) -> None:
    """At most one class per package (its root) derives directly and only from Python's own
    exceptions; every other derives from the root (and may add a builtin such as ValueError)."""
    module, root_name = ROOTS[package]
    root = getattr(importlib.import_module(module), root_name)
    classes = exception_classes()[package]
    assert root in classes and len(classes) > 3
    only_builtin = [
        c for c in classes if all(base.__module__ == "builtins" for base in c.__bases__)
    ]
    assert only_builtin == [root], [c.__qualname__ for c in only_builtin]
    strays = [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, root)]
    assert not strays, f"not a {root_name}: {strays}"


def test_no_exception_class_hides_inside_a_function_with_a_builtin_base() -> None:
    """Classes defined in a function are out of reach of the import walk above: read the
    source for any class anywhere whose bases are all Python's own exceptions."""
    roots = {name for _, name in ROOTS.values()}
    offenders = []
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef) or node.name in roots or not node.bases:
                continue
            bases = [b.id if isinstance(b, ast.Name) else None for b in node.bases]
            if all(b in BUILTIN_EXCEPTIONS for b in bases):
                offenders.append(f"{module_name(path)}.{node.name}({', '.join(map(str, bases))})")
    assert not offenders, offenders


def test_the_roots_are_importable_from_their_packages() -> None:
    import helpers
    import helpers.replay

    assert helpers.CookbookError.__name__ == "CookbookError"
    assert helpers.replay.ReplayError.__name__ == "ReplayError"
    assert not issubclass(helpers.replay.ReplayError, helpers.CookbookError)
