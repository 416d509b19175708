"""mkdocs hooks for `make site` (mkdocs.yml names this file).

- The README is the home page, and the navigation follows notebooks/registry.yaml.
- Links are rewritten to the pages they mean. The notebooks' navigation cells link
  ``NN_topic.ipynb`` and ``../README.md#notebooks``, which work in JupyterLab and on GitHub;
  mkdocs-jupyter renders them as they are, so they would be dead on the site.
- Headings get GitHub's anchors (what the README's and notebooks' links use), in the page and
  in its table of contents alike: mkdocs-jupyter slugs headings with inline code one way in
  the page and another in the table of contents.
- With ``repo_url`` set, each notebook page opens with "Open in ..." links.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import yaml
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent
NOTEBOOK = re.compile(r"^(\d\d_\w+)\.ipynb$")


def registry() -> list[dict[str, Any]]:
    data = yaml.safe_load((ROOT / "notebooks" / "registry.yaml").read_text(encoding="utf-8"))
    return list(data["notebooks"])


def github_slug(text: str) -> str:
    """GitHub's anchor for a heading's text: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def toc_slug(value: str, separator: str) -> str:
    """The README's anchors (Python-Markdown's toc extension) are GitHub's too."""
    return github_slug(value)


def on_config(config: Any) -> Any:
    config["mdx_configs"].setdefault("toc", {})["slugify"] = toc_slug
    config["nav"] = [{"Home": "index.md"}] + [
        {f"{e['section']}. {e['title']}": f"{e['name']}.ipynb"} for e in registry()
    ]
    return config


def on_files(files: Files, config: Any) -> Files:
    """The notebooks and the theme's assets; not the recordings, data and prompts beside them."""
    docs = Path(config["docs_dir"]).resolve()
    kept = Files(
        [
            f
            for f in files
            if f.abs_src_path is None
            or not Path(f.abs_src_path).resolve().is_relative_to(docs)
            or NOTEBOOK.match(f.src_uri)
        ]
    )
    kept.append(File.generated(config, "index.md", abs_src_path=str(ROOT / "README.md")))
    return kept


# --- links -----------------------------------------------------------------------------------

MD_LINK = re.compile(r"(\[(?:[^\[\]]|\[[^\]]*\])*\])\(([^\s)]+)\)")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """The README's links from the repository's root, made relative to the site."""
    if page.file.src_uri != "index.md":
        return markdown

    def relink(match: re.Match[str]) -> str:
        text, target = match.groups()
        path, _, anchor = target.partition("#")
        if not path or "://" in path or path.startswith("mailto:"):
            return match.group(0)
        name = Path(path).name
        if path.startswith("notebooks/") and NOTEBOOK.match(name):
            return f"{text}({name}{'#' + anchor if anchor else ''})"
        if (ROOT / path).exists():  # a repository file that is no page: its source, or text
            repo = config["repo_url"]
            return f"{text}({repo.rstrip('/')}/blob/main/{path})" if repo else text[1:-1]
        return match.group(0)

    return MD_LINK.sub(relink, markdown)


HREF = re.compile(r'href="([^"#]*\.(?:ipynb|md))(#[^"]*)?"')


def page_link(target: str, anchor: str | None) -> str | None:
    """A notebook's own link as the site's URL, from a notebook page (one level down)."""
    name = Path(target).name
    if (match := NOTEBOOK.match(name)) and "/" not in target:
        return f"../{match.group(1)}/{anchor or ''}"
    if target == "../README.md":
        return f"../{anchor or ''}"
    return None


HEADING = re.compile(r'<h([1-6]) id="([^"]*)"([^>]*)>(.*?)</h\1>', re.S)
TAG = re.compile(r"<[^>]+>")
ANCHOR_LINK = re.compile(r'<a class="anchor-link".*?</a>', re.S)


def on_page_content(content: str, page: Any, config: Any, files: Files) -> str:
    if not NOTEBOOK.match(page.file.src_uri):
        return content

    def relink(match: re.Match[str]) -> str:
        url = page_link(match.group(1), match.group(2))
        return f'href="{url}"' if url is not None else match.group(0)

    content = HREF.sub(relink, content)

    # Headings: GitHub's slug of the visible text (the ¶ permalink dropped), unique per page.
    # The table of contents lists the same headings in the same order; its titles lose inline
    # code in mkdocs-jupyter's conversion, so they get the page's text as well.
    headings: list[tuple[str, str]] = []
    seen: dict[str, int] = {}

    def reid(match: re.Match[str]) -> str:
        level, old, attributes, inner = match.groups()
        text = html.unescape(TAG.sub("", ANCHOR_LINK.sub("", inner))).strip()
        slug = github_slug(text)
        taken = seen[slug] = seen.get(slug, -1) + 1  # GitHub's: slug, slug-1, slug-2, ...
        new = f"{slug}-{taken}" if taken else slug
        headings.append((new, text))
        inner = inner.replace(f'href="#{old}"', f'href="#{new}"')
        return f'<h{level} id="{new}"{attributes}>{inner}</h{level}>'

    content = HEADING.sub(reid, content)
    items = _flatten(page.toc)
    if len(items) != len(headings):
        raise ValueError(
            f"{page.file.src_uri}: {len(headings)} headings but {len(items)} in its contents"
        )
    for item, (slug, text) in zip(items, headings, strict=True):
        item.id, item.title = slug, html.escape(text)
    return _badges(page, config) + content


def _flatten(toc: Any) -> list[Any]:
    items = []
    for item in toc:
        items.append(item)
        items.extend(_flatten(item.children))
    return items


def _badges(page: Any, config: Any) -> str:
    repo = (config["repo_url"] or "").rstrip("/")
    if not repo:
        return ""
    path = f"notebooks/{page.file.src_uri}"
    links = [("Source", f"{repo}/blob/main/{path}")]
    if (match := re.match(r"https://github\.com/([^/]+/[^/]+)$", repo)) is not None:
        slug = match.group(1)
        links += [
            ("Open in Colab", f"https://colab.research.google.com/github/{slug}/blob/main/{path}"),
            ("Launch Binder", f"https://mybinder.org/v2/gh/{slug}/HEAD?labpath={path}"),
            ("Open in GitHub Codespaces", f"https://codespaces.new/{slug}"),
        ]
    buttons = " ".join(f'<a class="md-button" href="{html.escape(u)}">{t}</a>' for t, u in links)
    return f'<p class="open-in">{buttons}</p>\n'
