"""The project keeps its promises: one dependency list, an index that matches the files,
honest recordings headers, and notebooks that follow the cookbook's layout."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers._support.notebooks import NAV_TAG, index_markdown, navigation_markdown, registry
from helpers.replay import RecordingsFile
from helpers.replay.config import project_root

ROOT = project_root()
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RECORDINGS = (
    sorted((ROOT / "notebooks" / "recordings").glob("*.yaml"))
    + sorted((ROOT / "tests" / "recordings").glob("*.yaml"))
    + sorted((ROOT / "tests" / "live" / "recordings").glob("*.yaml"))
)


def _requirement_names(specs: list[str]) -> dict[str, str]:
    return {re.split(r"[<>=!~ \[]", spec, maxsplit=1)[0].lower(): spec for spec in specs}


def test_environment_yml_mirrors_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["dev"]
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    mirrored = [spec for spec in pip_section if not spec.startswith("-")]
    assert _requirement_names(mirrored) == _requirement_names(declared)
    assert "--editable ." in pip_section
    python = next(d for d in environment["dependencies"] if str(d).startswith("python="))
    assert project["requires-python"] == ">=" + python.split("=")[1]


def _imported_top_level_modules(folder: Path) -> set[str]:
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_every_third_party_import_in_helpers_is_a_declared_dependency() -> None:
    declared = set(
        _requirement_names(
            tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
        )
    )
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for module in sorted(_imported_top_level_modules(ROOT / "helpers")):
        if module in sys.stdlib_module_names or module in ("helpers", "__future__"):
            continue
        names = {d.lower() for d in distributions.get(module, [module])}
        if not names & declared:
            missing.append(f"{module} (from {', '.join(sorted(names))})")
    assert not missing, f"imported by helpers/ but not in pyproject.toml: {missing}"


def test_registry_lists_exactly_the_notebooks_on_disk_in_guide_order() -> None:
    entries = registry()
    assert [e.path for e in entries] == NOTEBOOKS
    assert [e.section for e in entries] == sorted(e.section for e in entries)
    for entry in entries:
        assert entry.name.startswith(f"{entry.section:02d}_")


def test_readme_index_is_generated_from_the_registry() -> None:
    readme = (ROOT / "README.md").read_text()
    assert index_markdown() in readme


def test_readme_first_screen_gives_the_two_commands() -> None:
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:20])
    assert "make run" in first_screen and "make test" in first_screen


def test_readme_index_sits_between_its_markers() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- index:start", 1)[1].split("<!-- index:end -->", 1)[0]
    assert block.split("-->", 1)[1].strip() == index_markdown()


def test_readme_first_screen_names_the_guide_and_starts_a_learner_on_notebook_1() -> None:
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:20])
    assert "Guide for Azure OpenAI" in first_screen and "19 sections" in first_screen
    assert "make lab" in first_screen and "notebook 1" in first_screen


def test_ci_runs_make_test() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.name)
def test_recordings_load_and_say_how_they_were_made(path: Path) -> None:
    recordings = RecordingsFile.load(path)
    assert recordings.document.description
    assert recordings.document.interactions
    assert not any(i.name == "draft" for i in recordings.document.interactions)
    if recordings.document.provenance == "curated":
        assert "NOT captured from a live Azure resource" in recordings.header
    for interaction in recordings.document.interactions:
        assert "api-key" not in interaction.response.headers
        assert "set-cookie" not in interaction.response.headers


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_recordings(path: Path) -> None:
    assert (ROOT / "notebooks" / "recordings" / f"{path.stem}.yaml").exists()


def _cells(path: Path, *, navigation: bool = False) -> list[dict[str, Any]]:
    cells = json.loads(path.read_text())["cells"]
    if navigation:
        return cells
    return [c for c in cells if NAV_TAG not in c.get("metadata", {}).get("tags", [])]


def _source(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else str(source)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_follows_the_cookbook_layout(path: Path) -> None:
    cells = _cells(path)
    markdown = [_source(c) for c in cells if c["cell_type"] == "markdown"]
    code = [_source(c) for c in cells if c["cell_type"] == "code"]
    section = int(path.name[:2])
    assert markdown[0].startswith(f"# {section}. ")
    assert "What you will learn" in markdown[0]
    assert any("What the guide got wrong" in m for m in markdown)
    assert any(m.startswith("## Recap") for m in markdown)
    assert any(m.startswith("## Try it") for m in markdown)
    assert "from helpers" in code[0] and f'connect("{path.stem}")' in code[0]
    assert any("curated" in m.lower() for m in markdown), "say the offline answers are curated"
    assert any("https://learn.microsoft.com/" in m for m in markdown), "link Microsoft Learn"
    guide_table = next(m for m in markdown if "What the guide got wrong" in m)
    assert "|" in guide_table, "the guide's mistakes as a short table (guide did / do instead)"


def test_every_notebook_opens_and_closes_with_current_navigation() -> None:
    entries = registry()
    for position, entry in enumerate(entries):
        cells = _cells(entry.path, navigation=True)
        expected = navigation_markdown(entries, position)
        for cell in (cells[0], cells[-1]):
            assert NAV_TAG in cell["metadata"].get("tags", []), entry.name
            assert _source(cell) == expected, "run: python -m helpers._support.notebooks nav"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_outputs_are_committed_and_clean(path: Path) -> None:
    for cell in _cells(path):
        if cell["cell_type"] != "code":
            continue
        source = _source(cell)
        assert cell["execution_count"] is not None, source[:60]
        assert "NBVAL_IGNORE_OUTPUT" not in source
        assert "input(" not in source and not re.search(r"^\s*!\s*pip", source, re.M)
        outputs = json.dumps(cell["outputs"])
        assert "local-replay-key" not in outputs
        assert not re.search(r"\b(sk-[A-Za-z0-9]{20,}|[0-9a-f]{32})\b", source + outputs)
        assert "/work/" not in outputs and "/home/" not in outputs, "machine-specific path"


ASSISTANTS_CALL = re.compile(
    r"beta\.(assistants|threads)|\bassistants\.create|\bthreads\.(create|runs)"
)


def test_no_notebook_calls_the_retired_assistants_api_except_to_show_it_failing() -> None:
    calls = []
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and ASSISTANTS_CALL.search(source):
                calls.append((path.name, "except openai.NotFoundError" in source))
    assert [name for name, shows_failure in calls if not shows_failure] == []
    assert len(calls) == 1, "exactly one cell shows the guide's Assistants call failing"
