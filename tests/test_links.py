"""Every link a reader can click resolves under ``make lab``.

``make lab`` serves the repository's root (``--ServerApp.root_dir=.``), so a link in a
notebook's markdown resolves relative to the notebook and must stay inside the checkout:
``../README.md#notebooks`` works, a link above the root would not. Anchors must name a
heading of the target (GitHub's slugs, which JupyterLab's Markdown viewer matches as well).
External links are checked for their form only (https, a host name); nothing is fetched.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MARKDOWN_FILES = [
    ROOT / "README.md",
    *sorted((ROOT / "helpers").rglob("README.md")),
    *sorted((ROOT / "docs").glob("*.md")),
]

# [text](target) and ![alt](target); the target ends at whitespace or the closing parenthesis.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^\s)>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def markdown_of(path: Path) -> str:
    """The markdown a reader sees: a notebook's markdown cells, or a Markdown file."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return "\n\n".join(
            "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in cells
            if c["cell_type"] == "markdown"
        )
    return path.read_text(encoding="utf-8")


def links_in(markdown: str) -> list[str]:
    """Link targets outside code blocks and inline code."""
    prose = INLINE_CODE.sub("", FENCE.sub("", markdown))
    return LINK.findall(prose)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors_of(path: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(FENCE.sub("", markdown_of(path)))}


def problem(source: Path, target: str) -> str | None:
    """What is wrong with one link target, or ``None``."""
    url = urlparse(target)
    if url.scheme:
        if url.scheme == "mailto":
            return None
        if url.scheme != "https":
            return f"{target}: external links must use https"
        if not url.hostname or "." not in url.hostname:
            return f"{target}: no host name"
        return None
    path_part, _, anchor = target.partition("#")
    destination = (source.parent / unquote(path_part)).resolve() if path_part else source
    if not destination.is_relative_to(ROOT):
        return f"{target}: outside the repository, which `make lab` serves"
    if not destination.exists():
        return f"{target}: no such file"
    if anchor:
        if destination.suffix not in {".md", ".ipynb"}:
            return f"{target}: an anchor into a file that has no headings"
        if anchor.lower() not in anchors_of(destination):
            return f"{target}: no heading #{anchor} in {destination.relative_to(ROOT)}"
    return None


@pytest.mark.parametrize(
    "path", [*NOTEBOOKS, *MARKDOWN_FILES], ids=lambda p: str(p.relative_to(ROOT))
)
def test_every_link_resolves_under_make_lab(path: Path) -> None:
    problems = [p for t in links_in(markdown_of(path)) if (p := problem(path, t))]
    assert not problems, "\n".join(problems)


def test_make_lab_serves_the_repository_root() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "--ServerApp.root_dir=." in recipe


def test_link_checks_catch_what_they_should(tmp_path: Path) -> None:
    notebook = ROOT / "notebooks" / "01_authentication.ipynb"
    assert problem(notebook, "../README.md#notebooks") is None
    assert problem(notebook, "../README.md#models") is None
    assert "no heading" in (problem(notebook, "../README.md#no-such-section") or "")
    assert "no such file" in (problem(notebook, "99_missing.ipynb") or "")
    assert "outside the repository" in (problem(notebook, "../../elsewhere.md") or "")
    assert "https" in (problem(notebook, "http://learn.microsoft.com/") or "")
    assert problem(notebook, "https://learn.microsoft.com/en-us/azure/") is None


def test_links_are_found_in_prose_but_not_in_code() -> None:
    markdown = "See [the index](../README.md#notebooks) and ![a figure](images/x.png).\n\n"
    markdown += "`[not](a-link.md)`\n\n```python\nprint('[nor](this.md)')\n```\n"
    assert links_in(markdown) == ["../README.md#notebooks", "images/x.png"]


def test_slugs_follow_githubs_rule() -> None:
    assert slug("What the guide got wrong") == "what-the-guide-got-wrong"
    assert slug("Step 3: `AzureOpenAI` with a dated api-version") == (
        "step-3-azureopenai-with-a-dated-api-version"
    )
