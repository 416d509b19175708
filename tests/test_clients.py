"""connect(): offline on an embedded or running replay server, live with a key or Entra ID."""

from __future__ import annotations

import pytest
from azure.search.documents.indexes.models import SearchIndex, SimpleField
from conftest import API_VERSION, HELLO, StartRecorder, StartServer

from helpers import Settings, connect
from helpers.authentication import check_settings
from helpers.replay.config import Mode


def test_settings_read_the_sdk_variable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k")
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-10-21")
    monkeypatch.setenv("AZURE_OPENAI_CHAT_DEPLOYMENT", "chat-prod")
    settings = Settings.from_env(dotenv=False)
    assert settings.endpoint == "https://res.openai.azure.com"
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "k"
    assert settings.api_version == "2024-10-21"
    assert settings.chat_deployment == "chat-prod"
    assert "k" not in repr(settings.api_key)


def test_empty_endpoint_means_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "")
    assert Settings.from_env(dotenv=False).offline


def test_connect_uses_a_running_replay_server(
    start_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = start_server("replay_server.yaml")
    azure = connect(
        settings=Settings(
            api_version=API_VERSION, replay_url=server.url, chat_deployment="gpt-5.4-mini"
        )
    )
    assert "Offline: replay server at" in capsys.readouterr().out
    answer = azure.client.chat.completions.create(model=azure.chat_deployment, messages=HELLO)
    assert answer.choices[0].message.content == "Hello there, nice to meet!"


def test_connect_entra_client_authenticates_offline(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml")
    azure = connect(settings=Settings(api_version=API_VERSION, replay_url=server.url), quiet=True)
    client = azure.sync_client("entra")
    answer = client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    assert answer.choices[0].message.content == "Hello there, nice to meet!"


async def test_connect_async_client_works(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml")
    azure = connect(settings=Settings(api_version=API_VERSION, replay_url=server.url), quiet=True)
    async with azure.make_async_client() as client:
        answer = await client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    assert answer.choices[0].message.content == "Hello there, nice to meet!"


def test_connect_starts_an_embedded_server_for_a_notebook(
    capsys: pytest.CaptureFixture[str],
) -> None:
    azure = connect("01_authentication", settings=Settings(replay_url="embedded"))
    line = capsys.readouterr().out.strip()
    assert line == (
        "Offline: replaying recordings/01_authentication.yaml on an embedded replay server "
        "(replay mode); no Azure calls."
    )
    assert azure.server is not None and azure.endpoint == azure.server.url
    again = connect("01_authentication", settings=Settings(replay_url="embedded"), quiet=True)
    assert again.server is azure.server


def test_connect_refuses_an_unreachable_replay_url() -> None:
    with pytest.raises(ConnectionError, match="No replay server answers"):
        connect(settings=Settings(replay_url="http://127.0.0.1:9"), quiet=True)


def test_connect_without_recordings_for_the_notebook_says_so() -> None:
    with pytest.raises(FileNotFoundError, match="No recordings for notebook"):
        connect("99_missing", settings=Settings(replay_url="embedded"), quiet=True)


def test_live_endpoint_without_key_uses_entra_id(capsys: pytest.CaptureFixture[str]) -> None:
    azure = connect(settings=Settings(endpoint="https://res.openai.azure.com"))
    assert azure.default_auth == "entra"
    assert "auth: Microsoft Entra ID" in capsys.readouterr().out
    options = azure._client_options("entra")
    assert callable(options["azure_ad_token_provider"]) and "api_key" not in options


def test_live_endpoint_with_key_uses_the_key() -> None:
    azure = connect(
        settings=Settings(endpoint="https://res.openai.azure.com", api_key="secret"), quiet=True
    )
    assert azure.default_auth == "key"
    assert azure._client_options("key")["api_key"] == "secret"
    assert azure.settings.replay_mode is Mode.REPLAY


def test_connect_through_a_recorder_sends_your_key_and_keeps_settings_checks_green(
    start_server: StartServer, start_recorder: StartRecorder
) -> None:
    upstream = start_server("replay_server.yaml", api_key="my-real-key")
    recorder, _ = start_recorder(upstream)
    azure = connect(
        settings=Settings(api_version=API_VERSION, replay_url=recorder.url, api_key="my-real-key"),
        quiet=True,
    )
    assert azure.recording and azure.endpoint == recorder.url
    assert azure.api_key == "my-real-key"
    assert all(check.ok for check in check_settings(azure.settings))
    answer = azure.client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    assert answer.choices[0].message.content == "Hello there, nice to meet!"


def test_connect_gives_v1_clients_with_a_key_and_with_entra_id(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml")
    azure = connect(settings=Settings(api_version=API_VERSION, replay_url=server.url), quiet=True)
    assert azure.v1_base_url == f"{server.url}/openai/v1/"
    for auth in ("key", "entra"):
        answer = azure.v1_client(auth).chat.completions.create(  # type: ignore[arg-type]
            model="gpt-5.4-mini", messages=HELLO
        )
        assert answer.choices[0].message.content == "Hello there, nice to meet!"


async def test_connect_gives_async_v1_clients(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml")
    azure = connect(settings=Settings(api_version=API_VERSION, replay_url=server.url), quiet=True)
    for auth in ("key", "entra"):
        async with azure.make_v1_async_client(auth) as client:  # type: ignore[arg-type]
            answer = await client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
        assert answer.choices[0].message.content == "Hello there, nice to meet!"


def test_connect_gives_search_clients_on_the_replay_server(start_server: StartServer) -> None:
    server = start_server("replay_server.yaml")
    azure = connect(settings=Settings(api_version=API_VERSION, replay_url=server.url), quiet=True)
    azure.search_index_client().create_index(
        SearchIndex(name="notes", fields=[SimpleField(name="id", type="Edm.String", key=True)])
    )
    azure.search_client("notes").upload_documents([{"id": "a"}, {"id": "b"}])
    assert azure.search_client("notes").get_document_count() == 2
