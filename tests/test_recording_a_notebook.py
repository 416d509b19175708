"""`make record` end to end: a notebook recorded through the recorder replays identically."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import StartServer

from helpers import Settings
from helpers._support.notebooks import NOTEBOOKS_DIR, record_notebook, run_offline
from helpers.replay import RecordingsFile

CANARY = "canary-key-record-4e8b1f"
NOTEBOOK = "03_structured_outputs"


def _outputs(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return [json.dumps(c["outputs"]) for c in cells if c["cell_type"] == "code"]


def test_recorded_notebook_replays_with_the_same_outputs(
    start_server: StartServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = start_server(NOTEBOOKS_DIR / "recordings" / f"{NOTEBOOK}.yaml", api_key=CANARY)
    notebook = tmp_path / f"{NOTEBOOK}.ipynb"
    shutil.copyfile(NOTEBOOKS_DIR / f"{NOTEBOOK}.ipynb", notebook)
    target = tmp_path / f"{NOTEBOOK}.yaml"
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("REPLAY_MODE", "replay")
    settings = Settings(endpoint=f"http://localhost:{upstream.port}", api_key=CANARY)

    record_notebook(notebook, target, settings)

    recorded = target.read_text()
    assert RecordingsFile.load(target).document.provenance == "recorded"
    assert CANARY not in recorded and f"localhost:{upstream.port}" not in recorded
    assert CANARY not in notebook.read_text()
    assert _outputs(notebook) == _outputs(NOTEBOOKS_DIR / f"{NOTEBOOK}.ipynb")

    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    run_offline(notebook, tmp_path)
    assert _outputs(notebook) == _outputs(NOTEBOOKS_DIR / f"{NOTEBOOK}.ipynb")
