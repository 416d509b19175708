"""The cookbook's notebooks: registry, headless runs and re-recording.

    python -m helpers._support.notebooks run [NN_topic ...] [--write]
    python -m helpers._support.notebooks record NN_topic
    python -m helpers._support.notebooks index
    python -m helpers._support.notebooks nav

``notebooks/registry.yaml`` lists every notebook (title, description, tags);
the README's table of contents is generated from it and a test keeps the two,
and the files on disk, in step.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from pydantic import BaseModel, ConfigDict

from ..replay.config import Mode, ReplayConfig, project_root
from ..replay.recordings.store import RecordingsFile
from ..replay.server import ReplayServer
from .settings import Settings

NOTEBOOKS_DIR = project_root() / "notebooks"
REGISTRY = NOTEBOOKS_DIR / "registry.yaml"
CELL_TIMEOUT = 120
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


class Entry(BaseModel):
    """One notebook in the registry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    section: int
    name: str
    title: str
    description: str
    tags: list[str]

    @property
    def path(self) -> Path:
        return NOTEBOOKS_DIR / f"{self.name}.ipynb"


def registry() -> list[Entry]:
    data = yaml.safe_load(REGISTRY.read_text(encoding="utf-8"))
    return [Entry.model_validate(item) for item in data["notebooks"]]


def index_markdown() -> str:
    """The README's table of contents."""
    rows = ["| # | Notebook | What you will learn |", "|---|---|---|"]
    for entry in registry():
        link = f"[{entry.title}](notebooks/{entry.name}.ipynb)"
        rows.append(f"| {entry.section} | {link} | {entry.description} |")
    return "\n".join(rows)


NAV_TAG = "navigation"


def navigation_markdown(entries: list[Entry], position: int) -> str:
    """The "previous | contents | next" line for the notebook at ``position``."""
    parts = []
    if position > 0:
        before = entries[position - 1]
        parts.append(f"[← {before.section}. {before.title}]({before.name}.ipynb)")
    parts.append("[Contents](../README.md#notebooks)")
    if position + 1 < len(entries):
        after = entries[position + 1]
        parts.append(f"[{after.section}. {after.title} →]({after.name}.ipynb)")
    return " | ".join(parts)


def update_navigation() -> list[Path]:
    """Put the navigation line at the top and bottom of every notebook; return those changed."""
    entries = registry()
    changed = []
    for position, entry in enumerate(entries):
        notebook = nbformat.read(entry.path, as_version=4)
        text = navigation_markdown(entries, position)
        body = [c for c in notebook.cells if NAV_TAG not in c.metadata.get("tags", [])]
        cells = [
            nbformat.v4.new_markdown_cell(text, metadata={"tags": [NAV_TAG]}),
            *body,
            nbformat.v4.new_markdown_cell(text, metadata={"tags": [NAV_TAG]}),
        ]
        old = [(c.cell_type, c.source) for c in notebook.cells]
        if old != [(c.cell_type, c.source) for c in cells]:
            notebook.cells = cells
            nbformat.write(notebook, entry.path)
            changed.append(entry.path)
    return changed


def execute(
    path: Path,
    *,
    write: bool = False,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> None:
    """Run a notebook top to bottom in a fresh kernel (from its own folder, or ``cwd``)."""
    notebook = nbformat.read(path, as_version=4)
    previous = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        NotebookClient(
            notebook,
            timeout=CELL_TIMEOUT,
            kernel_name="python3",
            resources={"metadata": {"path": str(cwd or path.parent)}},
            record_timing=False,
            # The kernel talks to this process over loopback only; its warning about
            # unencrypted TCP says nothing a learner can act on.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        ).execute()
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if write:
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs = _coalesce_streams(cell.outputs)
        tidy(notebook)
        nbformat.write(notebook, path)


# ------------------------------------------------------------------ committed metadata, tidy

CELL_METADATA_KEPT = ("tags",)
"""Cell metadata worth committing; the rest is one viewer's state (``execution`` timings,
``scrolled``, ``collapsed``, ``jupyter.outputs_hidden``) and differs between machines."""


def tidy(notebook: nbformat.NotebookNode) -> bool:
    """Reduce a notebook's metadata to what every machine agrees on: the kernel's name and the
    language, not the interpreter's patch version or the viewer's layout. True if it changed.

    JupyterLab fills ``kernelspec.display_name`` and the whole ``language_info`` (including the
    learner's own Python version) when a kernel starts; the save hook in ``.jupyter/`` and
    ``make tidy-notebooks`` both call this, so opening, running and saving leaves no diff.
    """
    wanted = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    changed = notebook.metadata != wanted
    notebook.metadata = wanted
    for cell in notebook.cells:
        kept = {k: v for k, v in cell.get("metadata", {}).items() if k in CELL_METADATA_KEPT}
        if kept != cell.get("metadata", {}):
            cell.metadata = nbformat.from_dict(kept)
            changed = True
    return changed


def pre_save_hook(model: dict[str, Any], **_: Any) -> None:
    """Jupyter server's ``FileContentsManager.pre_save_hook``: tidy a notebook before it is
    written (``.jupyter/jupyter_server_config.py`` installs it for ``make lab``)."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    notebook = nbformat.from_dict(model["content"])
    tidy(notebook)
    model["content"] = notebook


def tidy_notebooks(check: bool = False) -> list[Path]:
    """Tidy every notebook of the cookbook in place (or, with ``check``, only report)."""
    changed = []
    for path in sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        if tidy(notebook):
            changed.append(path)
            if not check:
                nbformat.write(notebook, path)
    return changed


def _coalesce_streams(outputs: list[nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    """Join consecutive stdout (or stderr) outputs, which a kernel splits at random points."""
    merged: list[nbformat.NotebookNode] = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (
            last is not None
            and output.output_type == "stream"
            and last.output_type == "stream"
            and last.name == output.name
        ):
            last.text += output.text
        else:
            merged.append(output)
    return merged


def _select(names: list[str]) -> list[Entry]:
    entries = registry()
    if not names:
        return entries
    chosen = [e for e in entries if e.name in names or f"{e.section:02d}" in names]
    unknown = set(names) - {e.name for e in chosen} - {f"{e.section:02d}" for e in chosen}
    if unknown:
        raise SystemExit(f"unknown notebook(s): {', '.join(sorted(unknown))}")
    return chosen


def run(names: list[str], write: bool) -> int:
    failures = 0
    started = time.perf_counter()
    for entry in _select(names):
        t0 = time.perf_counter()
        try:
            execute(entry.path, write=write)
            status = "ok  "
        except CellExecutionError as exc:
            failures += 1
            status = "FAIL"
            detail = str(exc).strip().splitlines()
            print("\n".join(f"      {line}" for line in detail[-12:]), file=sys.stderr)
        print(f"{status} {entry.name:<32} {time.perf_counter() - t0:6.1f} s", flush=True)
    total = time.perf_counter() - started
    print(f"{'all notebooks ran' if not failures else f'{failures} failed'} in {total:.1f} s")
    return 1 if failures else 0


def run_offline(
    path: Path, recordings: Path | str, *, mode: str = "replay", cwd: Path | None = None
) -> None:
    """Run a notebook on the embedded replay server in ``mode``, with the recordings in the
    folder ``recordings`` (no Azure endpoint, no drafts), and write its outputs."""
    env = {
        "AZURE_OPENAI_ENDPOINT": "",
        "REPLAY_URL": "embedded",
        "REPLAY_MODE": mode,
        "REPLAY_DRAFT": "",
        "REPLAY_RECORDINGS_DIR": str(recordings),
    }
    execute(path, write=True, env=env, cwd=cwd)


def record_notebook(notebook: Path, target: Path, settings: Settings) -> None:
    """Run ``notebook`` through a local recorder to ``settings.endpoint``; write ``target``.

    The kernel's clients send the real credentials (the recorder forwards them and
    never writes them down). Then the notebook runs again, offline, on what was
    recorded, and those outputs are the ones saved: the committed notebook shows
    exactly what a learner sees offline. ``target`` is replaced only if both runs pass.
    """
    if settings.endpoint is None:
        raise ValueError("recording needs AZURE_OPENAI_ENDPOINT (your Azure OpenAI resource)")
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / target.name
        RecordingsFile.new(fresh, "recorded").save()
        config = ReplayConfig(
            mode=Mode.RECORD, upstream=settings.endpoint, recordings=[fresh], record_to=fresh
        )
        with ReplayServer(config) as server:
            execute(notebook, env={"AZURE_OPENAI_ENDPOINT": "", "REPLAY_URL": server.url})
        run_offline(notebook, scratch)
        shutil.copyfile(fresh, target)


def record(name: str) -> int:
    """Re-record one notebook against the Azure resource in ``.env`` and refresh its outputs."""
    settings = Settings.from_env()
    if settings.offline:
        print("make record needs AZURE_OPENAI_ENDPOINT in .env (your Azure OpenAI resource).")
        return 2
    (entry,) = _select([name])
    target = NOTEBOOKS_DIR / "recordings" / f"{entry.name}.yaml"
    record_notebook(entry.path, target, settings)
    print(f"recorded {entry.name}: {target.relative_to(project_root())} and refreshed outputs")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers._support.notebooks")
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="execute notebooks headless")
    run_cmd.add_argument("names", nargs="*", help="NN or NN_topic (default: all)")
    run_cmd.add_argument("--write", action="store_true", help="save the outputs into the files")
    record_cmd = commands.add_parser("record", help="re-record a notebook against Azure")
    record_cmd.add_argument("name")
    commands.add_parser("index", help="print the README table of contents")
    commands.add_parser("nav", help="update the navigation line in every notebook")
    tidy_cmd = commands.add_parser("tidy", help="reduce every notebook's metadata to the kernel")
    tidy_cmd.add_argument("--check", action="store_true", help="only list untidy notebooks")
    args = parser.parse_args(argv)
    if args.command == "tidy":
        untidy = tidy_notebooks(check=args.check)
        for path in untidy:
            print(f"{'untidy' if args.check else 'tidied'} {path.relative_to(project_root())}")
        return 1 if args.check and untidy else 0
    if args.command == "run":
        return run(args.names, args.write)
    if args.command == "record":
        return record(args.name)
    if args.command == "nav":
        for path in update_navigation():
            print(f"updated {path.relative_to(project_root())}")
        return 0
    print(index_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
