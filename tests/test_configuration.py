"""helpers.configuration: profiles from the environment; the arguments each model family takes."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import matplotlib
import openai
import pydantic
import pytest
from conftest import StartServer, solution, sync_client, v1_client
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle
from openai import OpenAI

from helpers.configuration import (
    OUTCOME_COLOURS,
    ConfigError,
    GenerationProfile,
    check_responses_kwargs,
    env_name,
    load_profile,
    plot_refusals,
)
from helpers.replay import ReplayServer
from helpers.replay.config import DEFAULT_DEPLOYMENTS, Deployment
from helpers.replay.recordings.store import RecordingsFile

matplotlib.use("Agg")

RECORDINGS = "test_configuration.yaml"
MESSAGES: list = [
    {"role": "user", "content": "Name one prime number between 20 and 30. Answer with the number."}
]
QUESTION = "Name one prime number between 20 and 30."
# gpt-5.4-mini, a built-in deployment of the replay server, is a reasoning model
# (gpt-5.4-mini-2026-03-17). The server hosts no standard model any more, so this module adds
# one: gpt-4.1-mini (2025-04-14, Legacy), a standard-family model kept for what this module
# tests, the arguments only that family takes (temperature, seed, no reasoning_effort).
REASONING_MODEL = "gpt-5.4-mini-2026-03-17"
STANDARD_MODEL = "gpt-4.1-mini-2025-04-14"
DEPLOYMENTS = {
    **DEFAULT_DEPLOYMENTS,
    "gpt-4.1-mini": Deployment(kind="chat", model=STANDARD_MODEL),
}
API_VERSION = "2025-04-01-preview"  # reasoning_effort needs 2024-12-01-preview or later

STANDARD_ENV = {
    "AZURE_OPENAI_CHAT_DEPLOYMENT": "gpt-4.1-mini",
    "AZURE_OPENAI_CHAT_MAX_OUTPUT_TOKENS": "50",
    "AZURE_OPENAI_CHAT_TEMPERATURE": "0",
    "AZURE_OPENAI_CHAT_SEED": "0",
}
REASONING_ENV = {
    "AZURE_OPENAI_REASONING_DEPLOYMENT": "gpt-5.4-mini",
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
        "AZURE_OPENAI_TRIAGE_DEPLOYMENT=gpt-4.1-mini\nAZURE_OPENAI_TRIAGE_TOP_P=0.5\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AZURE_OPENAI_TRIAGE_DEPLOYMENT", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_TRIAGE_TOP_P", raising=False)
    try:
        profile = load_profile("triage")
    finally:  # load_dotenv wrote them into os.environ
        monkeypatch.delenv("AZURE_OPENAI_TRIAGE_DEPLOYMENT", raising=False)
        monkeypatch.delenv("AZURE_OPENAI_TRIAGE_TOP_P", raising=False)
    assert (profile.deployment, profile.top_p) == ("gpt-4.1-mini", 0.5)


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
        GenerationProfile(deployment="gpt-5.4-mini", family="reasoning", top_p=0.9)


# --- arguments -----------------------------------------------------------------------------------


def test_standard_chat_arguments_keep_zero_and_omit_unset() -> None:
    args = load_profile("chat", environ=STANDARD_ENV).chat_arguments()
    assert args == {
        "model": "gpt-4.1-mini",
        "max_completion_tokens": 50,
        "temperature": 0.0,
        "seed": 0,
    }


def test_reasoning_chat_arguments_use_max_completion_tokens_and_effort() -> None:
    args = load_profile("reasoning", environ=REASONING_ENV).chat_arguments()
    assert args == {
        "model": "gpt-5.4-mini",
        "max_completion_tokens": 2000,
        "reasoning_effort": "low",
    }
    assert "max_tokens" not in args


@pytest.mark.parametrize("effort", ["none", "xhigh"])
def test_gpt_5_4_efforts_are_profile_settings(effort: str) -> None:
    env = {**REASONING_ENV, "AZURE_OPENAI_REASONING_REASONING_EFFORT": effort}
    profile = load_profile("reasoning", environ=env)
    assert profile.chat_arguments()["reasoning_effort"] == effort
    assert profile.responses_arguments()["reasoning"] == {"effort": effort}


def test_an_effort_no_model_takes_is_named_by_its_variable() -> None:
    env = {**REASONING_ENV, "AZURE_OPENAI_REASONING_REASONING_EFFORT": "extreme"}
    with pytest.raises(ConfigError) as caught:
        load_profile("reasoning", environ=env)
    assert caught.value.setting == "AZURE_OPENAI_REASONING_REASONING_EFFORT"


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
    assert args == {"model": "gpt-4.1-mini", "max_output_tokens": 50, "temperature": 0.0}


# --- the arguments against the replay server -----------------------------------------------------
#
# Recorded answers show what each deployment sends back. But the replay server serves a recording
# before it validates (as a cache would), so acceptance itself is tested in lenient mode with no
# recordings: a 200 marked x-replay-unrecorded went through the server's validation, which is
# Azure's, reasoning-model rules included (helpers/replay/families.py).

STANDARD = load_profile("chat", environ=STANDARD_ENV)
REASONING = load_profile("reasoning", environ=REASONING_ENV)
PROFILES = {"standard": STANDARD, "reasoning": REASONING}


def chat_client(server: ReplayServer, surface: str) -> OpenAI:
    return v1_client(server) if surface == "v1" else sync_client(server, api_version=API_VERSION)


@pytest.fixture
def serve(start_server: StartServer) -> StartServer:
    """``start_server`` with this module's deployments: the built-in ones and gpt-4.1-mini."""
    return partial(start_server, deployments=DEPLOYMENTS)


@pytest.fixture
def no_recordings(tmp_path: Path) -> Path:
    path = tmp_path / "none.yaml"
    RecordingsFile.new(path, "curated").save()
    return path


Send = Callable[[ReplayServer, GenerationProfile, dict[str, Any]], Any]


def send_chat_deployments(server: ReplayServer, profile: GenerationProfile, extra: dict) -> Any:
    return sync_client(server, api_version=API_VERSION).chat.completions.with_raw_response.create(
        messages=MESSAGES, **profile.chat_arguments(), **extra
    )


def send_chat_v1(server: ReplayServer, profile: GenerationProfile, extra: dict) -> Any:
    return v1_client(server).chat.completions.with_raw_response.create(
        messages=MESSAGES, **profile.chat_arguments(), **extra
    )


def send_responses(server: ReplayServer, profile: GenerationProfile, extra: dict) -> Any:
    return v1_client(server).responses.with_raw_response.create(
        input=QUESTION, **profile.responses_arguments(), **extra
    )


SURFACES: dict[str, Send] = {
    "chat-deployments": send_chat_deployments,
    "chat-v1": send_chat_v1,
    "responses-v1": send_responses,
}


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("family", PROFILES)
def test_profile_arguments_pass_azures_validation_for_their_family(
    serve: StartServer, no_recordings: Path, family: str, surface: str
) -> None:
    server = serve(no_recordings, mode="lenient")
    raw = SURFACES[surface](server, PROFILES[family], {})
    assert raw.status_code == 200
    assert raw.headers["x-replay-unrecorded"] == "true"  # validated, then simulated


# Each argument a reasoning deployment rejects, added to the reasoning profile's own (accepted)
# arguments. Wording: max_tokens from shared/docs/azure-wire-facts.md (public captures);
# temperature on chat from microsoft/vscode#255504 and NVlabs/cvdp_benchmark#29; temperature on
# Responses from OpenHands/software-agent-sdk#992 (gpt-5-2025-08-07). The other arguments follow
# the same two patterns (code and param asserted; their exact wording is the server's).
REASONING_REJECTS = [
    ("max_tokens", 300, "unsupported_parameter",
     "Unsupported parameter: 'max_tokens' is not supported with this model. "
     "Use 'max_completion_tokens' instead."),
    ("temperature", 0.2, "unsupported_value",
     "Unsupported value: 'temperature' does not support 0.2 with this model. "
     "Only the default (1) value is supported."),
    ("top_p", 0.5, "unsupported_value", None),
    ("presence_penalty", 0.5, "unsupported_value", None),
    ("frequency_penalty", 0.5, "unsupported_value", None),
    ("logprobs", True, "unsupported_parameter", None),
]  # fmt: skip


@pytest.mark.parametrize("surface", ["chat-deployments", "chat-v1"])
@pytest.mark.parametrize(("argument", "value", "code", "message"), REASONING_REJECTS)
def test_reasoning_deployment_answers_400_to_each_argument_the_profile_leaves_out(
    serve: StartServer,
    surface: str,
    argument: str,
    value: object,
    code: str,
    message: str | None,
) -> None:
    assert argument not in REASONING.chat_arguments()
    # Replay mode, recordings loaded: an unrecorded request that Azure would reject gets
    # Azure's 400, not the replay server's "missing recording".
    server = serve(RECORDINGS)
    with pytest.raises(openai.BadRequestError) as caught:
        SURFACES[surface](server, REASONING, {argument: value})
    assert (caught.value.code, caught.value.param) == (code, argument)
    if message is not None:
        assert caught.value.body["message"] == message  # type: ignore[index]


@pytest.mark.parametrize("argument", ["temperature", "top_p"])
def test_reasoning_deployment_answers_400_to_sampling_on_the_responses_api(
    serve: StartServer, argument: str
) -> None:
    assert argument not in REASONING.responses_arguments()
    server = serve(RECORDINGS)
    with pytest.raises(openai.BadRequestError) as caught:
        send_responses(server, REASONING, {argument: 0.2})
    assert (caught.value.code, caught.value.param) == ("unsupported_parameter", argument)
    assert caught.value.body["message"] == (  # type: ignore[index]
        f"Unsupported parameter: '{argument}' is not supported with this model."
    )


@pytest.mark.parametrize(
    ("surface", "extra", "param"),
    [
        ("chat-deployments", {"reasoning_effort": "low"}, "reasoning_effort"),
        ("chat-v1", {"reasoning_effort": "low"}, "reasoning_effort"),
        ("responses-v1", {"reasoning": {"effort": "low"}}, "reasoning.effort"),
    ],
)
def test_standard_deployment_answers_400_to_reasoning_effort(
    serve: StartServer, surface: str, extra: dict[str, Any], param: str
) -> None:
    assert "reasoning_effort" not in STANDARD.chat_arguments()
    assert "reasoning" not in STANDARD.responses_arguments()
    server = serve(RECORDINGS)
    with pytest.raises(openai.BadRequestError) as caught:
        SURFACES[surface](server, STANDARD, extra)
    assert (caught.value.code, caught.value.param) == ("unsupported_parameter", param)


def test_a_reasoning_effort_the_model_lacks_is_a_400(serve: StartServer) -> None:
    profile = GenerationProfile(deployment="gpt-5.4-mini", family="reasoning")
    server = serve(RECORDINGS)
    # minimal was a GPT-5 (2025-08-07) effort; GPT-5.4 takes none, low, medium, high, xhigh.
    with pytest.raises(openai.BadRequestError) as caught:
        send_chat_deployments(server, profile, {"reasoning_effort": "minimal"})
    assert (caught.value.code, caught.value.param) == ("unsupported_value", "reasoning_effort")


@pytest.mark.parametrize("surface", ["deployments", "v1"])
def test_standard_arguments_are_answered_by_a_standard_deployment(
    serve: StartServer, surface: str
) -> None:
    client = chat_client(serve(RECORDINGS), surface)
    completion = client.chat.completions.create(messages=MESSAGES, **STANDARD.chat_arguments())
    assert completion.model == STANDARD_MODEL
    assert completion.usage is not None
    assert completion.usage.completion_tokens <= 50


@pytest.mark.parametrize("surface", ["deployments", "v1"])
def test_reasoning_arguments_are_answered_by_a_reasoning_deployment(
    serve: StartServer, surface: str
) -> None:
    client = chat_client(serve(RECORDINGS), surface)
    completion = client.chat.completions.create(messages=MESSAGES, **REASONING.chat_arguments())
    assert completion.model == REASONING_MODEL
    usage = completion.usage
    assert usage is not None and usage.completion_tokens_details is not None
    reasoning_tokens = usage.completion_tokens_details.reasoning_tokens or 0
    assert 0 < reasoning_tokens < usage.completion_tokens <= 2000


def test_reasoning_responses_arguments_are_answered_with_a_schema(
    serve: StartServer,
) -> None:
    response = v1_client(serve(RECORDINGS)).responses.create(
        input=QUESTION, **REASONING.responses_arguments(Verdict)
    )
    assert response.model == REASONING_MODEL
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert Verdict.model_validate_json(response.output_text).prime in (23, 29)
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens > 0


def test_standard_responses_arguments_are_answered(serve: StartServer) -> None:
    response = v1_client(serve(RECORDINGS)).responses.create(
        input=QUESTION, **STANDARD.responses_arguments()
    )
    assert response.model == STANDARD_MODEL
    assert response.temperature == 0.0
    assert [item.type for item in response.output] == ["message"]
    assert response.usage is not None and response.usage.output_tokens <= 50


def test_exercise_solution_passes() -> None:
    feedback = check_responses_kwargs(solution("18_configuration").responses_kwargs)
    assert feedback.passed, feedback.message


def test_exercise_wrong_answer_is_rejected_helpfully() -> None:
    def the_guides_way(family: str, settings: dict[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": settings["deployment"]}
        if settings["max_output_tokens"]:
            kwargs["max_tokens"] = settings["max_output_tokens"]
        kwargs["reasoning_effort"] = settings["reasoning_effort"]
        return kwargs

    feedback = check_responses_kwargs(the_guides_way)
    assert not feedback.passed
    assert "'max_output_tokens'" in feedback.message
    assert "reasoning={'effort': ...}" in feedback.message


def test_exercise_dropping_a_zero_temperature_is_rejected() -> None:
    def truthy(family: str, settings: dict[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": settings["deployment"]}
        if settings["max_output_tokens"]:
            kwargs["max_output_tokens"] = settings["max_output_tokens"]
        if settings["reasoning_effort"]:
            kwargs["reasoning"] = {"effort": settings["reasoning_effort"]}
        if settings["temperature"]:
            kwargs["temperature"] = settings["temperature"]
        return kwargs

    feedback = check_responses_kwargs(truthy)
    assert not feedback.passed
    assert "temperature 0" in feedback.message and "`is not None`" in feedback.message


def test_plot_refusals_colours_each_request_by_what_azure_answered() -> None:
    outcomes = {
        ("max_tokens", "Chat Completions"): "unsupported_parameter",
        ("max_tokens", "Responses API"): "unknown_parameter",
        ("temperature", "Chat Completions"): "unsupported_value",
        ("temperature", "Responses API"): "accepted",
    }
    ax = plot_refusals(outcomes, deployment="gpt-5.4-mini")
    cells = {p.get_gid(): p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid()}
    assert set(cells) == {f"{a}|{api}" for a, api in outcomes}
    for (argument, api), outcome in outcomes.items():
        cell = cells[f"{argument}|{api}"]
        assert cell.get_facecolor() == to_rgba(OUTCOME_COLOURS[outcome])
        column = ["Chat Completions", "Responses API"].index(api)
        row = ["max_tokens", "temperature"].index(argument)
        assert cell.get_xy() == (column - 0.5, row - 0.5)
    texts = {(t.get_position(), t.get_text()) for t in ax.texts}
    assert ((0, 0), "unsupported_parameter") in texts
    assert ((1, 1), "accepted") in texts
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Chat Completions", "Responses API"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["max_tokens", "temperature"]
    assert ax.get_title() == "What gpt-5.4-mini answered to each argument, sent alone"
    bottom, top = ax.get_ylim()
    assert top < bottom  # the first argument on top
    # an error code the palette does not name still gets a colour of its own
    other = plot_refusals({("seed", "Responses API"): "invalid_type"})
    assert other.patches[0].get_facecolor() == to_rgba("C4")


def test_plot_refusals_needs_every_argument_on_every_api() -> None:
    with pytest.raises(ValueError, match="no outcomes"):
        plot_refusals({})
    with pytest.raises(ValueError, match=r"no outcome for \[\('top_p', 'Responses API'\)\]"):
        plot_refusals(
            {
                ("temperature", "Chat Completions"): "unsupported_value",
                ("temperature", "Responses API"): "unsupported_parameter",
                ("top_p", "Chat Completions"): "unsupported_value",
            }
        )
