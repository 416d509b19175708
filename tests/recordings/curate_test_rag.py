"""Writes tests/recordings/test_rag.yaml: a curated Responses answer that used file_search.

The recorded answer holds the model's text only: the server computes the retrieval (the
``file_search_call`` item and the ``file_citation`` annotations) from the vector store the
test built, so the recording ignores ``tools`` (the vector store id is the server's).
Run from the project root: ``.venv/bin/python tests/recordings/curate_test_rag.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers._support.tokenizer import count_tokens
from helpers.replay import azure
from helpers.replay.config import DEFAULT_DEPLOYMENTS
from helpers.replay.recordings.store import (
    Interaction,
    RecordedRequest,
    RecordedResponse,
    RecordingsFile,
    StreamChunk,
)
from helpers.replay.services.responses import simulator as sim

DEPLOYMENT = DEFAULT_DEPLOYMENTS["gpt-5-mini"]
TARGET = Path("tests/recordings/test_rag.yaml")
QUESTION = "How much is the fee for returning a bike late?"
STREAMED_QUESTION = "When does the cafe open on Sundays?"
STREAMED_ANSWER = "On Sundays the cafe opens at 9 am; on weekdays it opens at 7 am."
ANSWER = (
    "Returning a bike after 8 pm costs a late fee of 5 euros. Helmets are included with "
    "every rental, so there is nothing extra to pay for one."
)


def main() -> None:
    ids = azure.IdSource(14)
    recordings = RecordingsFile.new(TARGET, "curated")
    recordings.document.description = (
        "A file_search answer for tests/test_rag.py (gpt-5-mini). The retrieval and "
        "the citations are computed by the server from the test's vector store."
    )
    recordings.document.match.ignore_fields = ["tools"]

    def add(name: str, body: dict[str, Any], text: str, stream: bool = False) -> None:
        reasoning = 192
        output = [
            {"id": ids.item_id("rs"), "summary": [], "type": "reasoning"},
            sim.message_item(ids.item_id("msg"), text),
        ]
        response = sim.response_object(
            body,
            DEPLOYMENT,
            response_id=ids.item_id("resp"),
            output=output,
            usage=sim.responses_usage(
                2210, count_tokens(text) + reasoning, reasoning_tokens=reasoning
            ),
        )
        if stream:
            recorded = RecordedResponse(
                stream=[
                    StreamChunk(data=json.dumps(payload, separators=(",", ":")), event=kind)
                    for kind, payload in sim.stream_events(response)
                ],
            )
        else:
            recorded = RecordedResponse(status=200, body=response)
        recordings.document.interactions.append(
            Interaction(
                name=name,
                request=RecordedRequest(method="POST", path="/openai/v1/responses", body=body),
                response=recorded,
            )
        )

    tools = [{"type": "file_search", "vector_store_ids": ["vs_any"]}]
    late = {
        "include": ["file_search_call.results"],
        "input": QUESTION,
        "model": "gpt-5-mini",
        "tools": tools,
    }
    add("late-fee", late, ANSWER)
    streamed = {"input": STREAMED_QUESTION, "model": "gpt-5-mini", "stream": True, "tools": tools}
    add("cafe-sundays-stream", streamed, STREAMED_ANSWER, stream=True)
    recordings.save()


if __name__ == "__main__":
    main()
