"""What a learner meets: a replay miss explained first, and .env edits applied without a restart."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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


# -- JupyterLab that starts anywhere and leaves git clean ------------------------------------

LAB_METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": "3.11.7",
    },
}
"""What JupyterLab writes into a notebook once its kernel has started (the learner's own
Python patch version included)."""


def test_every_committed_notebook_is_tidy() -> None:
    from helpers._support.notebooks import tidy_notebooks

    assert tidy_notebooks(check=True) == [], "run `make tidy-notebooks`"


def test_the_save_hook_writes_what_is_committed() -> None:
    from helpers._support.notebooks import pre_save_hook

    path = NOTEBOOKS_DIR / "02_function_calling.ipynb"
    committed = path.read_text(encoding="utf-8")
    content = nbformat.reads(committed, as_version=4)
    content.metadata = nbformat.from_dict(LAB_METADATA)
    code = next(c for c in content.cells if c.cell_type == "code")
    code.metadata.update({"execution": {"iopub.status.busy": "2026-12-06T10:00:00Z"}})
    code.metadata.update({"scrolled": True})
    model = {"type": "notebook", "content": content}
    pre_save_hook(model, path="notebooks/02_function_calling.ipynb")
    assert nbformat.writes(nbformat.from_dict(model["content"])) + "\n" == committed


def _make_lab_line(env: dict[str, str]) -> str:
    import subprocess

    root = NOTEBOOKS_DIR.parent
    shown = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "lab"],
        cwd=root,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return " ".join(shown.replace("\\\n", " ").split())


def test_make_lab_adds_allow_root_as_root_and_no_browser_without_a_display() -> None:
    line = _make_lab_line({"LAB_PORT": "9999", "LAB_ARGS": "--ServerApp.ip=0.0.0.0"})
    assert "--ServerApp.port=9999" in line and "--ServerApp.ip=0.0.0.0" in line
    assert "--config=.jupyter/jupyter_server_config.py" in line
    assert "--LabApp.app_settings_dir=.jupyter/lab/settings" in line
    assert ("--allow-root" in line) == (os.getuid() == 0)
    assert "--no-browser" in line  # no DISPLAY in this environment
    assert "--no-browser" not in _make_lab_line({"DISPLAY": ":0"})


def test_a_lab_save_leaves_the_file_unchanged_and_no_news_popup(tmp_path: Path) -> None:
    """Start JupyterLab as `make lab` configures it, save a notebook the way the lab does (with
    a started kernel's metadata), and read the notification settings a fresh profile gets."""
    import json
    import shutil
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    root = NOTEBOOKS_DIR.parent
    shutil.copy(NOTEBOOKS_DIR / "01_authentication.ipynb", tmp_path / "nb.ipynb")
    committed = (tmp_path / "nb.ipynb").read_bytes()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = "test-token"
    lab = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", f"--config={root}/.jupyter/jupyter_server_config.py",
         f"--LabApp.app_settings_dir={root}/.jupyter/lab/settings",
         f"--LabApp.user_settings_dir={tmp_path}/user-settings",
         f"--ServerApp.root_dir={tmp_path}", f"--ServerApp.port={port}", "--no-browser",
         "--allow-root", f"--IdentityProvider.token={token}"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
    base = f"http://127.0.0.1:{port}"

    def call(path: str, data: bytes | None = None, method: str = "GET") -> Any:
        request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer)

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                model = call("/api/contents/nb.ipynb?content=1")
                break
            except OSError:
                if time.monotonic() > deadline or lab.poll() is not None:
                    raise
                time.sleep(0.5)
        content = model["content"]
        content["metadata"] = LAB_METADATA
        body = json.dumps({"type": "notebook", "format": "json", "content": content}).encode()
        call("/api/contents/nb.ipynb", body, "PUT")
        assert (tmp_path / "nb.ipynb").read_bytes() == committed
        notification = call("/lab/api/settings/@jupyterlab/apputils-extension:notification")
        assert notification["schema"]["properties"]["fetchNews"]["default"] == "false"
        assert notification["schema"]["properties"]["checkForUpdates"]["default"] is False
    finally:
        lab.terminate()
        lab.wait(timeout=20)
