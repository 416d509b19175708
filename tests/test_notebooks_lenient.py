"""Nobody is stranded: every notebook runs to its end in lenient mode with no recordings at all.

An empty recordings file is the same, for the server, as a learner who edited every prompt:
every request is unrecorded and answered by lenient simulation. The notebook must still run
top to bottom, and the simulated answers must say that they are unrecorded.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from helpers._support.notebooks import Entry, registry, run_offline
from helpers.replay import RecordingsFile

ENTRIES = registry()


def _outputs_text(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return json.dumps([c.get("outputs", []) for c in notebook.cells if c.cell_type == "code"])


def _makes_model_calls(entry: Entry) -> bool:
    recordings = entry.path.parent / "recordings" / f"{entry.name}.yaml"
    if not recordings.exists():
        return False
    paths = [i.request.path for i in RecordingsFile.load(recordings).document.interactions]
    return any(p.endswith(("/chat/completions", "/responses")) for p in paths)


def _runs_to_its_end_with_every_request_unrecorded(entry: Entry, tmp_path: Path) -> None:
    RecordingsFile.new(tmp_path / f"{entry.name}.yaml", "curated").save()
    copy = tmp_path / f"{entry.name}.ipynb"
    copy.write_text(entry.path.read_text(encoding="utf-8"), encoding="utf-8")
    run_offline(copy, tmp_path, mode="lenient", cwd=entry.path.parent)
    if _makes_model_calls(entry):
        assert "[unrecorded]" in _outputs_text(copy), "no output says its answer is unrecorded"


def _test_class(entry: Entry) -> type:
    def test_runs_to_its_end_with_every_request_unrecorded(self: object, tmp_path: Path) -> None:
        _runs_to_its_end_with_every_request_unrecorded(entry, tmp_path)

    return type(f"TestLenient_{entry.name}", (), {
        "test_runs_to_its_end_with_every_request_unrecorded":
            test_runs_to_its_end_with_every_request_unrecorded,
    })  # fmt: skip


# One class per notebook, so that pytest-xdist's --dist loadscope spreads them over workers.
for _entry in ENTRIES:
    globals()[f"TestLenient_{_entry.name}"] = _test_class(_entry)
