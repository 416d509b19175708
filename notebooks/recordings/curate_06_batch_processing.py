"""Writes notebooks/recordings/06_batch_processing.yaml: curated answers for notebook 06.

The notebook classifies the sentiment of sixteen bicycle-shop reviews twice: one request at
a time through a rate-limited deployment (``gpt-5.4-mini``), and as one Batch API job on a
Global-Batch deployment (``gpt-5.4-mini-batch``). The labels below are chosen by hand; bodies
are built with the replay server's Azure-shaped builders and token counts with
helpers.token_management' counting rules. REVIEWS and the request shape must stay equal to the
notebook's (a replay-mode run of the notebook fails on any difference).
Run from the project root: ``.venv/bin/python notebooks/recordings/curate_06_batch_processing.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers._support.counting import count_responses_input
from helpers._support.tokenizer import count_tokens
from helpers.replay import azure
from helpers.replay.recordings.curate import Curation, event_stream, responses_request
from helpers.replay.recordings.store import (
    Interaction,
    RecordedRequest,
    RecordedResponse,
    RecordingsFile,
)
from helpers.replay.services.responses import background
from helpers.token_management import count_messages

TARGET = Path("notebooks/recordings/06_batch_processing.yaml")
API_VERSION = "2025-04-01-preview"
MODEL = "gpt-5.4-mini-2026-03-17"
SYSTEM = (
    "Classify the customer review's sentiment. Answer with one word: positive, negative or mixed."
)
REVIEWS = [
    ("Fixed my wheel in twenty minutes and charged less than quoted.", "positive"),
    ("Friendly staff, fair prices, I will be back.", "positive"),
    ("The new chain skipped on the first climb and nobody answered my emails.", "negative"),
    ("Great advice on saddles, but the fitting appointment started late.", "mixed"),
    ("Best bike shop in town: they explained every repair.", "positive"),
    ("My brakes have never worked this well. Thank you!", "positive"),
    ("The service was quick, though the bike came back dirty.", "mixed"),
    ("Ordered tyres arrived two weeks late and in the wrong width.", "negative"),
    ("They sold me a helmet that was the wrong size and refused a refund.", "negative"),
    ("Lent me a bike while mine was repaired. Wonderful people.", "positive"),
    ("Good selection of gravel bikes; parking nearby is impossible.", "mixed"),
    ("Quick, honest and cheaper than the chain stores.", "positive"),
    ("They trued my rear wheel while I waited and showed me how to check it.", "positive"),
    ("Prices are high, but the mechanics really know e-bikes.", "mixed"),
    ("Rude at the counter and the gears still slip.", "negative"),
    ("The online booking is easy; the workshop is always full.", "mixed"),
]


ONLINE_STARTED = 1_793_145_600  # 2026-10-28 00:00 UTC
BATCH_STARTED = ONLINE_STARTED + 2_460  # the batch job's lines ran some 40 minutes later
BATCH_SECONDS = (7, 3, 12, 0, 9, 15, 4, 21, 11, 2, 18, 6, 13, 25, 8, 10)
"""When each batch line finished, in seconds after BATCH_STARTED: in no particular order."""


def created(deployment: str, number: int) -> int:
    """Online answers come one per 10-second window, as the notebook paces them; batch lines
    together, out of order."""
    if deployment.endswith("-batch"):
        return BATCH_STARTED + BATCH_SECONDS[number]
    return ONLINE_STARTED + 10 * number


def body(model: str, review: str) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": review},
        ],
        "max_completion_tokens": 16,
        "reasoning_effort": "none",
    }


REPORT_PROMPT = (
    "Write the shop owner a short report on these reviews: what customers praise, what they "
    "complain about, and the one change that would help most.\n\n"
    + "\n".join(f"- {review}" for review, _ in REVIEWS)
)
BACKGROUND_BODY: dict[str, Any] = {
    "model": "gpt-5.4-mini",
    "input": REPORT_PROMPT,
    "reasoning": {"effort": "high"},
    "background": True,
}
"""Section 6's long request, sent in the background (the notebook's own body)."""
REPORTS = (
    "Praise: fast, honest repairs and staff who explain the work; prices seen as fair. "
    "Complaints: late orders and appointments, unanswered emails, a refused refund, a rude "
    "counter. The one change: a booking and order desk that confirms dates and answers every "
    "message within a day.",
    "Customers praise quick, honest repairs and mechanics who explain what they did. They "
    "complain about delays (orders, appointments, a full workshop) and about follow-up. "
    "Most useful change: one person who owns bookings and replies to every email.",
    "Praised: repairs done fast and well, fair prices, friendly and knowledgeable staff. "
    "Criticised: waiting (late parts, late fittings, a full workshop) and poor follow-up. "
    "Change that helps most: promise realistic dates and answer every customer within a day.",
)
"""The reports of the hand-polled request, the helper's request and the streamed one."""
POLLS = (("in_progress", "in_progress"), ("in_progress",))
"""What each polled request's GETs find before it is completed (the last answer repeats)."""


def add_background(recordings: RecordingsFile) -> None:
    """Section 6: background responses polled by hand and by the helper, one cancelled, one
    streamed (the server replays its recorded events after ``starting_after``)."""
    curation = Curation(recordings, seed=66, description=recordings.document.description or "")
    input_tokens = count_responses_input(REPORT_PROMPT, MODEL)

    def final(body: dict[str, Any], text: str) -> dict[str, Any]:
        return curation.reasoned_answer(
            body, text, input_tokens=input_tokens, reasoning_tokens=1_472
        )

    def queued_then_polled(name: str, text: str, polls: tuple[str, ...]) -> None:
        answer = final(BACKGROUND_BODY, text)
        curation.add(
            f"{name}-create",
            responses_request(BACKGROUND_BODY),
            RecordedResponse(body=background.unfinished(answer, "queued")),
        )
        poll = RecordedRequest(method="GET", path=f"/openai/v1/responses/{answer['id']}")
        for status in polls:
            body = background.unfinished(answer, status)
            curation.add(f"{name}-poll", poll, RecordedResponse(body=body))
        curation.interactions.append(
            Interaction(
                name=f"{name}-poll", request=poll, response=RecordedResponse(body=answer),
                repeat="last",
            )
        )  # fmt: skip

    queued_then_polled("background", REPORTS[0], POLLS[0])
    cancelled = final(BACKGROUND_BODY, REPORTS[0])
    curation.add(
        "background-to-cancel-create",
        responses_request(BACKGROUND_BODY),
        RecordedResponse(body=background.unfinished(cancelled, "queued")),
    )
    curation.add(
        "background-cancel",
        RecordedRequest(path=f"/openai/v1/responses/{cancelled['id']}/cancel"),
        RecordedResponse(body=background.unfinished(cancelled, "cancelled")),
    )
    queued_then_polled("background-helper", REPORTS[1], POLLS[1])
    streamed_body = {**BACKGROUND_BODY, "stream": True}
    streamed = final(streamed_body, REPORTS[2])
    curation.add(
        "background-stream",
        responses_request(streamed_body),
        RecordedResponse(stream=event_stream(background.stream_payloads(streamed))),
    )


def main() -> None:
    ids = azure.IdSource(6)
    recordings = RecordingsFile.new(TARGET, "curated")
    recordings.document.description = (
        "Notebook 06: sixteen review classifications, online (gpt-5.4-mini, rate-limited in the "
        "notebook) and as Batch API lines (gpt-5.4-mini-batch); a report on the reviews as "
        "background Responses (polled, cancelled, streamed). Written by "
        "curate_06_batch_processing.py."
    )
    for deployment, path, version in (
        ("gpt-5.4-mini", "/openai/deployments/gpt-5.4-mini/chat/completions", API_VERSION),
        ("gpt-5.4-mini-batch", "/openai/v1/chat/completions", None),
    ):
        for number, (review, label) in enumerate(REVIEWS):
            request = body(deployment, review)
            answer = azure.chat_completion(
                completion_id=ids.completion_id(),
                model=MODEL,
                content=label,
                prompt_tokens=count_messages(request["messages"], MODEL),
                completion_tokens=count_tokens(label, MODEL),
                created=created(deployment, number),
            )
            recordings.document.interactions.append(
                Interaction(
                    name=f"{deployment}-review-{number}",
                    request=RecordedRequest(
                        method="POST", path=path, api_version=version, body=request
                    ),
                    response=RecordedResponse(status=200, body=answer),
                )
            )
    add_background(recordings)
    recordings.save()
    print(f"wrote {len(recordings.document.interactions)} interactions to {TARGET}")


if __name__ == "__main__":
    main()
