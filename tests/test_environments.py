"""The one-click environments: a dev container (Codespaces) and Binder, checked offline.

Neither can be started here; what can be checked is that their files parse, that the commands
they run exist, and that their Python agrees with the project's.
"""

from __future__ import annotations

import json
import re
import stat
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][\w-]*):", text, re.MULTILINE))


def project_python() -> str:
    """The Python the project asks for (``requires-python = ">=3.11"`` -> ``3.11``)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = re.search(r"(\d+\.\d+)", project["requires-python"])
    assert found
    return found.group(1)


def test_the_dev_container_installs_with_make_and_forwards_the_lab_port() -> None:
    config = json.loads((ROOT / ".devcontainer" / "devcontainer.json").read_text())
    command = config["postCreateCommand"].split()
    assert command[0] == "make" and set(command[1:]) <= make_targets()
    assert "install" in command  # the README's install step
    lab_port = re.search(r"^LAB_PORT \?= (\d+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert lab_port and int(lab_port.group(1)) in config["forwardPorts"]
    assert f":1-{project_python()}-" in config["image"]  # the image's Python is the project's
    attach = re.findall(r"make (\w[\w-]*)", config["postAttachCommand"])
    assert attach and set(attach) <= make_targets()


def _dependencies(path: Path) -> list[str]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    (pip,) = [d["pip"] for d in document["dependencies"] if isinstance(d, dict)]
    conda = [d for d in document["dependencies"] if isinstance(d, str)]
    return conda + list(pip)


def test_binder_builds_the_top_level_environment_then_installs_the_package() -> None:
    top = _dependencies(ROOT / "environment.yml")
    binder = _dependencies(ROOT / "binder" / "environment.yml")
    assert top[-1] == "--editable ." and binder == top[:-1]
    assert f"python={project_python()}" in binder
    post_build = ROOT / "binder" / "postBuild"
    assert post_build.stat().st_mode & stat.S_IXUSR, "postBuild must be executable"
    script = post_build.read_text(encoding="utf-8")
    assert "pip install --no-deps -e ." in script
    for copied in re.findall(r"^cp (\S+)", script, re.MULTILINE):
        assert (ROOT / copied).is_file(), f"postBuild copies {copied}, which does not exist"
