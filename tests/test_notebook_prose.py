"""Numbers in the notebooks' prose come from their code, or from a named source.

Two checks keep the text true to what the cells print:

1. **Every number in a markdown cell** (outside code spans and link targets) appears in the same
   notebook's code or committed outputs, or is declared below in :data:`SOURCED` with the page
   or rule it comes from (a documented limit, a status code, a section of the guide). A number
   that drifts from its output (08 once said 150 ms where the code said 120 ms) fails here.
2. **Quoted figures** (:data:`QUOTES`): where prose states a figure in words or a fraction
   ("13 of 40 attempts failed"), a pair of patterns reads the figure from the prose and from the
   outputs, and the two must agree.

Years, single digits and numbers inside words or identifiers are not checked.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

NUMBER = re.compile(r"(?<![\w.#/@-])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w/@-]|\.\d)")
"""A number as prose writes it: 1,024 or 0.033 or 429; not part of a word, path or version."""

SECTION = re.compile(
    r"(?:§\s?|sections?\s|notebooks?\s|chapters?\s|\bNN_|cells?\s)"
    r"(\d{1,2}(?:\s*(?:,|and|or|–|-)\s*\d{1,2})*)",
    re.IGNORECASE,
)
"""References to the guide's sections and the cookbook's notebooks and cells: 'section 12',
'§11, §12', 'notebooks 14 and 15'. They name places, not measurements."""

HTTP_STATUS = {"200", "207", "400", "401", "403", "404", "408", "409", "413", "422", "429",
               "500", "502", "503", "504"}  # fmt: skip
"""HTTP status codes (RFC 9110), which the error lessons name as words of the protocol."""

MODELS_PAGE = "Learn, Foundry Models sold by Azure (2026-08-26 copy), via helpers/data/models.yaml"
BATCH_PAGE = "Learn, Getting started with Azure OpenAI batch deployments (2026-03-19 copy)"
GUIDE = "the guide's own words, quoted in the errata table"
SDK_RETRIES = "openai-python _base_client: 0.5 s initial, 8 s max, jitter 1 - 0.25 * random()"

SOURCED: dict[str, dict[str, str]] = {
    "02_function_calling": {
        "1.2": "Learn, Use the Azure OpenAI Responses API (2026-01-14 copy), remote MCP servers: "
        "the MCP client requires TLS 1.2 or greater",
    },
    "03_structured_outputs": {
        "1106": GUIDE,
        "100": "Learn, How to use structured outputs (2025-12-06 copy): 100 object properties",
    },
    "08_monitoring": {
        "365": "a product's name, Microsoft Agent 365 (Learn, Microsoft OpenTelemetry Distro: "
        "getting started)",
    },
    "04_token_management": {
        "128,000": MODELS_PAGE,
        "128": "Learn, Prompt caching: cache hits in increments of 128 tokens",
    },
    "05_error_handling": {"25": SDK_RETRIES, "18": "arithmetic on the cell's settings: 3 x 6"},
    "06_batch_processing": {
        "50": f"{BATCH_PAGE}: 50% less cost than Global Standard",
        "100,000": f"{BATCH_PAGE}: maximum requests per file",
    },
    "07_prompt_management": {
        "32": "OpenAI, Images and vision guide: 32x32-pixel patches for the patch-priced models",
        "85": "OpenAI, Images and vision guide: gpt-4o low detail (helpers/_support/counting.py)",
        "2,833": "OpenAI, Images and vision guide: gpt-4o-mini low detail (counting.py)",
    },
    "09_dynamic_prompts": {"1106": GUIDE},
    "10_hybrid_search": {"0.033": "arithmetic: 2/61, reciprocal rank fusion with k = 60"},
    "11_content_filtering": {
        "1,000": "Learn, Content streaming (2026-01-15): the asynchronous filter's signal comes "
        "within a ~1,000-character window of the violating content",
    },
    "12_caching": {
        "1,024": "Learn, Prompt caching: prompts of at least 1,024 tokens",
        "128": "Learn, Prompt caching: cache hits in increments of 128 tokens",
        "256": "Learn, Prompt caching: routing hashes typically the prompt's first 256 tokens",
        "15": "Learn, Prompt caching: about 15 requests per minute per prefix and "
        "prompt_cache_key before overflow",
        "10": "Learn, Prompt caching: in-memory caches cleared within 5 to 10 idle minutes",
        "24": "Learn, Prompt caching: extended retention keeps prefixes up to 24 hours",
    },
    "13_integration_patterns": {
        "26": "Learn, Navigate from classic: 'August 26, 2026 — Assistants API sunsets'",
    },
    "14_rag": {
        "800": "OpenAI API reference, vector store chunking_strategy auto: 800-token chunks",
        "4,096": "OpenAI API reference, static chunking_strategy: max_chunk_size_tokens 100-4096",
        "26": "Learn, Navigate from classic: 'August 26, 2026 — Assistants API sunsets'",
    },
    "15_embeddings": {
        "3,072": MODELS_PAGE,
        "300,000": "OpenAI API reference, embeddings input: at most 300,000 tokens per request",
        "128": "the try-it's suggested sizes, not a measurement",
    },
}
"""Per notebook: numbers the prose takes from a document rather than from its own cells, each
with where it comes from (a Learn page and its date, a spec, an API reference)."""

FROM_HELPERS: dict[str, dict[str, str]] = {
    "01_authentication": {"16": "helpers.authentication.CHECK_COMPLETION_TOKENS"},
}
"""Per notebook: numbers the prose quotes from a helper's setting; the test reads the setting."""


@dataclass(frozen=True)
class Quote:
    """A figure stated in the prose, and where the outputs print it."""

    notebook: str
    prose: str
    """A pattern over the notebook's markdown with one group: the figure as the prose states it."""
    output: str
    """A pattern over the notebook's outputs with one group: the same figure as printed."""


QUOTES: tuple[Quote, ...] = (
    # 06_batch_processing
    Quote("06_batch_processing", r"so (\d+) a minute is", r": (\d+) requests and \d+ tokens per"),
    Quote("06_batch_processing", r"a minute is (\d+) request per window", r"(\d+) request per 10-"),
    # 08_monitoring
    Quote("08_monitoring", r"(\d+) of \d+ attempts failed", r"\| failed: (\d+) \("),
    Quote("08_monitoring", r"\d+ of (\d+) attempts failed", r"attempts recorded: (\d+)"),
    Quote("08_monitoring", r"attempts failed \((\d+)%\)", r"failed: \d+ \((\d+)%;"),
    Quote("08_monitoring", r"close to the configured (\d+)%", r"configured: (\d+)%\)"),
    Quote("08_monitoring", r"all but (\d+) of the 30 calls", r"after the SDK's retries: (\d+)"),
    Quote("08_monitoring", r"one retry \(`max_retries=(\d+)`\)", r"max_retries (\d+)"),
    Quote("08_monitoring", r"a (\d+)-second timeout", r"timeout (\d+)\.0 s,"),
    Quote(
        "08_monitoring", r"with (\d+) attempts each", r"attempts:\n[^\n]*\ngpt-5\.4-mini +(\d+) "
    ),
    Quote(
        "08_monitoring",
        r"with (\d+) attempts each",
        r"attempts:\n[^\n]*\n[^\n]*\ngpt-5\.4-nano +(\d+) ",
    ),
)
"""Figures the prose states in a form the number check cannot pair with an output."""


@cache
def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _outputs(notebook: nbformat.NotebookNode) -> str:
    texts: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if "text" in output:
                texts.append(output["text"])
            for kind, value in output.get("data", {}).items():
                if kind.startswith("text/"):
                    texts.append(value if isinstance(value, str) else "".join(value))
    return "\n".join(texts)


def _code(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")


def _markdown(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def _canonical(number: str) -> str:
    return number.replace(",", "")


def prose_numbers(markdown: str) -> list[str]:
    """The numbers a reader sees in ``markdown``, as written (code spans, links, sections and
    HTML out)."""
    text = re.sub(r"<[^>]+>", " ", markdown)
    text = re.sub(r"\[[^\]]*\]\([^)]*\.ipynb[^)]*\)", " ", text)  # links to other notebooks
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    text = re.sub(r"`[^`]*`", " ", text)  # code spans: the code check's business
    text = SECTION.sub(" ", text)
    text = re.sub(r"(?m)^(#+\s*)\d+\.", r"\1", text)  # numbered headings
    text = re.sub(r"(?:openai|≥|>=)\s*\d+(?:\.\d+)+", " ", text)  # library versions
    found = []
    for number in NUMBER.findall(text):
        plain = _canonical(number)
        if len(plain) == 1 or re.fullmatch(r"(19|20)\d\d", plain) or plain in HTTP_STATUS:
            continue
        found.append(number)
    return found


def unexplained_numbers(path: Path) -> list[str]:
    """Numbers in ``path``'s prose that neither its code, its outputs nor :data:`SOURCED` has."""
    notebook = _read(path)
    haystack = _code(notebook) + "\n" + _outputs(notebook)
    printed = {_canonical(n) for n in NUMBER.findall(haystack)}
    declared = {
        _canonical(n) for n in {**SOURCED.get(path.stem, {}), **FROM_HELPERS.get(path.stem, {})}
    }
    return [
        number
        for number in prose_numbers(_markdown(notebook))
        if _canonical(number) not in printed | declared
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_number_in_the_prose_is_printed_by_code_or_sourced(path: Path) -> None:
    unexplained = unexplained_numbers(path)
    assert not unexplained, (
        f"{path.name}: the prose states {unexplained}, which no code cell, output or entry of "
        "SOURCED gives: print it from code, or declare its source in tests/test_notebook_prose.py"
    )


@pytest.mark.parametrize(
    ("notebook", "number", "setting"),
    [(nb, n, s) for nb, numbers in FROM_HELPERS.items() for n, s in numbers.items()],
)
def test_numbers_quoted_from_a_helper_equal_its_setting(
    notebook: str, number: str, setting: str
) -> None:
    module, _, name = setting.rpartition(".")
    value = getattr(importlib.import_module(module), name)
    assert str(value) == _canonical(number), f"{notebook} says {number}; {setting} is {value}"
    assert number in prose_numbers(_markdown(_read(ROOT / "notebooks" / f"{notebook}.ipynb")))


def test_every_sourced_number_is_still_in_its_prose() -> None:
    stale = [
        (notebook, number)
        for notebook, numbers in SOURCED.items()
        for number in numbers
        if number not in prose_numbers(_markdown(_read(ROOT / "notebooks" / f"{notebook}.ipynb")))
    ]
    assert not stale, f"SOURCED lists numbers the prose no longer states: {stale}"


@pytest.mark.parametrize("quote", QUOTES, ids=lambda q: f"{q.notebook}:{q.prose[:30]}")
def test_quoted_figures_equal_the_outputs(quote: Quote) -> None:
    notebook = _read(ROOT / "notebooks" / f"{quote.notebook}.ipynb")
    stated = re.search(quote.prose, _markdown(notebook))
    printed = re.search(quote.output, _outputs(notebook))
    assert stated, f"{quote.notebook}: the prose no longer says {quote.prose!r}"
    assert printed, f"{quote.notebook}: the outputs no longer print {quote.output!r}"
    assert stated.group(1) == printed.group(1), (
        f"{quote.notebook}: the prose says {stated.group(0)!r}, the output {printed.group(0)!r}"
    )


def test_the_number_check_catches_a_drifted_figure(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("Each event takes 150 ms (see `delay_ms`); section 12."),
        nbformat.v4.new_code_cell("delay_ms = 120\nprint(delay_ms)"),
    ]
    notebook.cells[1].outputs = [nbformat.v4.new_output("stream", text="120\n")]
    path = tmp_path / "99_drift.ipynb"
    nbformat.write(notebook, path)
    assert unexplained_numbers(path) == ["150"]
    notebook.cells[0].source = "Each event takes 120 ms; notebooks 14 and 15 go further."
    nbformat.write(notebook, path)
    _read.cache_clear()
    assert unexplained_numbers(path) == []


def test_a_changed_delay_in_08_without_its_prose_fails(tmp_path: Path) -> None:
    """08's configured latency (its `LATENCY` cell) is quoted in the prose; change the setting
    and not the text, and the number check names the stale figures."""
    notebook = nbformat.read(ROOT / "notebooks" / "08_monitoring.ipynb", as_version=4)
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and "LATENCY = {" in c.source]
    assert '"time_to_first_token_ms": 300' in cell.source and '"spread": 0.6' in cell.source
    assert {"300", "0.6"} <= set(prose_numbers(_markdown(notebook)))
    cell.source = cell.source.replace(
        '"time_to_first_token_ms": 300', '"time_to_first_token_ms": 350'
    )
    cell.source = cell.source.replace('"spread": 0.6', '"spread": 0.4')
    drifted = tmp_path / "08_monitoring.ipynb"
    nbformat.write(notebook, drifted)
    assert {"300", "0.6"} <= set(unexplained_numbers(drifted))


AZURE_CLAIM = re.compile(
    r"\b(?:Azure|Microsoft|Learn)(?:'s)?\s+(?:OpenAI\s+)?(?:documents|documented|says|said|"
    r"answers|answered|states|stated|reports|replies|responds|returns|recommends|describes|"
    r"explains)\b",
    re.IGNORECASE,
)
"""A sentence that tells the reader what Azure (or Microsoft, or Learn) says or answers."""

LEARN_LINK = re.compile(r"\[([^\]]+)\]\((https://learn\.microsoft\.com[^)]*)\)")


def _title(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def unsourced_azure_claims(notebook: nbformat.NotebookNode) -> list[str]:
    """Sentences claiming what Azure says or answers whose cell has no Learn link, that name no
    Learn page the notebook links (an italic *title*), and that do not say the words are the
    replay server's."""
    cells = [c.source for c in notebook.cells if c.cell_type == "markdown"]
    linked = {_title(title) for source in cells for title, _ in LEARN_LINK.findall(source)}
    found = []
    for source in cells:
        if LEARN_LINK.search(source):
            continue
        for sentence in re.split(r"(?<=[.!?])\s+|\n+|\s\|\s", source):
            if not AZURE_CLAIM.search(sentence):
                continue
            named = [_title(t) for t in re.findall(r"\*([^*]{6,})\*", sentence)]
            if any(n in t or t in n for n in named for t in linked):
                continue
            if re.search(r"replay server|simulator", sentence, re.IGNORECASE):
                continue
            found.append(sentence.strip())
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_claim_about_what_azure_says_names_its_learn_page(path: Path) -> None:
    unsourced = unsourced_azure_claims(_read(path))
    assert not unsourced, f"{path.name}: claims with no Learn page: {unsourced}"


def test_the_claim_check_catches_an_unsourced_claim() -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("Azure answers 400 when a tool call is left unanswered."),
        nbformat.v4.new_markdown_cell(
            "Learn's *Content filtering* says so.\n\n## Learn more\n\n"
            "- [Content filtering](https://learn.microsoft.com/azure/ai-foundry/openai/concepts/"
            "content-filter)"
        ),
    ]
    assert unsourced_azure_claims(notebook) == [
        "Azure answers 400 when a tool call is left unanswered."
    ]
