"""Keyless sign-in with today's audience: the replay server takes Entra ID tokens for
``https://ai.azure.com`` (the scope Microsoft Learn's "Azure OpenAI in Microsoft Foundry
Models v1 API" page requests) as well as ``https://cognitiveservices.azure.com``, and
``connect()`` asks for the former. Offline, with ``helpers.replay.ReplayCredential``."""

from __future__ import annotations

import time
from typing import Any

import jwt
import openai
import pytest
from azure.core.credentials import AccessToken
from azure.identity import get_bearer_token_provider
from conftest import API_VERSION, StartServer, sync_client
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from helpers import Settings, connect
from helpers.replay import ReplayCredential
from helpers.replay.identity import mint_token, token_is_valid

HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello in five words."}]
ANSWER = "Hello there, nice to meet!"
KEY = "local-replay-key"
# Written out, not imported: the test states what Learn's pages say.
V1_PAGE_SCOPE = "https://ai.azure.com/.default"
EARLIER_SCOPE = "https://cognitiveservices.azure.com/.default"


@pytest.mark.parametrize("scope", [V1_PAGE_SCOPE, EARLIER_SCOPE], ids=["ai.azure.com", "cogsvc"])
def test_both_audiences_are_accepted_by_the_v1_and_the_dated_api(
    start_server: StartServer, scope: str
) -> None:
    server = start_server("replay_server.yaml")
    provider = get_bearer_token_provider(ReplayCredential(server.api_key), scope)
    dated = sync_client(server, api_key=None, azure_ad_token_provider=provider)
    v1 = OpenAI(base_url=f"{server.url}/openai/v1/", api_key=provider, max_retries=0)
    for client in (dated, v1):
        answer = client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
        assert answer.choices[0].message.content == ANSWER


@pytest.mark.parametrize(
    "scope",
    ["https://management.azure.com/.default", "https://search.azure.com/.default",
     "https://ai.azure.com.evil.example/.default", "https://azure.com/.default"],
)  # fmt: skip
def test_other_audiences_are_still_refused_with_azures_401(
    start_server: StartServer, scope: str
) -> None:
    server = start_server("replay_server.yaml")
    provider = get_bearer_token_provider(ReplayCredential(server.api_key), scope)
    client = OpenAI(base_url=f"{server.url}/openai/v1/", api_key=provider, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
    assert caught.value.status_code == 401
    assert "audience is incorrect" in caught.value.message


def test_azure_ai_search_does_not_take_an_openai_token() -> None:
    now = time.time()
    token = mint_token(KEY, audience="https://ai.azure.com", expires_on=int(now) + 600)
    assert token_is_valid(token, KEY, now)  # the Azure OpenAI audience, by default
    assert not token_is_valid(token, KEY, now, audience="https://search.azure.com")


def test_the_audience_check_reads_the_claim_not_the_issuer_or_the_key() -> None:
    now = time.time()
    expires = int(now) + 600
    forged = mint_token("another-key", audience="https://ai.azure.com", expires_on=expires)
    assert not token_is_valid(forged, KEY, now)
    token = mint_token(KEY, audience="https://ai.azure.com/", expires_on=expires)
    assert token_is_valid(token, KEY, now)  # a trailing slash, as Entra sometimes writes it


class ScopeSpy:
    """A credential that records the scopes it is asked for and delegates to the stand-in."""

    def __init__(self, key: str) -> None:
        self.scopes: list[tuple[str, ...]] = []
        self._inner = ReplayCredential(key)

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return self._inner.get_token(*scopes, **kwargs)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        self.scopes.append(scopes)
        return self._inner.get_token_info(*scopes, options=options)


def test_connect_asks_entra_id_for_the_v1_pages_scope(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_server("replay_server.yaml")
    azure = connect(settings=Settings(api_version=API_VERSION, replay_url=server.url), quiet=True)
    spy = ScopeSpy(server.api_key)
    monkeypatch.setattr(type(azure), "token_credential", lambda self: spy)
    for client in (azure.sync_client("entra"), azure.v1_client("entra")):
        answer = client.chat.completions.create(model="gpt-5.4-mini", messages=HELLO)
        assert answer.choices[0].message.content == ANSWER
    assert spy.scopes and set(spy.scopes) == {(V1_PAGE_SCOPE,)}


def test_the_stand_in_mints_a_token_for_the_scopes_audience() -> None:
    token = ReplayCredential(KEY).get_token(V1_PAGE_SCOPE).token
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == "https://ai.azure.com"
