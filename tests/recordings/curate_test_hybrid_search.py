"""Writes tests/recordings/test_hybrid_search.yaml: curated gpt-5.4-mini answers for
tests/test_hybrid_search.py.

Each request is the prompt helpers.hybrid_search.grounding builds from what the search
simulator retrieves for the question (the bike-care corpus, vectors from the lenient
stand-in), so the recordings match the tests exactly; the answers, token counts and
reasoning tokens are written by hand.
Run from the project root: ``.venv/bin/python tests/recordings/curate_test_hybrid_search.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/, for rag_index

from rag_index import API_VERSION, CHAT, build_index

from helpers._support.counting import count_messages
from helpers._support.tokenizer import count_tokens
from helpers.hybrid_search.grounding import build_messages
from helpers.replay import ReplayConfig, ReplayServer, azure
from helpers.replay.config import DEFAULT_DEPLOYMENTS
from helpers.replay.recordings.curate import Curation, chat_request
from helpers.replay.recordings.store import RecordedResponse

TARGET = Path("tests/recordings/test_hybrid_search.yaml")
MODEL = DEFAULT_DEPLOYMENTS[CHAT].model

RANGE = "My e-bike loses a lot of range when it is freezing. Why, and what can I do?"
HELMET = "How often should I replace my helmet?"
LOCK = "Which bike lock should I buy?"
SPONGY = "My hydraulic brake lever feels spongy. What is wrong?"

ANSWERS: dict[str, tuple[str, dict[str, Any], str, int, str]] = {
    # name: (question, extra request arguments, answer, reasoning tokens, finish reason)
    "range-grounded": (
        RANGE,
        {"reasoning_effort": "low"},
        "A cold lithium-ion battery delivers less energy, so expect 20 to 30 percent less range "
        "near freezing [1]. Keep the battery indoors until you ride and fit a neoprene cover [1], "
        "charge it only at room temperature, never below 0 degrees Celsius [2], and use a lower "
        "assistance mode with properly inflated tyres [1].",
        192,
        "stop",
    ),
    "helmet-unknown-citation": (
        HELMET,
        {},
        "Replace it after any crash in which it hit the ground, even if it looks fine [1], and "
        "otherwise every five years [1]. Check the straps for wear at every service [4].",
        320,
        "stop",
    ),
    "lock-not-in-sources": (
        LOCK,
        {},
        "I don't know: the sources cover care, storage and servicing, but none of them "
        "discusses bike locks.",
        256,
        "stop",
    ),
    "spongy-cut-off": (SPONGY, {"max_completion_tokens": 64}, "", 64, "length"),
}


def main() -> None:
    curation = Curation.new(
        TARGET,
        seed=10,
        description=(
            "gpt-5.4-mini answers for tests/test_hybrid_search.py, one per question, to prompts of "
            "three numbered sources retrieved by hybrid search: a grounded answer, one citing a "
            "source that was not given ([4] of three), one saying the sources do not cover the "
            "question, and one cut off at max_completion_tokens while reasoning (empty content)."
        ),
    )
    with ReplayServer(ReplayConfig(mode="lenient", recordings=[])) as server:
        retriever = build_index(server)
        for name, (question, extra, text, reasoning, finish) in ANSWERS.items():
            messages = build_messages(question, retriever.retrieve(question))
            answer = azure.chat_completion(
                completion_id=curation.ids.completion_id(),
                model=MODEL,
                content=text,
                finish_reason=finish,
                prompt_tokens=count_messages(messages, strict=False),  # type: ignore[arg-type]
                completion_tokens=count_tokens(text) + reasoning,
                reasoning_tokens=reasoning,
            )
            body = {"model": CHAT, "messages": messages, **extra}
            curation.add(name, chat_request(CHAT, body, API_VERSION), RecordedResponse(body=answer))
    curation.save()


if __name__ == "__main__":
    main()
