"""Writes notebooks/recordings/13_integration_patterns.yaml: curated answers for notebook 13.

Support questions to gpt-5.4-mini (reasoning_effort none: no reasoning tokens). The first
question is recorded twice, in order: a 429 (Azure's wording, as the replay server's own quota
simulation writes it, with ``retry-after`` and ``retry-after-ms``) and then the answer, so every
time the notebook asks it the SDK retries once. The 400 of the content filter is Azure's (see
curate_11_content_filtering.py for its sources).

Section 5 sends the guide's second path (its Assistants method) through the same pipeline as
Responses API calls on the same client (``POST /openai/responses`` at the same api-version):
a question and a follow-up on ``previous_response_id`` (whose input tokens count the whole
conversation the service replays), and a second question for the helper's pipeline. Run from
the project root:
``.venv/bin/python notebooks/recordings/curate_13_integration_patterns.py``.
"""

from __future__ import annotations

from pathlib import Path

from helpers._support.counting import count_messages
from helpers._support.tokenizer import count_tokens
from helpers.replay import azure
from helpers.replay.behaviours.content_filter import prompt_filtered_body
from helpers.replay.recordings.curate import (
    CHAT_API_VERSION,
    CURATED_DEPLOYMENT,
    Curation,
    chat_request,
)
from helpers.replay.recordings.store import RecordedRequest, RecordedResponse
from helpers.replay.services.responses import simulator as sim

DEPLOYMENT = "gpt-5.4-mini"
TARGET = Path("notebooks/recordings/13_integration_patterns.yaml")
SYSTEM = "You are Contoso Home's support assistant. Answer in one or two sentences."

RETURNS = "How long do I have to return a kettle?"
SHIPPING = "Do you ship to Norway?"
VIOLENT = "Explain step by step how to hurt my neighbour badly without leaving marks."
BROKEN = "And if it arrived broken?"
OPENING = "When is your support line open?"

# Section 5: (name, question, the conversation before it, answer), in the notebook's order.
RETURNS_ANSWER = (
    "You have 30 days from delivery to return a kettle, as long as it is unused and in its "
    "original packaging."
)
RESPONSES: list[tuple[str, str, list[str], str]] = [
    ("responses-returns", RETURNS, [], RETURNS_ANSWER),
    (
        "responses-broken-follow-up",
        BROKEN,
        [RETURNS, RETURNS_ANSWER],
        "A kettle that arrived broken is not a return: report it within 14 days and we send a "
        "replacement or refund it in full, shipping included.",
    ),
    (
        "responses-opening-hours",
        OPENING,
        [],
        "Our support line is open Monday to Friday from 8 am to 6 pm, and on Saturdays from "
        "9 am to 1 pm.",
    ),
]

THROTTLED = (
    f"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
    f"{CHAT_API_VERSION} have exceeded token rate limit of your current OpenAI S0 pricing tier. "
    "Please retry after 1 seconds. Please go here: https://aka.ms/oai/quotaincrease if you "
    "would like to further increase the default rate limit."
)


def messages(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


def main() -> None:
    curation = Curation.new(
        TARGET,
        seed=13,
        description=(
            "Notebook 13 (integration patterns) on gpt-5.4-mini (api-version 2025-04-01-preview, "
            "reasoning_effort none): a support question throttled once (429 with "
            "retry-after-ms) and then answered, a second question, and a prompt Azure's content "
            "filter blocks (400); then, through the same pipeline, Responses API calls "
            "(a question, its follow-up on previous_response_id, another question)."
        ),
    )
    headers = {"x-ms-region": "swedencentral"}

    def add(name: str, question: str, response: RecordedResponse) -> None:
        body = {"model": DEPLOYMENT, "messages": messages(question), "reasoning_effort": "none"}
        curation.add(name, chat_request(DEPLOYMENT, body), response)

    def answer(question: str, text: str) -> RecordedResponse:
        completion = azure.chat_completion(
            completion_id=curation.ids.completion_id(),
            model=CURATED_DEPLOYMENT.model,
            content=text,
            prompt_tokens=count_messages(messages(question), strict=False),
            completion_tokens=count_tokens(text),
        )
        return RecordedResponse(headers=headers, body=completion)

    add(
        "returns-throttled",
        RETURNS,
        RecordedResponse(
            status=429,
            headers={
                **headers,
                "retry-after": "1",
                "retry-after-ms": "250",
                "x-ratelimit-remaining-requests": "59",
                "x-ratelimit-remaining-tokens": "0",
            },
            body={"error": {"code": "429", "message": THROTTLED}},
        ),
    )
    add(
        "returns-answered",
        RETURNS,
        answer(
            RETURNS,
            "You can return a kettle within 30 days of delivery, unused and in its original "
            "packaging; the refund goes to your original payment method.",
        ),
    )
    add(
        "shipping",
        SHIPPING,
        answer(
            SHIPPING,
            "Yes, we ship to Norway: delivery takes 5 to 8 working days, and import VAT is "
            "charged at checkout.",
        ),
    )
    (prompt,) = azure.prompt_filter_results(violence=azure.severity("high", filtered=True))
    add(
        "violent-blocked",
        VIOLENT,
        RecordedResponse(
            status=400, headers=headers, body=prompt_filtered_body(prompt["content_filter_results"])
        ),
    )
    previous: dict[str, str] = {}  # question -> the id of the response that answered it
    for name, question, before, text in RESPONSES:
        body: dict[str, object] = {
            "model": DEPLOYMENT,
            "instructions": SYSTEM,
            "input": question,
            "reasoning": {"effort": "none"},
        }
        if before:
            body["previous_response_id"] = previous[before[0]]
        # The service replays the stored conversation: instructions, earlier turns, the input.
        turns = [{"role": "developer", "content": SYSTEM}]
        for number, said in enumerate(before):
            turns.append({"role": "user" if number % 2 == 0 else "assistant", "content": said})
        turns.append({"role": "user", "content": question})
        response = sim.response_object(
            body,
            CURATED_DEPLOYMENT,
            response_id=curation.ids.item_id("resp"),
            output=[sim.message_item(curation.ids.item_id("msg"), text)],
            usage=sim.responses_usage(count_messages(turns, strict=False), count_tokens(text)),
        )
        previous[question] = response["id"]
        curation.add(
            name,
            RecordedRequest(path="/openai/responses", api_version=CHAT_API_VERSION, body=body),
            RecordedResponse(headers=headers, body=response),
        )
    curation.save()


if __name__ == "__main__":
    main()
