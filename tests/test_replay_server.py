"""The replay server through the official openai SDK: answers, headers, auth, routing, 400s."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import pytest
from azure.identity import get_bearer_token_provider
from conftest import API_VERSION, HELLO, StartServer, async_client, sync_client, v1_client
from openai import AzureOpenAI
from openai.types.chat import (
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)

from helpers.replay import Deployment, ReplayCredential
from helpers.replay.config import DEFAULT_DEPLOYMENTS
from helpers.replay.identity import COGNITIVE_SERVICES_SCOPE

COIN: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Flip a coin."}]
CHAT_PATH = "/openai/deployments/gpt-5.4-mini/chat/completions"
STANDARD = "gpt-4.1-mini"
"""A deployment of gpt-4.1-mini, a standard-family (non-reasoning) model, kept for the
parameters only that family takes (temperature other than 1, max_tokens): their own 400s."""
WITH_STANDARD = {
    **DEFAULT_DEPLOYMENTS,
    STANDARD: Deployment(kind="chat", model="gpt-4.1-mini-2025-04-14"),
}


def test_chat_completion_replays_the_recorded_answer(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    response = client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    assert response.choices[0].message.content == "Hello there, nice to meet!"
    assert response.id == "chatcmpl-AXhello000000000000000000001"
    assert response.model == "gpt-5.4-mini-2026-03-17"
    assert response.usage is not None
    assert response.usage.prompt_tokens_details is not None
    assert response.usage.prompt_tokens_details.cached_tokens == 0
    assert response.usage.completion_tokens_details is not None
    # A reasoning model: its hidden reasoning is billed as completion tokens.
    assert response.usage.completion_tokens_details.reasoning_tokens == 64
    assert response.usage.completion_tokens == 64 + 7


def test_azure_annotations_reach_model_extra(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    response = client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    assert response.model_extra is not None
    prompt_filters = response.model_extra["prompt_filter_results"]
    assert prompt_filters[0]["content_filter_results"]["jailbreak"] == {
        "filtered": False,
        "detected": False,
    }
    choice_extra = response.choices[0].model_extra
    assert choice_extra is not None
    choice_filters = choice_extra["content_filter_results"]
    assert choice_filters["violence"] == {"filtered": False, "severity": "safe"}


async def test_async_client_gets_the_same_answer(start_server: StartServer) -> None:
    async with async_client(start_server("replay_server.yaml")) as client:
        response = await client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    assert response.choices[0].message.content == "Hello there, nice to meet!"


def test_identical_requests_replay_in_recorded_order_then_wrap(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    answers = [
        client.chat.completions.create(model="gpt-5.4-mini", messages=COIN, temperature=1.0)
        .choices[0]
        .message.content
        for _ in range(3)
    ]
    assert answers == ["Heads.", "Tails.", "Heads."]


def test_responses_carry_azure_headers(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    raw = client.chat.completions.with_raw_response.create(model="gpt-5.4-mini", messages=HELLO)
    for name in (
        "apim-request-id",
        "x-request-id",
        "x-ms-region",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
    ):
        assert raw.headers.get(name), name
    assert raw.headers["x-ms-region"] == "swedencentral"
    assert raw.request_id == raw.headers["x-request-id"]


def test_rate_limit_headers_count_down_requests_and_tokens(start_server: StartServer) -> None:
    deployments = {
        "gpt-5.4-mini": Deployment(
            kind="chat",
            model="gpt-5.4-mini-2026-03-17",
            requests_per_minute=600,
            tokens_per_minute=10_000,
        )
    }
    server = start_server("replay_server.yaml", clock=lambda: 1000.0, deployments=deployments)
    client = sync_client(server)
    first = client.chat.completions.with_raw_response.create(model="gpt-5.4-mini", messages=HELLO)
    second = client.chat.completions.with_raw_response.create(model="gpt-5.4-mini", messages=HELLO)
    # 600 a minute over 1-s windows: 10 in this second (Learn's example), then 9, 8 left.
    assert int(first.headers["x-ratelimit-remaining-requests"]) == 9
    assert int(second.headers["x-ratelimit-remaining-requests"]) == 8
    assert first.headers["x-ratelimit-limit-requests"] == "600"
    spent = 10_000 - int(first.headers["x-ratelimit-remaining-tokens"])
    assert spent > 0
    assert 10_000 - int(second.headers["x-ratelimit-remaining-tokens"]) == 2 * spent


def test_exhausted_quota_answers_429_with_retry_after(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml", clock=lambda: 1000.0, rate_limits={"enforce": True})
    client = sync_client(server)
    for _ in range(1):  # 60 a minute over 1-s windows: one per second
        client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    assert "Please retry after" in caught.value.message
    assert int(caught.value.response.headers["retry-after-ms"]) > 0


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["replay", "lenient"])
def test_wrong_api_key_is_401_in_every_mode(start_server: StartServer, mode: str) -> None:
    client = sync_client(start_server("replay_server.yaml", mode=mode), api_key="not-the-key")
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    assert caught.value.code == "401"
    assert "invalid subscription key" in caught.value.message


def test_request_without_credentials_is_401(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml")
    response = httpx2.post(
        f"{server.url}{CHAT_PATH}", params={"api-version": API_VERSION}, json={"messages": HELLO}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "401"


def test_entra_bearer_token_is_accepted(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml")
    provider = get_bearer_token_provider(ReplayCredential(server.api_key), COGNITIVE_SERVICES_SCOPE)
    client = sync_client(server, api_key=None, azure_ad_token_provider=provider)
    response = client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    assert response.choices[0].message.content == "Hello there, nice to meet!"


@pytest.mark.parametrize(
    ("credential", "scope"),
    [
        (ReplayCredential("some-other-key"), COGNITIVE_SERVICES_SCOPE),
        (ReplayCredential("local-replay-key", clock=lambda: 0.0), COGNITIVE_SERVICES_SCOPE),
        (ReplayCredential("local-replay-key"), "https://management.azure.com/.default"),
    ],
    ids=["wrong-signature", "expired", "wrong-audience"],
)
def test_invalid_bearer_token_is_401(
    start_server: StartServer, credential: ReplayCredential, scope: str
) -> None:
    server = start_server("replay_server.yaml")
    provider = get_bearer_token_provider(credential, scope)
    client = sync_client(server, api_key=None, azure_ad_token_provider=provider)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    assert "audience is incorrect" in caught.value.message


# --- routing -------------------------------------------------------------------------------


@pytest.mark.parametrize("surface", ["deployments", "v1"])
def test_unknown_deployment_is_deployment_not_found(
    start_server: StartServer, surface: str
) -> None:
    """The deployment is named in the path, or on the v1 surface in ``model``."""
    server = start_server("replay_server.yaml")
    client = sync_client(server) if surface == "deployments" else v1_client(server)
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-35-turbo", messages=HELLO)
    assert caught.value.code == "DeploymentNotFound"


def test_moderations_route_does_not_exist_on_azure(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    with pytest.raises(openai.NotFoundError) as caught:
        client.moderations.create(input="anything")
    assert caught.value.body == {"code": "404", "message": "Resource not found"}


def test_missing_api_version_is_resource_not_found(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml")
    response = httpx2.post(
        f"{server.url}{CHAT_PATH}", headers={"api-key": server.api_key}, json={"messages": HELLO}
    )
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}


def test_misspelled_api_version_is_resource_not_found(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml")
    client = AzureOpenAI(
        azure_endpoint=server.url, api_key=server.api_key, api_version="2024-10-01-previw"
    )
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    assert caught.value.body == {"code": "404", "message": "Resource not found"}


def test_embeddings_on_a_chat_deployment_is_operation_not_supported(
    start_server: StartServer,
) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="gpt-5.4-mini", input="hello")
    assert caught.value.code == "OperationNotSupported"


# --- 400s ----------------------------------------------------------------------------------


def test_malformed_json_is_400(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml")
    response = httpx2.post(
        f"{server.url}{CHAT_PATH}",
        params={"api-version": API_VERSION},
        headers={"api-key": server.api_key, "content-type": "application/json"},
        content=b'{"messages": [',
    )
    assert response.status_code == 400
    assert "could not parse the JSON body" in response.json()["error"]["message"]


def test_missing_messages_names_the_parameter(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    with pytest.raises(openai.BadRequestError) as caught:
        client.post(
            "/deployments/gpt-5.4-mini/chat/completions",
            body={"model": "gpt-5.4-mini"},
            cast_to=object,
        )
    assert caught.value.param == "messages"
    assert caught.value.code == "missing_required_parameter"


@pytest.mark.parametrize(
    ("deployment", "kwargs", "param", "code"),
    [
        (STANDARD, {"temperature": "warm"}, "temperature", "invalid_type"),
        (STANDARD, {"temperature": 3}, "temperature", "decimal_above_max_value"),
        (STANDARD, {"max_tokens": 0}, "max_tokens", "integer_below_min_value"),
        (
            "gpt-5.4-mini",
            {"max_completion_tokens": 0},
            "max_completion_tokens",
            "integer_below_min_value",
        ),
        ("gpt-5.4-mini", {"extra_body": {"mood": "cheerful"}}, "mood", None),
        (
            "gpt-5.4-mini",
            {"response_format": {"type": "json_object", "json_schema": {"name": "x"}}},
            "response_format.json_schema",
            "unknown_parameter",
        ),
        ("gpt-5.4-mini", {"response_format": {"type": "json_object"}}, "messages", None),
        ("gpt-5.4-mini", {"tool_choice": "auto"}, "tool_choice", None),
    ],
    ids=[
        "wrong-type",
        "out-of-range",
        "below-minimum",
        "below-minimum-reasoning",
        "unknown-argument",
        "json-object-with-schema",
        "json-object-without-the-word-json",
        "tool-choice-without-tools",
    ],
)
def test_invalid_parameters_are_400_naming_the_parameter(
    start_server: StartServer, deployment: str, kwargs: dict[str, Any], param: str, code: str | None
) -> None:
    client = sync_client(start_server("replay_server.yaml", deployments=WITH_STANDARD))
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=deployment, messages=HELLO, **kwargs)
    assert caught.value.param == param
    assert caught.value.code == code
    assert caught.value.type == "invalid_request_error"


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        (
            {
                "type": "object",
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                "required": ["name", "age"],
            },
            "'additionalProperties' is required to be supplied and to be false",
        ),
        (
            {
                "type": "object",
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                "required": ["name"],
                "additionalProperties": False,
            },
            "Missing 'age'",
        ),
        (
            {
                "type": "object",
                "properties": {"contact": {"type": ["object", "null"]}},
                "required": ["contact"],
                "additionalProperties": False,
            },
            "context=('properties', 'contact')",
        ),
    ],
    ids=["open-object", "optional-property", "nullable-object"],
)
def test_schema_that_is_not_strict_compatible_is_rejected(
    start_server: StartServer, schema: dict[str, Any], fragment: str
) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="gpt-5.4-mini",
            messages=HELLO,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "person", "schema": schema, "strict": True},
            },
        )
    assert caught.value.code == "invalid_json_schema"
    assert fragment in caught.value.message


def test_tool_message_must_answer_a_tool_call(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    messages: list[ChatCompletionMessageParam] = [
        *HELLO,
        {"role": "tool", "tool_call_id": "call_1", "content": "{}"},
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-5.4-mini", messages=messages)
    assert "must be a response to a preceeding message with 'tool_calls'" in caught.value.message


def test_unanswered_tool_call_is_rejected(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    call: ChatCompletionMessageFunctionToolCallParam = {
        "id": "call_abc",
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"},
    }
    messages: list[ChatCompletionMessageParam] = [
        *HELLO,
        {"role": "assistant", "content": None, "tool_calls": [call]},
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-5.4-mini", messages=messages)
    assert "call_abc" in caught.value.message


def test_strict_tool_schema_with_a_default_is_rejected(start_server: StartServer) -> None:
    client = sync_client(start_server("replay_server.yaml"))
    parameters = {
        "type": "object",
        "properties": {"units": {"type": "string", "default": "celsius"}},
        "required": ["units"],
        "additionalProperties": False,
    }
    tool: ChatCompletionFunctionToolParam = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": parameters, "strict": True},
    }
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO, tools=[tool])
    assert caught.value.code == "invalid_function_parameters"
    assert "In context=('properties', 'units'), 'default' is not permitted." in caught.value.message
