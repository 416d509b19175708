"""What a learner meets: a replay miss explained first, and .env edits applied without a restart."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from helpers._support import settings as settings_module
from helpers._support.notebooks import NOTEBOOKS_DIR
from helpers._support.settings import Settings

MISS_CELLS = [
    "from helpers import connect\nazure = connect('01_authentication')",
    "azure.client.chat.completions.create(model=azure.chat_deployment,"
    " messages=[{'role': 'user', 'content': 'A prompt nobody recorded.'}])",
]


def test_a_replay_miss_in_a_notebook_shows_the_missing_recording_and_diff_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in MISS_CELLS]
    )
    for name, value in {
        "AZURE_OPENAI_ENDPOINT": "",
        "REPLAY_MODE": "replay",
        "REPLAY_URL": "embedded",
    }.items():
        monkeypatch.setenv(name, value)
    NotebookClient(
        notebook, timeout=60, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    ).execute()  # fmt: skip
    (error,) = [o for o in notebook.cells[1].outputs if o.output_type == "error"]
    shown = "\n".join(error.traceback)
    assert shown.startswith("This request has no recording")
    assert "Missing recording:" in shown and "Most similar recorded request" in shown
    assert '"content": "A prompt nobody recorded."' in shown
    assert "traceback folded: BadRequestError raised in your cell, line 1" in shown
    assert len(error.traceback) == 1


def test_editing_replay_mode_in_dotenv_takes_effect_at_the_next_settings_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REPLAY_MODE", raising=False)
    monkeypatch.setattr(settings_module, "_FROM_DOTENV", set())
    dotenv = tmp_path / ".env"
    dotenv.write_text("REPLAY_MODE=replay\n")
    try:
        assert Settings.from_env().replay_mode == "replay"
        dotenv.write_text("REPLAY_MODE=lenient\n")
        assert Settings.from_env().replay_mode == "lenient"
    finally:
        os.environ.pop("REPLAY_MODE", None)


def test_a_real_environment_variable_still_wins_over_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(settings_module, "_FROM_DOTENV", set())
    monkeypatch.setenv("REPLAY_MODE", "replay")
    (tmp_path / ".env").write_text("REPLAY_MODE=lenient\n")
    assert Settings.from_env().replay_mode == "replay"
