"""Curates notebooks/recordings/17_streaming.yaml (gpt-5.4-mini, a reasoning model).

The requests are the notebook's own: run it in lenient draft mode
(``REPLAY_MODE=lenient REPLAY_DRAFT=1 REPLAY_URL=embedded AZURE_OPENAI_ENDPOINT=
.venv/bin/python -m helpers._support.notebooks run 17_streaming``), which appends each unrecorded
request as a draft, then run this script: it writes each streamed answer by hand (chosen by
the prompt) with the replay server's Azure-shaped builders, including the pause before every
chunk (``delay_ms``). The pauses are curated to be plausible for a reasoning model (reasoning
before the first token, then a steady flow of text); they are not measurements.
Run from the project root: ``.venv/bin/python notebooks/recordings/curate_17_streaming.py``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers._support.counting import count_messages
from helpers._support.tokenizer import count_tokens
from helpers.replay import azure
from helpers.replay.recordings.curate import CURATED_DEPLOYMENT, Curation, event_stream
from helpers.replay.recordings.store import RecordedResponse, StreamChunk
from helpers.replay.services.responses import simulator as sim

TARGET = Path("notebooks/recordings/17_streaming.yaml")
DEPLOYMENT = CURATED_DEPLOYMENT
SERVER_ERROR = {
    "error": {
        "code": "server_error",
        "message": "The server had an error processing your request. Sorry about that! You can "
        "retry your request, or contact us through an Azure support request at: "
        "https://go.microsoft.com/fwlink/?linkid=2213926 if you keep seeing this error.",
    }
}
GEARS = (
    "A bicycle's gears let you trade pedalling force for speed. The chain runs from a chainring "
    "at the pedals to a sprocket on the rear wheel, and the ratio of their teeth decides how far "
    "the wheel turns for each turn of the cranks. A large chainring with a small rear sprocket is "
    "a high gear: every pedal stroke carries you far but takes more force, which suits flat roads "
    "and speed. A small chainring with a large sprocket is a low gear: easy to turn but slow, "
    "which is what you want on a climb. The derailleurs move the chain between sprockets as you "
    "pedal, so you can keep a comfortable cadence while the road changes."
)
BIKES_CUT = (
    "Bicycle gears change how far the bike travels with each turn of the pedals. The chain links "
    "a chainring at the cranks to a cassette of sprockets on the rear wheel, and the ratio between "
    "their teeth sets the effort. A big chainring with a small rear sprocket gives a high gear: "
    "each stroke covers more ground but needs more force, while a small"
)


@dataclass
class Answer:
    name: str
    text: str
    reasoning: int
    reasoning_ms: float  # the pause before the first output (the model is reasoning)
    per_chunk_ms: float = 4
    finish_reason: str = "stop"
    error_after: int | None = None  # pieces sent before a server error ends the stream
    filtered: str | None = None  # the output category the content filter stops


def _limit(text: str, tokens: int) -> str:
    words = text.split(" ")
    while count_tokens(" ".join(words)) > tokens:
        words.pop()
    return " ".join(words)


ANSWERS = {
    "Write a haiku about the sea.": Answer(
        "haiku", "Waves fold into foam,\nsalt wind carries gull voices—\nthe tide keeps its time.",
        192, 950, per_chunk_ms=12,
    ),
    "In one paragraph, explain how a bicycle's gears work.": Answer(
        "gears-paragraph", GEARS, 256, 1620, per_chunk_ms=21
    ),
    "In two sentences, why do chat apps stream their answers?": Answer(
        "why-stream",
        "Streaming shows the first words within moments instead of making you wait for the whole "
        "answer, so the app feels faster and more conversational. It also lets you stop a long or "
        "off-track response early, which saves both time and tokens.",
        128, 420,
    ),
    "Name three rivers in Europe, comma-separated.": Answer(
        "rivers-async", "Danube, Rhine, Seine", 64, 300
    ),
    "Name the capitals of Spain, Italy and Greece.": Answer(
        "capitals-async-helper",
        "The capital of Spain is Madrid, the capital of Italy is Rome, and the capital of Greece "
        "is Athens.",
        64, 300,
    ),
    "Write my thriller's final fight scene in bloody detail.": Answer(
        "fight-content-filter",
        "Rain hammered the warehouse roof as Mara stepped out of the shadows, the knife already "
        "in her hand. Voss turned too late, and",
        192, 500, finish_reason="content_filter", filtered="violence",
    ),
    "Summarise the plot of Hamlet in three sentences.": Answer(
        "hamlet-error-mid-stream",
        "Prince Hamlet learns from his father's ghost that his uncle Claudius murdered the king",
        128, 400, error_after=14,
    ),
    "Give one tip for writing clear commit messages.": Answer(
        "commit-tip-sdk-events",
        "Write the subject line in the imperative mood and keep it under about 50 characters, for "
        "example \"Fix crash when saving empty notes\", then explain why the change was needed in "
        "the body.",
        128, 400,
    ),
    "Explain what a token is, in one sentence.": Answer(
        "try-it-token",
        "A token is a small chunk of text, often a word, part of a word or a punctuation mark, "
        "that a language model reads and writes as a single unit.",
        64, 300,
    ),
}  # fmt: skip


def _pieces(text: str) -> list[str]:
    return re.findall(r"\S+\s*|\s+", text)


def chat_stream(body: dict[str, Any], ids: azure.IdSource) -> tuple[str, RecordedResponse]:
    prompt = body["messages"][-1]["content"]
    if "max_completion_tokens" in body:  # "Explain how bicycle gears work." with a token limit
        limit = body["max_completion_tokens"]
        effort = body.get("reasoning_effort")
        reasoning = 0 if effort == "none" else limit  # the whole budget spent on reasoning
        text = _limit(BIKES_CUT, limit) if reasoning == 0 else ""
        answer = Answer(f"bikes-length-{effort}", text, reasoning, 200 if reasoning == 0 else 600)
        answer.finish_reason = "length"
        visible = limit - reasoning
    else:
        answer = ANSWERS[prompt]
        visible = count_tokens(answer.text)
    name, text, reasoning, finish = answer.name, answer.text, answer.reasoning, answer.finish_reason
    pieces = _pieces(text)
    prompt_tokens = count_messages(body["messages"], strict=False)
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    payloads = azure.chat_stream(
        completion_id=ids.completion_id(),
        model=DEPLOYMENT.model,
        pieces=pieces[: answer.error_after] if answer.error_after else pieces,
        finish_reason=finish,
        include_usage=include_usage,
        created=azure.RESPONSES_CREATED,
    )
    chunks = [json.loads(p) for p in payloads]
    if include_usage:
        chunks[-1]["usage"] = azure.usage(
            prompt_tokens, visible + reasoning, reasoning_tokens=reasoning
        )
    if answer.filtered:
        finish_chunk = chunks[-2] if include_usage else chunks[-1]
        finish_chunk["choices"][0]["content_filter_results"] = {
            category: azure.severity("medium", filtered=True)
            if category == answer.filtered
            else azure.severity()
            for category in azure.HARM_CATEGORIES
        }
    if answer.error_after:  # the stream breaks: no finish chunk, no usage, an error event
        chunks = [*chunks[: 2 + answer.error_after], SERVER_ERROR]
    delays = [180.0, answer.reasoning_ms] + [answer.per_chunk_ms] * (len(chunks) - 2)
    stream = [
        StreamChunk(data=azure.dumps(c), delay_ms=d) for c, d in zip(chunks, delays, strict=True)
    ]
    return name, RecordedResponse(stream=stream)


def responses_stream(body: dict[str, Any], curation: Curation) -> tuple[str, RecordedResponse]:
    text = "Moonlit water breathes,\nwaves fold their silver edges—\nthe shore keeps counting."
    response = curation.reasoned_answer(
        body, text, input_tokens=count_tokens(body["input"]) + 7, reasoning_tokens=192
    )
    events = sim.stream_events(response)
    chunks = event_stream(events)
    for chunk, (kind, payload) in zip(chunks, events, strict=True):
        # 180 ms to the first event, reasoning before the message opens, then a steady flow.
        opens_message = (
            kind == "response.output_item.added" and payload["item"]["type"] == "message"
        )
        chunk.delay_ms = {"response.created": 180.0}.get(kind, 950.0 if opens_message else 12.0)
    return "haiku-responses-stream", RecordedResponse(stream=chunks)


def main() -> None:
    curation = Curation.of_drafts(
        TARGET,
        seed=1717,
        description=(
            "Curated streams of a gpt-5.4-mini deployment (reasoning model, api-version "
            "2025-04-01-preview) for notebooks/17_streaming.ipynb: chat completion streams (with "
            "and without usage, cut by max_completion_tokens, stopped by the content filter, "
            "broken by a server error) and one Responses API stream. The delay_ms values are "
            "curated, not measured."
        ),
    )
    # Each stream ends as its API ends one: chat with data: [DONE], Responses without.
    curation.answer_drafts(
        chat=lambda body: chat_stream(body, curation.ids),
        responses=lambda body: responses_stream(body, curation),
    )
    curation.save()


if __name__ == "__main__":
    main()
