"""Writes notebooks/recordings/12_caching.yaml: curated answers of gpt-5.4-mini for notebook 12.

Bodies are built with the replay server's Azure-shaped builders (helpers.replay.azure); texts
and reasoning tokens (the requests ask for effort low) are chosen by hand, visible token counts
come from o200k_base. Prompt caching is curated the way Azure reports it: ``cached_tokens`` is 0
the first time a prefix is seen, then the longest shared prefix of a recent prompt, in whole
steps of 128 tokens, when it is at least 1,024 tokens. Run from the project root:
``.venv/bin/python notebooks/recordings/curate_12_caching.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers._support.counting import count_messages, count_responses_input
from helpers._support.tokenizer import count_tokens
from helpers.replay import azure
from helpers.replay.recordings.curate import (
    CURATED_DEPLOYMENT,
    Curation,
    chat_request,
    responses_request,
)
from helpers.replay.recordings.store import RecordedResponse
from helpers.replay.services.responses import simulator as sim

DEPLOYMENT = "gpt-5.4-mini"
TARGET = Path("notebooks/recordings/12_caching.yaml")
QUESTION = {"role": "user", "content": "Suggest a name for a bakery."}


def catalogue_system() -> dict[str, str]:
    """The notebook's catalogue prompt, built the same way."""
    items = ["mug", "kettle", "teapot", "tray", "jar", "bowl", "plate", "glass", "jug", "tumbler"]
    colours = ["white", "black", "green", "blue", "red", "grey", "yellow", "brown"]
    catalogue = "\n".join(
        f"SKU-{n:04d} | {colours[n % 8]} {items[n % 10]} | {12 + (n * 7) % 48} EUR | "
        + ("in stock" if n % 3 else "back in 2 weeks")
        for n in range(1, 121)
    )
    return {
        "role": "system",
        "content": "You answer questions about the Contoso Home catalogue below. Quote SKUs. "
        "If the catalogue does not say, say so.\n\n" + catalogue,
    }


CACHE_KEY = "contoso-catalogue"
"""The notebook's prompt_cache_key for the catalogue questions."""
ITEMS = ["mug", "kettle", "teapot", "tray", "jar", "bowl", "plate", "glass", "jug", "tumbler"]
COLOURS = ["white", "black", "green", "blue", "red", "grey", "yellow", "brown"]


def skus(item: str, keep: Any) -> list[str]:
    """The catalogue's ``item`` lines for which ``keep(n, price)`` holds, as answers quote them."""
    rows = []
    for n in range(1, 121):
        price = 12 + (n * 7) % 48
        if ITEMS[n % 10] == item and keep(n, price):
            rows.append(f"- SKU-{n:04d}: {COLOURS[n % 8]} {item}, {price} EUR")
    return rows


def cheap_teapots() -> str:
    rows = []
    for n in range(2, 121, 10):  # items[n % 10] == "teapot"
        price = 12 + (n * 7) % 48
        if price < 30:
            colour = ["white", "black", "green", "blue", "red", "grey", "yellow", "brown"][n % 8]
            rows.append(f"- SKU-{n:04d}: {colour} teapot, {price} EUR")
    return "Teapots under 30 EUR:\n" + "\n".join(rows)


def step_128(tokens: int) -> int:
    """Azure's cached tokens for a shared prefix of ``tokens``: 0 below 1,024, else 128-steps."""
    return 0 if tokens < 1024 else tokens - tokens % 128


def main() -> None:
    curation = Curation.new(
        TARGET,
        seed=12,
        description=(
            "Notebook 12 (caching) on gpt-5.4-mini (reasoning model, api-version "
            "2025-04-01-preview, reasoning_effort low): two bakery-name requests that differ "
            "only in the system message, a slogan asked twice (two sampled answers), and three "
            "questions over a long shared catalogue prompt whose usage shows Azure's prompt "
            "caching (cached_tokens in 128-token steps from 1,024); then four catalogue questions "
            "sent with a prompt_cache_key, two chat completions and two Responses, each pair "
            "cold on its new route, then cached."
        ),
    )

    def add(name: str, messages: list[dict[str, str]], answer: str, **kw: Any) -> None:
        add_chat(curation, name, messages, answer, **kw)

    add(
        "bakery-terse",
        [{"role": "system", "content": "Answer with the name only."}, QUESTION],
        "Golden Crumb",
        reasoning=64,
    )
    add(
        "bakery-playful",
        [{"role": "system", "content": "Answer with a name and a one-line pun."}, QUESTION],
        "Rise & Shine Bakery: where every loaf is on a roll.",
        reasoning=128,
    )
    slogan = [{"role": "user", "content": "Write a six-word slogan for a bakery."}]
    add("slogan-sampled-1", slogan, "Fresh from our oven every morning.", reasoning=64)
    add("slogan-sampled-2", slogan, "Baked with love, shared with joy.", reasoning=128)

    system = catalogue_system()
    teapots = [system, {"role": "user", "content": "Which teapots cost less than 30 EUR?"}]
    kettle = [system, {"role": "user", "content": "Do you sell a green kettle?"}]
    # The prefix both share: everything up to the user's text.
    shared = count_messages([system, {"role": "user", "content": ""}], strict=False) - 3
    add("catalogue-teapots-first", teapots, cheap_teapots(), reasoning=192)
    add(
        "catalogue-kettle",
        kettle,
        "No. The catalogue lists no green kettle; its kettles are in other colours.",
        cached=step_128(shared),
        reasoning=128,
    )
    add(
        "catalogue-teapots-again",
        teapots,
        cheap_teapots(),
        cached=step_128(count_messages(teapots, strict=False) - 3),
        reasoning=256,
    )
    add_prompt_cache_key(curation, system)
    curation.save()


def add_chat(
    curation: Curation,
    name: str,
    messages: list[dict[str, str]],
    answer: str,
    *,
    reasoning: int,
    cached: int = 0,
    prompt_cache_key: str | None = None,
) -> None:
    """One curated chat completion on DEPLOYMENT at effort low, its usage counted."""
    body: dict[str, Any] = {
        "model": DEPLOYMENT,
        "messages": messages,
        "reasoning_effort": "low",
    }
    if prompt_cache_key is not None:
        body["prompt_cache_key"] = prompt_cache_key
    completion = azure.chat_completion(
        completion_id=curation.ids.completion_id(),
        model=CURATED_DEPLOYMENT.model,
        content=answer,
        prompt_tokens=count_messages(messages, model="gpt-4o", strict=False),
        completion_tokens=count_tokens(answer) + reasoning,
        cached_tokens=cached,
        reasoning_tokens=reasoning,
    )
    response = RecordedResponse(headers={"x-ms-region": "swedencentral"}, body=completion)
    curation.add(name, chat_request(DEPLOYMENT, body), response)


def add_prompt_cache_key(curation: Curation, system: dict[str, str]) -> None:
    """Four catalogue questions sent with ``prompt_cache_key``: two chat completions, then two
    Responses with the catalogue as ``instructions``. The first of each is a new route (key
    and prefix together, Learn's "Prompt caching"), so nothing is cached; the second shares
    the prefix up to the user's text."""
    mugs = "Back in 2 weeks:\n" + "\n".join(skus("mug", lambda n, _: n % 3 == 0))
    jugs = "Jugs under 20 EUR:\n" + "\n".join(skus("jug", lambda _, price: price < 20))
    chat_answers = (("Which mugs are back in 2 weeks?", mugs, 128),
                    ("Which jugs cost less than 20 EUR?", jugs, 64))  # fmt: skip
    prefix = count_messages([system, {"role": "user", "content": ""}], strict=False) - 3
    for number, (question, answer, reasoning) in enumerate(chat_answers):
        add_chat(
            curation,
            f"catalogue-keyed-chat-{number + 1}",
            [system, {"role": "user", "content": question}],
            answer,
            reasoning=reasoning,
            cached=step_128(prefix) if number else 0,
            prompt_cache_key=CACHE_KEY,
        )
    bowls = "Bowls over 50 EUR:\n" + "\n".join(skus("bowl", lambda _, price: price > 50))
    red_tumbler = "No. The catalogue lists no red tumbler."
    responses_answers = (("Which bowls cost more than 50 EUR?", bowls, 128),
                         ("Do you sell a red tumbler?", red_tumbler, 64))  # fmt: skip
    instructions = system["content"]
    prefix = count_responses_input("", CURATED_DEPLOYMENT.model, instructions=instructions) - 3
    for number, (question, answer, reasoning) in enumerate(responses_answers):
        body = {
            "model": DEPLOYMENT,
            "instructions": instructions,
            "input": question,
            "reasoning": {"effort": "low"},
            "prompt_cache_key": CACHE_KEY,
        }
        input_tokens = count_responses_input(
            question, CURATED_DEPLOYMENT.model, instructions=instructions
        )
        usage = sim.responses_usage(
            input_tokens,
            count_tokens(answer) + reasoning,
            cached_tokens=step_128(prefix) if number else 0,
            reasoning_tokens=reasoning,
        )
        response = sim.response_object(
            body,
            CURATED_DEPLOYMENT,
            response_id=curation.ids.item_id("resp"),
            output=[
                sim.reasoning_item(curation.ids.item_id("rs")),
                sim.message_item(curation.ids.item_id("msg"), answer),
            ],
            usage=usage,
        )
        curation.add(
            f"catalogue-keyed-responses-{number + 1}",
            responses_request(body),
            RecordedResponse(body=response),
        )


if __name__ == "__main__":
    main()
