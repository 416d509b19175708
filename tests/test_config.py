"""helpers.config: profiles from the environment, and the arguments each model family accepts."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
from conftest import StartServer, sync_client

from helpers.config import ConfigError, GenerationProfile, env_name, load_profile
from helpers.replay.config import DEFAULT_DEPLOYMENTS, Deployment

RECORDINGS = "test_config.yaml"
MESSAGES: list = [
    {"role": "user", "content": "Name one prime number between 20 and 30. Answer with the number."}
]
# A reasoning deployment next to the defaults, as a user would list it in deployments.yaml.
DEPLOYMENTS = {
    **DEFAULT_DEPLOYMENTS,
    "o4-mini": Deployment(kind="chat", model="o4-mini-2025-04-16"),
}

STANDARD_ENV = {
    "AZURE_OPENAI_CHAT_DEPLOYMENT": "gpt-4o-mini",
    "AZURE_OPENAI_CHAT_MAX_OUTPUT_TOKENS": "50",
    "AZURE_OPENAI_CHAT_TEMPERATURE": "0",
    "AZURE_OPENAI_CHAT_SEED": "0",
}
REASONING_ENV = {
    "AZURE_OPENAI_REASONING_DEPLOYMENT": "o4-mini",
    "AZURE_OPENAI_REASONING_FAMILY": "reasoning",
    "AZURE_OPENAI_REASONING_MAX_OUTPUT_TOKENS": "2000",
    "AZURE_OPENAI_REASONING_REASONING_EFFORT": "low",
}


class Verdict(pydantic.BaseModel):
    prime: int


# --- loading -------------------------------------------------------------------------------------


def test_env_name_is_prefixed_by_the_profile() -> None:
    assert env_name("chat", "max_output_tokens") == "AZURE_OPENAI_CHAT_MAX_OUTPUT_TOKENS"


def test_load_profile_reads_typed_values() -> None:
    profile = load_profile("chat", environ=STANDARD_ENV)
    assert profile.max_output_tokens == 50
    assert profile.temperature == 0.0
    assert profile.family == "standard"


def test_load_profile_reads_the_dotenv_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "AZURE_OPENAI_TRIAGE_DEPLOYMENT=gpt-4o\nAZURE_OPENAI_TRIAGE_TOP_P=0.5\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AZURE_OPENAI_TRIAGE_DEPLOYMENT", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_TRIAGE_TOP_P", raising=False)
    try:
        profile = load_profile("triage")
    finally:  # load_dotenv wrote them into os.environ
        monkeypatch.delenv("AZURE_OPENAI_TRIAGE_DEPLOYMENT", raising=False)
        monkeypatch.delenv("AZURE_OPENAI_TRIAGE_TOP_P", raising=False)
    assert (profile.deployment, profile.top_p) == ("gpt-4o", 0.5)


def test_empty_variables_count_as_unset() -> None:
    profile = load_profile("chat", environ={**STANDARD_ENV, "AZURE_OPENAI_CHAT_TEMPERATURE": " "})
    assert profile.temperature is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "AZURE_OPENAI_CHAT_DEPLOYMENT: not set"),
        (
            {**STANDARD_ENV, "AZURE_OPENAI_CHAT_TEMPERATURE": "warm"},
            "AZURE_OPENAI_CHAT_TEMPERATURE: Input should be a valid number",
        ),
        (
            {**STANDARD_ENV, "AZURE_OPENAI_CHAT_TOP_P": "1.5"},
            "AZURE_OPENAI_CHAT_TOP_P: Input should be less than or equal to 1 (got '1.5')",
        ),
        (
            {**STANDARD_ENV, "AZURE_OPENAI_CHAT_MAX_OUTPUT_TOKENS": "0"},
            "AZURE_OPENAI_CHAT_MAX_OUTPUT_TOKENS: Input should be greater than or equal to 1",
        ),
        (
            {**STANDARD_ENV, "AZURE_OPENAI_CHAT_FAMILY": "o-series"},
            "AZURE_OPENAI_CHAT_FAMILY: Input should be 'standard' or 'reasoning'",
        ),
        (
            {**STANDARD_ENV, "AZURE_OPENAI_CHAT_REASONING_EFFORT": "low"},
            "AZURE_OPENAI_CHAT_REASONING_EFFORT: only reasoning models accept reasoning_effort",
        ),
    ],
)
def test_invalid_settings_are_named_by_their_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_profile("chat", environ=env)
    assert str(caught.value).startswith(message)


def test_sampling_settings_on_a_reasoning_profile_are_named() -> None:
    env = {**REASONING_ENV, "AZURE_OPENAI_REASONING_TEMPERATURE": "0.7"}
    with pytest.raises(ConfigError) as caught:
        load_profile("reasoning", environ=env)
    assert caught.value.setting == "AZURE_OPENAI_REASONING_TEMPERATURE"
    assert "reasoning models accept no temperature" in str(caught.value)


def test_profile_built_in_code_names_the_field() -> None:
    with pytest.raises(pydantic.ValidationError, match="top_p: reasoning models accept no top_p"):
        GenerationProfile(deployment="o4-mini", family="reasoning", top_p=0.9)


# --- arguments -----------------------------------------------------------------------------------


def test_standard_chat_arguments_keep_zero_and_omit_unset() -> None:
    args = load_profile("chat", environ=STANDARD_ENV).chat_arguments()
    assert args == {
        "model": "gpt-4o-mini",
        "max_completion_tokens": 50,
        "temperature": 0.0,
        "seed": 0,
    }


def test_reasoning_chat_arguments_use_max_completion_tokens_and_effort() -> None:
    args = load_profile("reasoning", environ=REASONING_ENV).chat_arguments()
    assert args == {"model": "o4-mini", "max_completion_tokens": 2000, "reasoning_effort": "low"}
    assert "max_tokens" not in args


def test_no_profile_ever_produces_max_tokens_or_nulls() -> None:
    profiles = [
        GenerationProfile(deployment="d"),
        GenerationProfile(deployment="d", max_output_tokens=1, presence_penalty=0),
        GenerationProfile(deployment="d", family="reasoning", max_output_tokens=1),
    ]
    for profile in profiles:
        for args in (profile.chat_arguments(), profile.responses_arguments()):
            assert "max_tokens" not in args
            assert None not in args.values()


def test_chat_arguments_turn_a_pydantic_model_into_a_strict_schema() -> None:
    fmt = GenerationProfile(deployment="d").chat_arguments(Verdict)["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["strict"] is True  # type: ignore[typeddict-item]


def test_responses_arguments_for_a_reasoning_profile() -> None:
    args = load_profile("reasoning", environ=REASONING_ENV).responses_arguments(Verdict)
    assert args["max_output_tokens"] == 2000
    assert args["reasoning"] == {"effort": "low"}
    assert args["text"]["format"]["type"] == "json_schema"  # type: ignore[typeddict-item]
    assert args["text"]["format"]["name"] == "Verdict"  # type: ignore[typeddict-item]
    assert args["text"]["format"]["schema"]["additionalProperties"] is False  # type: ignore[typeddict-item,index]


def test_responses_arguments_for_a_standard_profile_keep_sampling() -> None:
    args = load_profile("chat", environ=STANDARD_ENV).responses_arguments()
    assert args == {"model": "gpt-4o-mini", "max_output_tokens": 50, "temperature": 0.0}


# --- the arguments against the replay server -----------------------------------------------------


def test_standard_arguments_are_accepted_by_a_standard_deployment(
    start_server: StartServer,
) -> None:
    client = sync_client(start_server(RECORDINGS, deployments=DEPLOYMENTS))
    profile = load_profile("chat", environ=STANDARD_ENV)
    completion = client.chat.completions.create(messages=MESSAGES, **profile.chat_arguments())
    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert completion.usage is not None
    assert completion.usage.completion_tokens <= 50


def test_reasoning_arguments_are_accepted_by_a_reasoning_deployment(
    start_server: StartServer,
) -> None:
    client = sync_client(start_server(RECORDINGS, deployments=DEPLOYMENTS))
    profile = load_profile("reasoning", environ=REASONING_ENV)
    completion = client.chat.completions.create(messages=MESSAGES, **profile.chat_arguments())
    assert completion.model == "o4-mini-2025-04-16"
    details = completion.usage.completion_tokens_details  # type: ignore[union-attr]
    assert details is not None and details.reasoning_tokens > 0
