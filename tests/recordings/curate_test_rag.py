"""Writes tests/recordings/test_rag.yaml: a curated Responses answer that used file_search.

The recorded answer holds the model's text only: the server computes the retrieval (the
``file_search_call`` item and the ``file_citation`` annotations) from the vector store the
test built, so the recording ignores ``tools`` (the vector store id is the server's).
Run from the project root: ``.venv/bin/python tests/recordings/curate_test_rag.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers.replay.recordings.curate import Curation, event_stream, responses_request
from helpers.replay.recordings.store import RecordedResponse
from helpers.replay.services.responses import simulator as sim

TARGET = Path("tests/recordings/test_rag.yaml")
QUESTION = "How much is the fee for returning a bike late?"
STREAMED_QUESTION = "When does the cafe open on Sundays?"
STREAMED_ANSWER = "On Sundays the cafe opens at 9 am; on weekdays it opens at 7 am."
ANSWER = (
    "Returning a bike after 8 pm costs a late fee of 5 euros. Helmets are included with "
    "every rental, so there is nothing extra to pay for one."
)


def main() -> None:
    curation = Curation.new(
        TARGET,
        seed=14,
        description=(
            "A file_search answer for tests/test_rag.py (gpt-5.4-mini). The retrieval and "
            "the citations are computed by the server from the test's vector store."
        ),
    )
    curation.recordings.document.match.ignore_fields = ["tools"]

    def add(name: str, body: dict[str, Any], text: str, stream: bool = False) -> None:
        answer = curation.reasoned_answer(body, text, input_tokens=2210, reasoning_tokens=192)
        recorded = (
            RecordedResponse(stream=event_stream(sim.stream_events(answer)))
            if stream
            else RecordedResponse(body=answer)
        )
        curation.add(name, responses_request(body), recorded)

    tools = [{"type": "file_search", "vector_store_ids": ["vs_any"]}]
    late = {
        "include": ["file_search_call.results"],
        "input": QUESTION,
        "model": "gpt-5.4-mini",
        "tools": tools,
    }
    add("late-fee", late, ANSWER)
    streamed = {"input": STREAMED_QUESTION, "model": "gpt-5.4-mini", "stream": True, "tools": tools}
    add("cafe-sundays-stream", streamed, STREAMED_ANSWER, stream=True)
    curation.save()


if __name__ == "__main__":
    main()
