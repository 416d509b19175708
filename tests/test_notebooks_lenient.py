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
        outputs = _outputs_text(copy)
        assert "[unrecorded]" in outputs, "no output says its answer is unrecorded"
        # Made-up numbers (token counts, scores) are marked under the cell that shows them.
        assert "answer(s) in this cell were made up by the replay server" in outputs


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


def test_an_edited_question_runs_the_tool_loop_on_the_learners_own_city(tmp_path: Path) -> None:
    """02 with the learner's own questions: the tools are called with the cities they typed, the
    round limit still stops a loop, and every cell that shows made-up numbers carries the
    notice."""
    (entry,) = [e for e in ENTRIES if e.name == "02_function_calling"]
    RecordingsFile.new(tmp_path / f"{entry.name}.yaml", "curated").save()
    original = entry.path.read_text(encoding="utf-8")
    asked = "Of Oslo, Lisbon and Sydney, where is it warmest right now"
    assert asked in original
    failing = "Is it cold in NYC right now?"
    assert failing in original
    copy = tmp_path / f"{entry.name}.ipynb"
    edited = original.replace(asked, "Is it warmer in Porto or in Nairobi right now")
    copy.write_text(edited.replace(failing, "Is it cold in LA right now?"))
    run_offline(copy, tmp_path, mode="lenient", cwd=entry.path.parent)
    notebook = nbformat.read(copy, as_version=4)
    texts = [
        "".join(o.get("text", "") for o in c.get("outputs", []))
        for c in notebook.cells
        if c.cell_type == "code"
    ]
    assert any("get_weather {'city': 'Porto'" in t for t in texts)
    assert not any("Oslo" in t for t in texts[:4])  # the recorded cities are gone
    # The failing tool is retried once with the learner's "LA", so max_rounds=1 still stops it.
    assert any('start  get_weather({"city":"LA"' in t for t in texts)
    assert any("the limit set by max_rounds=1" in t for t in texts)
    for text in texts:
        if "reasoning tokens:" in text:
            assert "answer(s) in this cell were made up" in text, text
