"""Writes tests/recordings/test_streaming_responses.yaml: curated Responses API streams.

Streams for the Responses part of tests/test_streaming.py: one that completes, one cut by
``max_output_tokens`` (``response.incomplete``), one that fails after some text
(``response.failed``) and one broken by an ``error`` event. The event payloads come from the
replay server's Azure-shaped builders (helpers.replay.services.responses.simulator); the texts and
token counts are chosen by hand. Run from the project root:
``.venv/bin/python tests/recordings/curate_test_streaming_responses.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers.replay.recordings.curate import Curation, event_stream, responses_request
from helpers.replay.recordings.store import RecordedResponse
from helpers.replay.services.responses import simulator as sim

TARGET = Path("tests/recordings/test_streaming_responses.yaml")
SERVER_ERROR = (
    "The server had an error processing your request. Sorry about that! You can retry your "
    "request, or contact us through an Azure support request at: "
    "https://go.microsoft.com/fwlink/?linkid=2213926 if you keep seeing this error."
)


def main() -> None:
    curation = Curation.new(
        TARGET,
        seed=1718,
        description=(
            "Responses API streams for the stream_response tests in tests/test_streaming.py "
            "(gpt-5.4-mini): completed, incomplete, failed, and broken by an error event."
        ),
    )

    def response(body: dict[str, Any], text: str, reasoning: int, **fields: Any) -> dict[str, Any]:
        answer = curation.reasoned_answer(
            body,
            text,
            input_tokens=12,
            reasoning_tokens=reasoning,
            visible_tokens=len(text.split()),
        )
        return {**answer, **fields}

    def add(name: str, body: dict[str, Any], events: list[tuple[str, dict[str, Any]]]) -> None:
        stream = RecordedResponse(stream=event_stream(events, pause_ms=10))
        curation.add(name, responses_request(body), stream)

    poem = {"model": "gpt-5.4-mini", "input": "Write a two-line poem about rain.", "stream": True}
    text = "Rain taps the window,\nthe street hums along."
    add("poem", poem, sim.stream_events(response(poem, text, 64)))

    cap = 80
    primes = {
        "model": "gpt-5.4-mini",
        "input": "List every prime below 1000.",
        "max_output_tokens": cap,
        "stream": True,
    }
    partial = "2, 3, 5, 7, 11, 13, 17"
    # Incomplete at max_output_tokens means every one of the 80 tokens was spent.
    cut = response(
        primes, partial, cap - len(partial.split()),
        status="incomplete", incomplete_details={"reason": "max_output_tokens"},
    )  # fmt: skip
    cut["output"][1]["status"] = "incomplete"
    add("primes-incomplete", primes, sim.stream_events(cut))

    hamlet = {"model": "gpt-5.4-mini", "input": "Summarise Hamlet.", "stream": True}
    whole = sim.stream_events(response(hamlet, "Prince Hamlet learns from a ghost", 64))
    before = [e for e in whole if e[0] != "response.completed"][:8]  # up to the second text delta
    failed = {
        **whole[-1][1]["response"],
        "status": "failed",
        "output": [],
        "usage": None,
        "error": {"code": "server_error", "message": SERVER_ERROR},
    }
    before.append(
        ("response.failed", {"type": "response.failed", "sequence_number": len(before),
                             "response": failed})
    )  # fmt: skip
    add("hamlet-failed", hamlet, before)

    tides = {"model": "gpt-5.4-mini", "input": "Explain the tides.", "stream": True}
    opening = sim.stream_events(response(tides, "The Moon pulls", 64))[:2]
    error = {
        "type": "error",
        "code": "server_error",
        "message": SERVER_ERROR,
        "param": None,
        "sequence_number": 2,
    }
    add("tides-error-event", tides, [*opening, ("error", error)])
    curation.save()


if __name__ == "__main__":
    main()
