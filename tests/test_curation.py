"""The curate scripts write their recordings byte for byte as committed.

Every curated recordings file is the output of a script (``notebooks/recordings/curate_*.py``,
``tests/recordings/curate_*.py``), most of them built on :mod:`helpers.replay.recordings.curate`.
Each script runs here on a copy of its file (the scripts that answer a draft run's requests
read it first), and the copy must come out equal to the committed file: a change to a script,
or to the builders they share, that changes a recording shows up here.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(
    [
        *(ROOT / "notebooks" / "recordings").glob("curate_*.py"),
        *(ROOT / "tests" / "recordings").glob("curate_*.py"),
    ]
)
STALE: dict[str, str] = {}
"""Scripts whose committed file was last written otherwise than by the script as it is now."""


def _case(script: Path) -> object:
    reason = STALE.get(script.stem)
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(script, marks=marks, id=script.stem)


@pytest.mark.parametrize("script", [_case(s) for s in SCRIPTS])
def test_a_curate_script_rewrites_its_recordings_unchanged(
    script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location(f"_curate_{script.stem}", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # for the dataclasses a script defines
    monkeypatch.chdir(ROOT)  # the scripts name their inputs relative to the project root
    spec.loader.exec_module(module)
    name = "PATH" if hasattr(module, "PATH") else "TARGET"
    committed = ROOT / getattr(module, name)
    copy = tmp_path / committed.name
    shutil.copyfile(committed, copy)
    monkeypatch.setattr(module, name, copy)
    module.main()
    assert copy.read_bytes() == committed.read_bytes()
