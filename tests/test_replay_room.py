"""A classroom's replay server (helpers/replay/room.py): a key per learner, a state per key.

Two learners on one server share nothing but the recordings: files, stored responses and
rate-limit counts are per key, an unknown or the default key gets Azure's 401, and the keys
come back the same from the same room secret.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest
from azure.identity import get_bearer_token_provider
from conftest import RECORDINGS, sync_client

from helpers.replay import DEFAULT_API_KEY, Deployment, ReplayConfig, room
from helpers.replay.__main__ import main as serve_main
from helpers.replay.identity import COGNITIVE_SERVICES_SCOPE, ReplayCredential
from helpers.replay.server import ReplayServer

SECRET = b"0123456789abcdef0123456789abcdef"
KEYS = room.room_keys(SECRET, 2)
FILES_VERSION = "2024-10-21"
MODEL = "gpt-5.4-mini"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()  # the tokens ReplayCredential mints are valid at start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def classroom() -> Iterator[ReplayServer]:
    """A lenient room of two learners; 2 requests a second (120 a minute) each."""
    deployments = {
        MODEL: Deployment(kind="chat", model="gpt-5.4-mini-2026-03-17", requests_per_minute=120)
    }
    config = ReplayConfig(
        mode="lenient", recordings=[RECORDINGS / "replay_core.yaml"], deployments=deployments,
        rate_limits={"enforce": True}, room_keys=KEYS,
    )  # fmt: skip
    with ReplayServer(config, clock=Clock()) as server:
        yield server


def learner(server: ReplayServer, n: int) -> openai.AzureOpenAI:
    return sync_client(server, api_key=KEYS[n - 1], api_version=FILES_VERSION)


def test_two_learners_upload_the_same_file_name_and_neither_sees_the_others(
    classroom: ReplayServer,
) -> None:
    first, second = learner(classroom, 1), learner(classroom, 2)
    mine = first.files.create(file=("notes.jsonl", b'{"a": 1}\n'), purpose="batch")
    theirs = second.files.create(file=("notes.jsonl", b'{"b": 2}\n'), purpose="batch")
    assert mine.id != theirs.id
    assert [f.id for f in first.files.list()] == [mine.id]
    assert [f.id for f in second.files.list()] == [theirs.id]
    assert first.files.content(mine.id).read() == b'{"a": 1}\n'
    for client, other in ((first, theirs.id), (second, mine.id)):
        with pytest.raises(openai.NotFoundError) as missing:
            client.files.retrieve(other)
        assert missing.value.status_code == 404
        assert missing.value.body == {  # Azure's 404 for an id it does not hold
            "message": f"File with id '{other}' not found.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }


def test_a_stored_response_is_its_learners_only(classroom: ReplayServer) -> None:
    response = learner(classroom, 2).responses.create(model=MODEL, input="Say hi.", store=True)
    assert learner(classroom, 2).responses.retrieve(response.id).id == response.id
    with pytest.raises(openai.NotFoundError):
        learner(classroom, 1).responses.retrieve(response.id)


def test_each_learner_has_rate_limit_counts_of_their_own(classroom: ReplayServer) -> None:
    first, second = learner(classroom, 1), learner(classroom, 2)
    ask = {"model": MODEL, "messages": [{"role": "user", "content": "Say hello."}]}
    answers = [first.chat.completions.with_raw_response.create(**ask) for _ in range(2)]  # type: ignore[call-overload]
    assert [a.headers["x-ratelimit-remaining-requests"] for a in answers] == ["1", "0"]
    with pytest.raises(openai.RateLimitError):
        first.chat.completions.create(**ask)  # type: ignore[call-overload]
    untouched = second.chat.completions.with_raw_response.create(**ask)  # type: ignore[call-overload]
    assert untouched.headers["x-ratelimit-remaining-requests"] == "1"


@pytest.mark.parametrize("key", ["room-03-0000000000000000", DEFAULT_API_KEY])
def test_an_unknown_key_and_the_default_key_get_azures_401(
    classroom: ReplayServer, key: str
) -> None:
    with pytest.raises(openai.AuthenticationError) as refused:
        sync_client(classroom, api_key=key).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Say hello."}]
        )
    assert refused.value.status_code == 401
    assert refused.value.body["code"] == "401"  # type: ignore[index]
    assert refused.value.body["message"].startswith("Access denied due to invalid subscription key")  # type: ignore[index]


def test_an_entra_token_signed_from_a_learners_key_reaches_that_learners_state(
    classroom: ReplayServer,
) -> None:
    uploaded = learner(classroom, 1).files.create(file=("t.jsonl", b"{}\n"), purpose="batch")
    provider = get_bearer_token_provider(ReplayCredential(KEYS[0]), COGNITIVE_SERVICES_SCOPE)
    keyless = openai.AzureOpenAI(
        azure_endpoint=classroom.url, azure_ad_token_provider=provider,
        api_version=FILES_VERSION, max_retries=0,
    )  # fmt: skip
    assert [f.id for f in keyless.files.list()] == [uploaded.id]


def test_a_learner_resets_their_own_state_only(classroom: ReplayServer) -> None:
    first, second = learner(classroom, 1), learner(classroom, 2)
    kept = second.files.create(file=("k.jsonl", b"{}\n"), purpose="batch")
    first.files.create(file=("k.jsonl", b"{}\n"), purpose="batch")
    reset = httpx2.post(f"{classroom.url}/_replay/reset", headers={"api-key": KEYS[0]})
    assert reset.status_code == 204
    assert list(first.files.list()) == []
    assert [f.id for f in second.files.list()] == [kept.id]


def test_keys_are_derived_from_the_secret_made_once(tmp_path: Path) -> None:
    path = tmp_path / ".room" / "secret"
    secret = room.read_secret(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert room.read_secret(path) == secret  # made once, read after
    keys = room.room_keys(secret, 30)
    assert keys == room.room_keys(room.read_secret(path), 30)
    assert len(set(keys)) == 30 and keys[6].startswith("room-07-")
    assert room.room_keys(b"another secret, 32 characters ok", 30)[6] != keys[6]
    assert room.learner_key(SECRET, 1) == "room-01-" + room.learner_key(SECRET, 1)[8:]
    table = room.key_table(keys[:2])
    assert table.splitlines()[2:] == [f"| 1 | `{keys[0]}` |", f"| 2 | `{keys[1]}` |"]


def test_a_room_will_not_start_without_an_explicit_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert serve_main(["--room", "3", "--room-secret", str(tmp_path / "secret")]) == 2
    assert "a room needs an explicit address: --host" in capsys.readouterr().err


def test_a_room_does_not_record() -> None:
    with pytest.raises(ValueError, match="a room replays"):
        ReplayConfig(mode="record", upstream="http://x", room_keys=KEYS)
