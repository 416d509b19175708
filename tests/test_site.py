"""`make site` in a real browser: every page, picture, link and anchor works, and search finds.

The site is built once per session into a temporary folder, served on a loopback port, and
crawled once in headless Chromium (Debian's package) from the home page, following every
internal link; the tests then judge what the crawl saw. A request to any other host fails the
crawl: the site must work offline. Without /usr/bin/chromium the module skips and says how to
install it; CI sets REQUIRE_BROWSER=1, which makes that skip a failure.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import os
import subprocess
import sys
import threading
import types
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
NOTEBOOKS = [
    e["name"] for e in yaml.safe_load((ROOT / "notebooks/registry.yaml").read_text())["notebooks"]
]

if not CHROMIUM.exists():
    message = f"no browser at {CHROMIUM}: `apt-get install chromium` to test the site"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {message}", pytrace=False)
    pytest.skip(message, allow_module_level=True)

from playwright.sync_api import Browser, Page, Route, sync_playwright  # noqa: E402


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as `make site` builds it (mkdocs.yml's strict mode), in a temporary folder."""
    out = tmp_path_factory.mktemp("site") / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "SITE_REPO_URL": ""}
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return out


@pytest.fixture(scope="session")
def base_url(site: Path) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Visit:
    """What one page showed the browser."""

    console_errors: list[str] = field(default_factory=list)
    images: list[tuple[str, int, int]] = field(default_factory=list)  # src, natural w, h
    ids: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)  # absolute hrefs


@dataclass
class Crawl:
    pages: dict[str, Visit]
    nav: list[str]  # the home page's navigation, in order
    outside_requests: list[str]


def visit(page: Page, url: str) -> Visit:
    seen = Visit()
    page.on("console", lambda m: seen.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.console_errors.append(str(e)))
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url}: {response and response.status}"
    page.wait_for_load_state("networkidle")
    seen.images = page.eval_on_selector_all(
        "img", "els => els.map(e => [e.currentSrc || e.src, e.naturalWidth, e.naturalHeight])"
    )
    seen.ids = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
    seen.ids |= set(page.eval_on_selector_all("a[name]", "els => els.map(e => e.name)"))
    seen.links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    return seen


@pytest.fixture(scope="session")
def crawl(browser: Browser, base_url: str) -> Crawl:
    """Every page reachable from the home page by internal links, each loaded once."""
    context = browser.new_context()
    outside: list[str] = []

    def only_this_site(route: Route) -> None:
        if route.request.url.startswith((base_url, "data:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_site)
    pages: dict[str, Visit] = {}
    queue = [base_url]
    while queue:
        url = queue.pop(0)
        if url in pages:
            continue
        page = context.new_page()
        pages[url] = visit(page, url)
        page.close()
        for link in pages[url].links:
            target = urldefrag(link).url
            if is_page(target, base_url) and target not in pages and target not in queue:
                queue.append(target)
    home = context.new_page()
    home.goto(base_url)
    nav = home.eval_on_selector_all(
        "nav.md-nav--primary > ul > li > a.md-nav__link", "els => els.map(e => e.href)"
    )
    context.close()
    return Crawl(pages=pages, nav=nav, outside_requests=outside)


def is_page(url: str, base_url: str) -> bool:
    """A page of this site (not an asset, not the search index)."""
    return url.startswith(base_url) and (url.endswith("/") or url.endswith(".html"))


def test_the_site_has_the_readme_and_a_page_per_notebook_in_guide_order(
    crawl: Crawl, base_url: str
) -> None:
    expected = [base_url] + [f"{base_url}{name}/" for name in NOTEBOOKS]
    assert crawl.nav == expected
    assert set(expected) <= set(crawl.pages)
    assert {"notebooks", "models", "layout"} <= crawl.pages[base_url].ids  # the README


def test_every_page_loads_with_no_console_error(crawl: Crawl) -> None:
    errors = {url: v.console_errors for url, v in crawl.pages.items() if v.console_errors}
    assert not errors


def test_every_image_loads_with_a_size(crawl: Crawl, site: Path) -> None:
    images = [(url, *image) for url, v in crawl.pages.items() for image in v.images]
    broken = [i for i in images if i[2] == 0 or i[3] == 0]
    assert not broken
    # the notebooks' committed pictures (matplotlib figures) are among them
    pictures = sum(
        "image/png" in output.get("data", {})
        for name in NOTEBOOKS
        for cell in json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())["cells"]
        for output in cell.get("outputs", [])
    )
    assert pictures > 0
    assert sum(1 for i in images if i[1].startswith("data:image/png")) == pictures


def test_every_internal_link_and_anchor_resolves(crawl: Crawl, base_url: str) -> None:
    dead = []
    for source, seen in crawl.pages.items():
        for link in seen.links:
            if not link.startswith(base_url):
                assert urlparse(link).scheme in {"https", "mailto"}, f"{source}: {link}"
                continue
            target, anchor = urldefrag(link)
            if target in crawl.pages:
                if anchor and anchor not in crawl.pages[target].ids:
                    dead.append(f"{source} -> {link}: no such anchor")
            else:
                with urllib.request.urlopen(target) as response:  # an asset: it must exist
                    if response.status != 200 or anchor:
                        dead.append(f"{source} -> {link}")
    assert not dead, "\n".join(dead)


def test_the_notebooks_own_links_lead_to_the_pages(crawl: Crawl, base_url: str) -> None:
    """The navigation cells link NN_topic.ipynb and ../README.md#notebooks in the notebook."""
    first = crawl.pages[f"{base_url}{NOTEBOOKS[0]}/"].links
    assert f"{base_url}{NOTEBOOKS[1]}/" in first
    assert f"{base_url}#notebooks" in first
    assert not [link for v in crawl.pages.values() for link in v.links if ".ipynb" in link]


def test_nothing_is_fetched_from_outside_the_site(crawl: Crawl) -> None:
    assert crawl.outside_requests == []


def test_search_finds_a_term_from_notebook_14(browser: Browser, base_url: str) -> None:
    page = browser.new_page()
    page.goto(base_url)
    search = page.locator("input.md-search__input")
    search.click()
    search.fill("vector store")
    results = page.locator(".md-search-result__item a")
    results.first.wait_for(timeout=10_000)
    hrefs = results.evaluate_all("els => els.map(e => e.href)")
    page.close()
    assert any(h.startswith(f"{base_url}14_rag/") for h in hrefs), hrefs


def _hooks() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "mkdocs_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_open_in_links_appear_only_with_a_repository_url() -> None:
    hooks = _hooks()
    page = types.SimpleNamespace(file=types.SimpleNamespace(src_uri="14_rag.ipynb"))
    assert hooks._badges(page, {"repo_url": ""}) == ""
    badges = hooks._badges(page, {"repo_url": "https://github.com/owner/cookbook"})
    assert (
        "https://colab.research.google.com/github/owner/cookbook/blob/main/notebooks/14_rag.ipynb"
        in badges
    )
    assert "https://mybinder.org/v2/gh/owner/cookbook/HEAD?labpath=notebooks/14_rag.ipynb" in badges
    assert "https://codespaces.new/owner/cookbook" in badges


def test_built_pages_carry_no_open_in_links_while_repo_url_is_unset(site: Path) -> None:
    assert "open-in" not in (site / "14_rag" / "index.html").read_text()
