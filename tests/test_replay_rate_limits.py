"""Rate limits as Microsoft Learn describes them ("Manage Azure OpenAI in Microsoft Foundry
Models quota", section "Understanding rate limits"), through the official ``openai`` SDK
against a lenient replay server on an injected clock (no sleeps).

Learn's example is the oracle: "if Azure OpenAI is monitoring request rate on 1-second
intervals, then rate limiting occurs for a 600-RPM deployment if more than 10 requests are
received during each 1-second period". Tokens: "the estimated max-processed-token count is
added to a running token count of all requests that is reset each minute".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pydantic
import pytest
from conftest import API_VERSION
from openai import AzureOpenAI

from helpers.replay import Deployment, ReplayConfig, ReplayServer
from helpers.replay.behaviours.ratelimit import RateLimiter
from helpers.token_management import quota_charge

T0 = 1_796_083_200.0  # 2026-12-01T00:00:00Z, a whole minute after the models' GA
MODEL = "gpt-5.4-mini"
STANDARD = "gpt-4.1-mini"
"""A standard-family (non-reasoning) model, kept for Learn's quota formula as written: it names
``max_tokens`` and ``best_of``, which only that family takes (a reasoning model: the same
charge from ``max_completion_tokens``)."""


class Clock:
    """The server's clock: moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


Start = Callable[..., tuple[AzureOpenAI, Clock]]


@pytest.fixture
def limited() -> Iterator[Start]:
    """Lenient servers enforcing one deployment's limits on a clock the test moves."""
    servers: list[ReplayServer] = []

    def start(rpm: int, tpm: int = 1_000_000, window: int = 1) -> tuple[AzureOpenAI, Clock]:
        clock = Clock()
        deployments = {
            name: Deployment(
                kind="chat", model=model, requests_per_minute=rpm, tokens_per_minute=tpm
            )
            for name, model in (
                (MODEL, "gpt-5.4-mini-2026-03-17"), (STANDARD, "gpt-4.1-mini-2025-04-14"),
            )
        }  # fmt: skip
        config = ReplayConfig(
            mode="lenient", recordings=[], deployments=deployments,
            rate_limits={"enforce": True, "window_seconds": window},
        )  # fmt: skip
        server = ReplayServer(config, clock=clock).start()
        servers.append(server)
        client = AzureOpenAI(
            azure_endpoint=server.url, api_key=server.api_key, api_version=API_VERSION,
            max_retries=0,
        )  # fmt: skip
        return client, clock

    yield start
    for server in servers:
        server.stop()


def body(content: str = "Say hello.", model: str = MODEL, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def send(client: AzureOpenAI, **extra: Any) -> Any:
    """One request; its raw response (2xx) or the ``RateLimitError`` it raised."""
    try:
        return client.chat.completions.with_raw_response.create(**body(**extra))
    except openai.RateLimitError as error:
        return error


def retry_ms(answer: Any) -> int:
    assert isinstance(answer, openai.RateLimitError), "expected a 429"
    return int(answer.response.headers["retry-after-ms"])


def test_eleven_requests_inside_one_second_to_600_rpm_get_exactly_one_429(
    limited: Start,
) -> None:
    client, clock = limited(rpm=600)
    answers = []
    for i in range(11):  # spread over the first 0.9 s of the deployment's first window
        clock.now = T0 + i * 0.09
        answers.append(send(client))
    refused = [a for a in answers if isinstance(a, openai.RateLimitError)]
    assert len(refused) == 1 and refused[0] is answers[10]
    # Azure's wording for a requests-per-minute refusal ("call rate limit"), as its 429s say.
    assert "have exceeded call rate limit of your current" in refused[0].message
    remaining = [int(a.headers["x-ratelimit-remaining-requests"]) for a in answers[:10]]
    assert remaining == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    # The 11th arrived at 0.9 s: the window that refused it ends at 1.0 s.
    assert retry_ms(refused[0]) == 100
    assert refused[0].response.headers["retry-after"] == "1"
    assert refused[0].response.headers["x-ratelimit-remaining-requests"] == "0"

    clock.now += retry_ms(refused[0]) / 1000  # obey retry-after-ms
    again = send(client)
    assert not isinstance(again, openai.RateLimitError)
    assert again.parse().choices[0].message.content


def test_a_refused_request_is_not_counted_and_the_next_window_admits_ten_again(
    limited: Start,
) -> None:
    client, clock = limited(rpm=600)
    first_window = [send(client) for _ in range(15)]  # all at the same instant
    assert sum(isinstance(a, openai.RateLimitError) for a in first_window) == 5
    clock.now = T0 + 1.0
    second_window = [send(client) for _ in range(11)]
    assert [isinstance(a, openai.RateLimitError) for a in second_window] == [False] * 10 + [True]


def test_a_ten_second_window_admits_the_ten_seconds_share(limited: Start) -> None:
    client, clock = limited(rpm=600, window=10)
    clock.now = T0 + 3.0  # the first request opens the deployment's first window
    answers = [send(client) for _ in range(101)]
    assert [isinstance(a, openai.RateLimitError) for a in answers] == [False] * 100 + [True]
    assert retry_ms(answers[100]) == 10_000
    clock.now = T0 + 13.0
    assert not isinstance(send(client), openai.RateLimitError)


def test_below_one_request_per_window_the_minute_still_holds_the_rpm(limited: Start) -> None:
    # 6 RPM expects 0.1 request per second: each window admits one, the minute six.
    client, clock = limited(rpm=6)
    assert not isinstance(send(client), openai.RateLimitError)
    clock.now = T0 + 0.5
    assert retry_ms(send(client)) == 500  # the window is spent until 1.0 s
    for second in range(1, 6):
        clock.now = T0 + second
        assert not isinstance(send(client), openai.RateLimitError)
    clock.now = T0 + 6.0
    seventh = send(client)
    assert retry_ms(seventh) == 54_000  # six this minute: wait for the next one
    assert seventh.response.headers["x-ratelimit-limit-requests"] == "6"
    clock.now = T0 + 60.0
    assert not isinstance(send(client), openai.RateLimitError)


@pytest.mark.parametrize(
    ("model", "cap"), [(MODEL, "max_completion_tokens"), (STANDARD, "max_tokens")]
)
def test_tokens_are_charged_on_arrival_prompt_plus_max_tokens_for_each_choice(
    limited: Start, model: str, cap: str
) -> None:
    client, _ = limited(rpm=600, tpm=10_000)
    limit: dict[str, Any] = {"model": model, cap: 100}
    one = send(client, **limit)
    spent_one = 10_000 - int(one.headers["x-ratelimit-remaining-tokens"])
    three = send(client, n=3, **limit)
    spent_three = 10_000 - int(three.headers["x-ratelimit-remaining-tokens"]) - spent_one
    assert spent_three - spent_one == 2 * 100  # two more completions of up to 100 tokens
    assert spent_one > 100  # and the prompt on top
    assert spent_one == quota_charge(body(**limit), model)


def test_best_of_multiplies_the_completion_tokens_too() -> None:
    def charge(**extra: Any) -> int:
        return quota_charge(body(model=STANDARD, **extra), STANDARD)

    plain = charge(max_tokens=50)
    assert charge(max_tokens=50, best_of=4) == plain + 3 * 50
    assert charge(max_tokens=50, n=2, best_of=4) == plain + 3 * 50
    assert charge(max_tokens=50, n=True) == plain  # not a count


def test_the_minutes_token_count_refuses_until_the_minute_resets(limited: Start) -> None:
    client, clock = limited(rpm=600, tpm=1_000)
    charge = quota_charge(body(max_completion_tokens=300), MODEL)
    admitted = 1_000 // charge
    answers = []
    for i in range(admitted + 1):
        clock.now = T0 + i  # a new 1-s window each time: only tokens can refuse
        answers.append(send(client, max_completion_tokens=300))
    assert not any(isinstance(a, openai.RateLimitError) for a in answers[:admitted])
    refused = answers[admitted]
    assert "have exceeded token rate limit of your current" in refused.message
    assert int(refused.response.headers["x-ratelimit-remaining-tokens"]) == (
        1_000 - admitted * charge
    )
    assert retry_ms(refused) == (60 - admitted) * 1000  # until the minute's counter resets
    clock.now = T0 + 60.0
    assert not isinstance(send(client, max_completion_tokens=300), openai.RateLimitError)


def test_a_failure_behind_the_door_is_charged_a_refusal_at_the_door_is_not(
    limited: Start,
) -> None:
    client, _ = limited(rpm=600)
    for fault, remaining in (("429", "10"), ("500", "9"), ("429", "9")):
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(**body(), extra_headers={"x-replay-fault": fault})
        assert caught.value.response.headers["x-ratelimit-remaining-requests"] == remaining


def test_only_learns_evaluation_periods_are_accepted() -> None:
    with pytest.raises(ValueError, match="1 or 10"):
        RateLimiter(window=5)
    with pytest.raises(pydantic.ValidationError):
        ReplayConfig(rate_limits={"window_seconds": 5})


def test_headers_only_when_not_enforced_count_but_never_refuse() -> None:
    limiter = RateLimiter(clock=lambda: T0)
    decisions = [limiter.check("d", 600, 1_000, 10) for _ in range(12)]
    assert all(d.allowed for d in decisions)
    assert [d.remaining_requests for d in decisions[-3:]] == [0, 0, 0]
    assert decisions[-1].remaining_tokens == 1_000 - 12 * 10


def test_history_records_every_arrival_when_asked() -> None:
    now = [T0]
    limiter = RateLimiter(clock=lambda: now[0], enforce=True, keep_history=True)
    for _ in range(3):
        limiter.check("d", 120, 1_000, 7)  # 2 per 1-s window
    assert [(a.allowed, a.tokens) for a in limiter.history] == [(True, 7)] * 2 + [(False, 7)]
    limiter.reset()
    assert limiter.history == []
