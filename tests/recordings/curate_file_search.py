"""Writes tests/recordings/file_search.yaml: a curated Responses answer that used file_search.

The recorded answer holds the model's text only: the server computes the retrieval (the
``file_search_call`` item and the ``file_citation`` annotations) from the vector store the
test built, so the recording ignores ``tools`` (the vector store id is the server's).
Run from the project root: ``.venv/bin/python tests/recordings/curate_file_search.py``.
"""

from __future__ import annotations

from pathlib import Path

from helpers.replay import azure
from helpers.replay.config import DEFAULT_DEPLOYMENTS
from helpers.replay.recordings import Interaction, RecordedRequest, RecordedResponse, RecordingsFile
from helpers.replay.simulators import responses as sim
from helpers.tokenizer import count_tokens

DEPLOYMENT = DEFAULT_DEPLOYMENTS["gpt-5-mini"]
TARGET = Path("tests/recordings/file_search.yaml")
QUESTION = "How much is the fee for returning a bike late?"
ANSWER = (
    "Returning a bike after 8 pm costs a late fee of 5 euros. Helmets are included with "
    "every rental, so there is nothing extra to pay for one."
)


def main() -> None:
    ids = azure.IdSource(14)
    recordings = RecordingsFile.new(TARGET, "curated")
    recordings.document.description = (
        "A file_search answer for tests/test_file_search.py (gpt-5-mini). The retrieval and "
        "the citations are computed by the server from the test's vector store."
    )
    recordings.document.match.ignore_fields = ["tools"]
    body = {
        "include": ["file_search_call.results"],
        "input": QUESTION,
        "model": "gpt-5-mini",
        "tools": [{"type": "file_search", "vector_store_ids": ["vs_any"]}],
    }
    reasoning = 192
    output = [
        {"id": ids.item_id("rs"), "summary": [], "type": "reasoning"},
        sim.message_item(ids.item_id("msg"), ANSWER),
    ]
    response = sim.response_object(
        body,
        DEPLOYMENT,
        response_id=ids.item_id("resp"),
        output=output,
        usage=sim.responses_usage(
            2210, count_tokens(ANSWER) + reasoning, reasoning_tokens=reasoning
        ),
    )
    recordings.document.interactions.append(
        Interaction(
            name="late-fee",
            request=RecordedRequest(method="POST", path="/openai/v1/responses", body=body),
            response=RecordedResponse(status=200, body=response),
        )
    )
    recordings.save()


if __name__ == "__main__":
    main()
