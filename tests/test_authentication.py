"""Section 1 helper: configuration checks and connection diagnoses, against the replay server."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from azure.ai.projects import AIProjectClient
from azure.identity import get_bearer_token_provider
from conftest import HELLO, RECORDINGS, StartServer, solution, sync_client
from openai import AzureOpenAI, OpenAI

from helpers import Settings
from helpers.authentication import (
    check_connection,
    check_project_endpoint,
    check_settings,
    check_v1_base_url,
)
from helpers.replay import ReplayServer
from helpers.replay.config import DEFAULT_DEPLOYMENTS
from helpers.replay.identity import AI_SCOPE, COGNITIVE_SERVICES_SCOPE, ReplayCredential

LIVE = "https://my-resource.openai.azure.com/"


def _by_name(settings: Settings) -> dict[str, tuple[bool, str]]:
    return {c.name: (c.ok, c.detail) for c in check_settings(settings)}


def test_offline_defaults_pass_every_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_OPENAI_KEY", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_API_VERSION", raising=False)
    assert all(ok for ok, _ in _by_name(Settings()).values())


@pytest.mark.parametrize(
    ("endpoint", "fragment"),
    [
        ("http://my-resource.openai.azure.com", "https://"),
        ("https://example.com", "<resource>.openai.azure.com"),
        (f"{LIVE}openai/deployments/gpt-5.4-mini", "drop the path"),
    ],
)
def test_malformed_endpoints_fail_with_the_fix(endpoint: str, fragment: str) -> None:
    ok, detail = _by_name(Settings(endpoint=endpoint))["endpoint"]
    assert not ok and fragment in detail


def test_a_resource_url_passes() -> None:
    assert _by_name(Settings(endpoint=LIVE))["endpoint"][0]


def test_guide_variable_name_is_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_KEY", "x")
    ok, detail = _by_name(Settings(endpoint=LIVE))["credentials"]
    assert not ok and "AZURE_OPENAI_API_KEY" in detail


def test_no_key_with_an_endpoint_means_entra_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_OPENAI_KEY", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_API_VERSION", raising=False)
    assert "Entra ID" in _by_name(Settings(endpoint=LIVE))["credentials"][1]


def test_malformed_api_version_fails() -> None:
    assert not _by_name(Settings(api_version="2024-10"))["api-version"][0]


# gpt-4.1-mini: a standard-family (non-reasoning) model, deployed here only to show that the
# check's request (max_completion_tokens, no max_tokens) suits both families.
STANDARD = {"gpt-4.1-mini": {"kind": "chat", "model": "gpt-4.1-mini-2025-04-14"}}


@pytest.mark.parametrize(
    ("deployment", "model"),
    [("gpt-5.4-mini", "gpt-5.4-mini-2026-03-17"), ("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14")],
)
def test_connection_check_reports_model_and_region(
    start_server: StartServer, deployment: str, model: str
) -> None:
    server = start_server(
        "replay_server.yaml", mode="lenient", deployments={**DEFAULT_DEPLOYMENTS, **STANDARD}
    )
    check = check_connection(sync_client(server), deployment)
    assert check.ok
    assert check.detail == f"deployment {deployment!r} runs {model} in swedencentral"


@pytest.mark.parametrize(
    ("client_options", "deployment", "fragment"),
    [
        ({"api_key": "wrong"}, "gpt-5.4-mini", "credentials rejected (401)"),
        ({}, "gpt-35-turbo", "no deployment named 'gpt-35-turbo'"),
        ({"api_version": "2024-13-01"}, "gpt-5.4-mini", "resource not found (404)"),
    ],
    ids=["wrong-key", "model-name-as-deployment", "bad-api-version"],
)
def test_connection_failures_are_diagnosed(
    start_server: StartServer, client_options: dict[str, Any], deployment: str, fragment: str
) -> None:
    server = start_server("replay_server.yaml", mode="lenient")
    if "api_version" in client_options:
        client = AzureOpenAI(
            azure_endpoint=server.url, api_key=server.api_key, max_retries=0, **client_options
        )
    else:
        client = sync_client(server, **client_options)
    check = check_connection(client, deployment)
    assert not check.ok and fragment in check.detail


def test_unreachable_endpoint_is_diagnosed() -> None:
    client = AzureOpenAI(
        azure_endpoint="http://127.0.0.1:9", api_key="k", api_version="2024-10-21", max_retries=0
    )
    assert "could not connect" in check_connection(client, "gpt-5.4-mini").detail


def test_connection_check_passes_on_a_reasoning_deployment_through_the_v1_api(
    start_server: StartServer,
) -> None:
    # Reasoning models answer max_tokens with a 400; the check must use max_completion_tokens.
    server = start_server("replay_server.yaml", mode="lenient")
    client = OpenAI(base_url=f"{server.url}/openai/v1/", api_key=server.api_key, max_retries=0)
    check = check_connection(client, "gpt-5.4-mini")
    assert check.ok, check.detail
    assert "runs gpt-5.4-mini-2026-03-17" in check.detail


def test_connection_check_accepts_an_entra_id_token_provider_on_the_v1_api(
    start_server: StartServer,
) -> None:
    server = start_server("replay_server.yaml", mode="lenient")
    provider = get_bearer_token_provider(ReplayCredential(server.api_key), COGNITIVE_SERVICES_SCOPE)
    client = OpenAI(base_url=f"{server.url}/openai/v1/", api_key=provider, max_retries=0)
    assert check_connection(client, "gpt-5.4-mini").ok


def test_api_version_check_names_the_v1_api_as_the_alternative() -> None:
    ok, detail = _by_name(Settings())["api-version"]
    assert ok and detail.startswith("2025-04-01-preview (preview)") and "v1 needs none" in detail


def test_exercise_solution_passes() -> None:
    feedback = check_v1_base_url(solution("01_authentication").v1_base_url)
    assert feedback.passed, feedback


def test_exercise_wrong_answer_is_rejected_helpfully() -> None:
    feedback = check_v1_base_url(lambda endpoint: endpoint.rstrip("/") + "/openai/v1")
    assert not feedback.passed
    assert "'https://my-resource.openai.azure.com/openai/v1/'" in str(feedback)
    assert "end it with '/'" in str(feedback)


def test_exercise_stub_is_told_it_is_unfinished() -> None:
    def stub(endpoint: str) -> str:
        raise NotImplementedError

    assert "still a stub" in str(check_v1_base_url(stub))


# --- the Microsoft Foundry project endpoint ---------------------------------------------------

NOTEBOOK_RECORDINGS = (
    RECORDINGS.parent.parent / "notebooks" / "recordings" / "01_authentication.yaml"
)


def _project(server: ReplayServer, name: str = "cookbook") -> str:
    return f"{server.url}/api/projects/{name}"


def test_the_project_client_gets_a_v1_client_the_server_answers(
    start_server: StartServer,
) -> None:
    server = start_server(NOTEBOOK_RECORDINGS)  # replay mode: the notebook's recorded answer
    project = AIProjectClient(
        endpoint=_project(server), credential=ReplayCredential(server.api_key)
    )
    client = project.get_openai_client(max_retries=0)
    assert isinstance(client, OpenAI)
    assert str(client.base_url) == f"{_project(server)}/openai/v1/"
    response = client.responses.create(model="gpt-5.4-mini", input="Hello")
    assert response.model == "gpt-5.4-mini-2026-03-17"
    assert response.output_text == "Hello! How can I help you today?"


def test_the_project_endpoint_takes_an_entra_token_for_ai_azure_com_only(
    start_server: StartServer,
) -> None:
    server = start_server(mode="lenient")
    base_url = f"{_project(server, 'shop')}/openai/v1"
    credential = ReplayCredential(server.api_key)
    good = OpenAI(base_url=base_url, api_key=get_bearer_token_provider(credential, AI_SCOPE))
    assert good.chat.completions.create(model="gpt-5.4-nano", messages=HELLO).choices
    refused = {
        "resource token": OpenAI(
            base_url=base_url,
            api_key=get_bearer_token_provider(credential, COGNITIVE_SERVICES_SCOPE),
            max_retries=0,
        ),
        "key as bearer": OpenAI(base_url=base_url, api_key=server.api_key, max_retries=0),
        "api-key header": OpenAI(
            base_url=base_url,
            api_key="unused",
            default_headers={"api-key": server.api_key, "Authorization": ""},
            max_retries=0,
        ),
    }
    for label, client in refused.items():
        with pytest.raises(openai.AuthenticationError) as caught:
            client.responses.create(model="gpt-5.4-nano", input="Hello")
        assert "audience is incorrect (https://ai.azure.com)" in caught.value.message, label
    # The resource's own v1 API still takes the key.
    resource = OpenAI(base_url=f"{server.url}/openai/v1", api_key=server.api_key)
    assert resource.responses.create(model="gpt-5.4-nano", input="Hello").output_text


def test_the_project_endpoint_routes_no_embeddings(start_server: StartServer) -> None:
    server = start_server(mode="lenient")
    project = AIProjectClient(
        endpoint=_project(server), credential=ReplayCredential(server.api_key)
    )
    client = project.get_openai_client(max_retries=0)
    with pytest.raises(openai.NotFoundError, match="Resource not found"):
        client.embeddings.create(model="text-embedding-3-small", input="bells")


@pytest.mark.parametrize(
    ("endpoint", "ok", "fragment"),
    [
        ("https://shop-ai.services.ai.azure.com/api/projects/bikes", True, "'bikes'"),
        ("https://shop-ai.services.ai.azure.com/api/projects/bikes/", True, "'bikes'"),
        ("http://shop-ai.services.ai.azure.com/api/projects/bikes", False, "https://"),
        ("https://shop.openai.azure.com/", False, "AZURE_OPENAI_ENDPOINT"),
        ("https://shop-ai.services.ai.azure.com/", False, "/api/projects/<project>"),
        ("https://shop-ai.services.ai.azure.com/api/projects/bikes/openai/v1", False, "adds"),
        ("", False, "FOUNDRY_PROJECT_ENDPOINT"),
    ],
)
def test_a_pasted_project_endpoint_is_checked_with_the_fix(
    endpoint: str, ok: bool, fragment: str
) -> None:
    check = check_project_endpoint(endpoint)
    assert check.ok is ok and fragment in check.detail


def test_settings_read_the_project_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUNDRY_PROJECT_ENDPOINT", "https://a.services.ai.azure.com/api/projects/p")
    settings = Settings.from_env(dotenv=False)
    assert settings.project_endpoint == "https://a.services.ai.azure.com/api/projects/p"
