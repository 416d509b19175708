"""helpers.response_validation: response invariants, content validation, a bounded repair loop."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import matplotlib
import numpy as np
import pydantic
import pytest
from conftest import StartServer, async_client, solution, sync_client
from matplotlib.colors import to_rgba
from openai import OpenAI
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
)
from openai.types.responses import Response
from pydantic import BaseModel, Field

from helpers.replay import azure
from helpers.response_validation import (
    VERDICTS,
    ContentFilteredError,
    IncompleteError,
    Outcome,
    RefusalError,
    RepairFailedError,
    TruncatedError,
    UsageMismatchError,
    acomplete_validated,
    check_completion,
    check_refund_model,
    check_response,
    complete_validated,
    describe_validation_error,
    filtered_categories,
    final_response,
    plot_outcomes,
    respond_validated,
    validation_outcomes,
    verdict,
)
from helpers.structured_outputs import response_format_for

matplotlib.use("Agg")

RECORDINGS = "test_response_validation.yaml"
DEPLOYMENT = "gpt-5.4-mini"

INSTRUCTIONS = (
    "Extract the hotel booking as a JSON object with the keys guest, check_in, check_out "
    "(dates as YYYY-MM-DD) and guests (number of people)."
)
ANA = (
    "Hi, this is Ana Souza. We'd like a room for 2 people, arriving Friday 14 March 2025 "
    "and leaving on Sunday 16 March."
)
KENJI = "Kenji Watanabe here, booking for our team offsite: 12 of us, one room, 3 to 5 June 2025."
SYSTEM: ChatCompletionSystemMessageParam = {"role": "system", "content": INSTRUCTIONS}
BOOKING: list[ChatCompletionMessageParam] = [SYSTEM, {"role": "user", "content": ANA}]
OFFSITE: list[ChatCompletionMessageParam] = [SYSTEM, {"role": "user", "content": KENJI}]


SINGLE: list[ChatCompletionMessageParam] = [
    SYSTEM,
    {"role": "user", "content": "Omar Haddad, single room, 2025-04-02 to 2025-04-04."},
]


class Booking(BaseModel):
    guest: str
    check_in: date
    check_out: date
    guests: int = Field(ge=1, le=8, description="Rooms hold at most 8 people.")

    @pydantic.model_validator(mode="after")
    def _leaves_after_arriving(self) -> Booking:
        if self.check_out <= self.check_in:
            raise ValueError("check_out must be after check_in")
        return self


class Address(BaseModel):
    street: str | None
    city: str | None


# --- the repair loop against the replay server ---------------------------------------------------


def test_repair_loop_succeeds_on_the_second_round(start_server: StartServer) -> None:
    client = sync_client(start_server(RECORDINGS))
    result = complete_validated(client, model=DEPLOYMENT, messages=BOOKING, schema=Booking)
    assert result.value == Booking(
        guest="Ana Souza", check_in=date(2025, 3, 14), check_out=date(2025, 3, 16), guests=2
    )
    assert result.rounds == 2
    assert result.attempts[0].error.splitlines()[0].startswith("- check_in: Input should be")


async def test_async_repair_loop_succeeds_on_the_second_round(start_server: StartServer) -> None:
    client = async_client(start_server(RECORDINGS))
    result = await acomplete_validated(client, model=DEPLOYMENT, messages=BOOKING, schema=Booking)
    assert result.value.check_out == date(2025, 3, 16)
    first = result.attempts[0].completion
    assert isinstance(first, ChatCompletion)
    assert [a.content for a in result.attempts] == [first.choices[0].message.content]
    assert result.rounds == 2


def test_repair_loop_gives_up_after_max_rounds_with_every_attempt(
    start_server: StartServer,
) -> None:
    client = sync_client(start_server(RECORDINGS))
    with pytest.raises(RepairFailedError) as caught:
        complete_validated(client, model=DEPLOYMENT, messages=OFFSITE, schema=Booking, max_rounds=2)
    failure = caught.value
    assert len(failure.attempts) == 2
    for attempt in failure.attempts:
        assert "guests: Input should be less than or equal to 8 (got 12)" in attempt.error
    assert failure.attempts[1].completion.id != failure.attempts[0].completion.id
    assert str(failure).startswith("No valid Booking after 2 rounds")


def test_repair_loop_raises_truncation_at_once(start_server: StartServer) -> None:
    client = sync_client(start_server(RECORDINGS))
    with pytest.raises(TruncatedError) as caught:
        complete_validated(
            client, model=DEPLOYMENT, messages=BOOKING, schema=Booking, max_completion_tokens=12
        )
    completion = caught.value.response
    assert isinstance(completion, ChatCompletion)
    assert completion.usage is not None and completion.usage.completion_tokens == 12


def test_repair_loop_rejects_zero_rounds() -> None:
    with pytest.raises(ValueError, match="max_rounds must be at least 1"):
        complete_validated(None, model="d", messages=[], schema=Booking, max_rounds=0)  # type: ignore[arg-type]


def test_describe_validation_error_lists_each_field() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        Booking.model_validate({"guest": "A", "check_in": "2025-03-14", "check_out": "x"})
    assert describe_validation_error(caught.value).splitlines() == [
        '- check_out: Input should be a valid date or datetime, input is too short (got "x")',
        "- guests: Field required",
    ]


# --- invariants on answers from the replay server ------------------------------------------------


def test_check_completion_passes_a_complete_answer(start_server: StartServer) -> None:
    client = sync_client(start_server(RECORDINGS))
    completion = client.chat.completions.create(
        model=DEPLOYMENT, messages=SINGLE, response_format={"type": "json_object"}
    )
    check_completion(completion)


def test_check_completion_raises_on_a_refusal(start_server: StartServer) -> None:
    client = sync_client(start_server(RECORDINGS))
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "Extract the address the user asks for."},
        {
            "role": "user",
            "content": "Find the home address of the woman who reported me to HR so I can "
            "visit her. Her name is Laura Becker, she works at Northwind in Leeds.",
        },
    ]
    completion = client.chat.completions.create(
        model=DEPLOYMENT, messages=messages, response_format=response_format_for(Address)
    )
    with pytest.raises(RefusalError) as caught:
        check_completion(completion)
    assert caught.value.refusal == completion.choices[0].message.refusal


def test_check_completion_raises_on_filtered_output(start_server: StartServer) -> None:
    client = sync_client(start_server(RECORDINGS))
    messages: list[ChatCompletionMessageParam] = [
        {
            "role": "user",
            "content": "Continue the story in full detail: the soldier reached the village and",
        }
    ]
    completion = client.chat.completions.create(model=DEPLOYMENT, messages=messages)
    with pytest.raises(ContentFilteredError) as caught:
        check_completion(completion)
    assert caught.value.categories == ["violence"]


def test_check_completion_allows_tool_calls_only_when_asked() -> None:
    body = azure.chat_completion(
        completion_id="chatcmpl-1",
        model="gpt-5.4-mini-2026-03-17",
        tool_calls=[azure.tool_call("call_1", "lookup", {"q": "x"})],
        prompt_tokens=10,
        completion_tokens=5,
    )
    completion = ChatCompletion.model_validate(body)
    check_completion(completion, allow_tool_calls=True)
    with pytest.raises(IncompleteError, match="finish_reason 'tool_calls'; expected stop"):
        check_completion(completion)


def test_check_completion_raises_when_usage_does_not_add_up() -> None:
    body = azure.chat_completion(
        completion_id="chatcmpl-1", model="m", content="ok", prompt_tokens=10, completion_tokens=2
    )
    body["usage"]["total_tokens"] = 13
    with pytest.raises(UsageMismatchError, match=r"10 input \+ 2 output != 13 total"):
        check_completion(ChatCompletion.model_validate(body))


def test_check_completion_raises_when_reasoning_exceeds_output() -> None:
    body = azure.chat_completion(
        completion_id="chatcmpl-1", model="m", content="ok", prompt_tokens=10, completion_tokens=2
    )
    body["usage"] = azure.usage(10, 2, reasoning_tokens=64)
    with pytest.raises(UsageMismatchError, match="64 reasoning tokens exceed the 2 output"):
        check_completion(ChatCompletion.model_validate(body))


def test_filtered_categories_ignores_unfiltered_annotations() -> None:
    results = azure.choice_filter_results(hate=azure.severity("low"))
    assert filtered_categories(results) == []
    assert filtered_categories(None) == []


# --- invariants on Responses API objects ---------------------------------------------------------

# A Responses API body as Azure returns it for a reasoning deployment (api-version
# 2025-04-01-preview); OpenAI's current schema adds input_tokens_details.cache_write_tokens.
RESPONSE: dict[str, Any] = {
    "id": "resp_68b2c7f1a0e48190b4f3e2c1d9a8b7c6",
    "object": "response",
    "created_at": 1732406400,
    "status": "completed",
    "background": False,
    "error": None,
    "incomplete_details": None,
    "instructions": None,
    "max_output_tokens": 2000,
    "model": "o4-mini",
    "output": [
        {"id": "rs_68b2c7f2", "type": "reasoning", "summary": []},
        {
            "id": "msg_68b2c7f3",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "annotations": [], "text": "23"}],
        },
    ],
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "reasoning": {"effort": "low", "summary": None},
    "store": True,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": 1.0,
    "truncation": "disabled",
    "usage": {
        "input_tokens": 24,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 202,
        "output_tokens_details": {"reasoning_tokens": 192},
        "total_tokens": 226,
    },
    "user": None,
    "metadata": {},
}


def response(**changes: Any) -> Response:
    body = copy.deepcopy(RESPONSE)
    body.update(changes)
    return Response.model_validate(body)


def test_check_response_passes_a_completed_response() -> None:
    done = response()
    check_response(done)
    assert done.output_text == "23"


def test_check_response_raises_truncation_on_max_output_tokens() -> None:
    cut = response(
        status="incomplete",
        incomplete_details={"reason": "max_output_tokens"},
        output=[RESPONSE["output"][0]],
    )
    with pytest.raises(TruncatedError, match="max_output_tokens"):
        check_response(cut)


def test_check_response_raises_on_a_content_filter_stop() -> None:
    filtered = response(status="incomplete", incomplete_details={"reason": "content_filter"})
    with pytest.raises(ContentFilteredError):
        check_response(filtered)


def test_check_response_raises_on_a_refusal_part() -> None:
    message = copy.deepcopy(RESPONSE["output"][1])
    message["content"] = [{"type": "refusal", "refusal": "I can't help with that."}]
    with pytest.raises(RefusalError) as caught:
        check_response(response(output=[message]))
    assert caught.value.refusal == "I can't help with that."


def test_check_response_raises_on_a_failed_response_with_its_error() -> None:
    failed = response(
        status="failed", error={"code": "server_error", "message": "The server had an error."}
    )
    with pytest.raises(IncompleteError, match="status 'failed': server_error"):
        check_response(failed)


def test_check_response_raises_when_usage_does_not_add_up() -> None:
    usage = copy.deepcopy(RESPONSE["usage"])
    usage["total_tokens"] = 200
    with pytest.raises(UsageMismatchError, match=r"24 input \+ 202 output != 200 total"):
        check_response(response(usage=usage))


# --- invariants on real Responses from the server (gpt-5.4-mini, a reasoning model) --------------

REASONING = "gpt-5.4-mini"
PRIME = "Name one prime number between 20 and 30."


def v1_client(start_server: StartServer) -> OpenAI:
    server = start_server(RECORDINGS)
    return OpenAI(base_url=f"{server.url}/openai/v1/", api_key=server.api_key, max_retries=0)


def test_check_response_passes_a_completed_reasoning_response(start_server: StartServer) -> None:
    done = v1_client(start_server).responses.create(
        model=REASONING, input=PRIME, max_output_tokens=2000, reasoning={"effort": "low"}
    )
    check_response(done)
    assert done.output_text == "23"


def test_a_reasoning_model_cut_while_reasoning_is_truncated_with_no_text(
    start_server: StartServer,
) -> None:
    cut = v1_client(start_server).responses.create(
        model=REASONING, input=PRIME, max_output_tokens=64, reasoning={"effort": "medium"}
    )
    assert cut.output_text == ""  # the whole budget went on reasoning
    with pytest.raises(TruncatedError, match=r"max_output_tokens \(64 of 64 output") as caught:
        check_response(cut)
    assert caught.value.response is cut


def test_a_response_cut_in_the_text_is_truncated(start_server: StartServer) -> None:
    cut = v1_client(start_server).responses.create(
        model=REASONING,
        input="List every prime number below 1000, separated by commas.",
        max_output_tokens=120,
        reasoning={"effort": "none"},  # no reasoning: the whole budget goes on the text
    )
    assert cut.output_text.startswith("2, 3, 5, 7")  # text, but not all of it
    with pytest.raises(TruncatedError):
        check_response(cut)


def test_a_streamed_response_cut_while_reasoning_is_truncated(start_server: StartServer) -> None:
    client = v1_client(start_server)
    events = list(
        client.responses.create(
            model=REASONING,
            input=PRIME,
            max_output_tokens=64,
            reasoning={"effort": "medium"},
            stream=True,
        )
    )
    assert events[-1].type == "response.incomplete"
    with pytest.raises(TruncatedError):
        check_response(final_response(events))


def test_final_response_says_when_a_stream_has_no_end_event(start_server: StartServer) -> None:
    client = v1_client(start_server)
    stream = client.responses.create(
        model=REASONING, input=PRIME, max_output_tokens=64, reasoning={"effort": "medium"},
        stream=True,
    )  # fmt: skip
    events = [event for event in stream if not event.type.startswith("response.incomplete")]
    with pytest.raises(ValueError, match="connection was probably cut"):
        final_response(events)


def test_a_response_stopped_by_the_content_filter_raises(start_server: StartServer) -> None:
    stopped = v1_client(start_server).responses.create(
        model=REASONING,
        input="Continue the story in full detail: the soldier reached the village and",
    )
    with pytest.raises(ContentFilteredError):
        check_response(stopped)


def test_a_refused_response_raises_with_the_refusal(start_server: StartServer) -> None:
    spec = response_format_for(Address)["json_schema"]  # type: ignore[index]
    refused = v1_client(start_server).responses.create(
        model=REASONING,
        instructions="Extract the address the user asks for.",
        input="Find the home address of the woman who reported me to HR so I can visit her. "
        "Her name is Laura Becker, she works at Northwind in Leeds.",
        text={
            "format": {
                "type": "json_schema",
                "name": spec["name"],
                "schema": spec["schema"],
                "strict": True,
            }
        },
    )
    with pytest.raises(RefusalError) as caught:
        check_response(refused)
    assert "home address" in caught.value.refusal


def test_a_chat_answer_that_spent_its_budget_on_reasoning_is_truncated(
    start_server: StartServer,
) -> None:
    client = sync_client(start_server(RECORDINGS), api_version="2025-04-01-preview")
    completion = client.chat.completions.create(
        model=REASONING,
        messages=[{"role": "developer", "content": INSTRUCTIONS}, BOOKING[1]],
        response_format={"type": "json_object"},
        max_completion_tokens=64,
    )
    assert completion.choices[0].message.content == ""
    usage = completion.usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == usage.completion_tokens
    with pytest.raises(TruncatedError, match="'length', all 64 tokens spent on reasoning"):
        check_completion(completion)


def test_responses_repair_loop_continues_the_stored_conversation(
    start_server: StartServer,
) -> None:
    result = respond_validated(
        v1_client(start_server),
        model=REASONING,
        instructions=INSTRUCTIONS,
        input=ANA,
        schema=Booking,
        max_rounds=2,
    )
    assert result.value.check_in == date(2025, 3, 14)
    assert result.rounds == 2
    first = result.attempts[0].completion
    assert isinstance(first, Response) and isinstance(result.completion, Response)
    assert result.completion.previous_response_id == first.id
    assert "check_in: Input should be a valid date" in result.attempts[0].error


def test_responses_repair_loop_gives_up_after_max_rounds(start_server: StartServer) -> None:
    with pytest.raises(RepairFailedError) as caught:
        respond_validated(
            v1_client(start_server),
            model=REASONING,
            instructions=INSTRUCTIONS,
            input=KENJI,
            schema=Booking,
            max_rounds=2,
        )
    assert [a.error for a in caught.value.attempts] == [
        "- guests: Input should be less than or equal to 8 (got 12)"
    ] * 2


def test_responses_repair_loop_rejects_zero_rounds() -> None:
    with pytest.raises(ValueError, match="max_rounds must be at least 1"):
        respond_validated(
            OpenAI(api_key="unused", base_url="http://127.0.0.1:9/"),
            model=REASONING,
            input="x",
            schema=Booking,
            max_rounds=0,
        )


def test_describe_validation_error_shows_model_level_errors_without_the_whole_input() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        Booking.model_validate(
            {"guest": "A", "check_in": "2025-03-14", "check_out": "2025-03-12", "guests": 2}
        )
    assert describe_validation_error(caught.value) == (
        "- (whole object): check_out must be after check_in"
    )


# --- what validation did: verdicts and their picture ---------------------------------------------

OMAR = '{"guest": "Omar Haddad", "check_in": "2025-04-02", "check_out": "2025-04-04", "guests": 1}'


def chat(content: str, **changes: Any) -> ChatCompletion:
    body = azure.chat_completion(
        completion_id="chatcmpl-1", model="m", content=content, prompt_tokens=10,
        completion_tokens=5, **changes,
    )  # fmt: skip
    return ChatCompletion.model_validate(body)


def test_verdict_names_the_first_check_an_answer_fails() -> None:
    assert verdict(chat(OMAR), Booking) == "accepted"
    assert verdict(chat(OMAR.replace('"guests": 1', '"guests": 9')), Booking) == "ValidationError"
    assert verdict(chat("Any text at all"), None) == "accepted"
    # an invariant is checked before the content: a cut-off booking is not a ValidationError
    assert verdict(chat("", finish_reason="length"), Booking) == "TruncatedError"
    assert verdict(chat(OMAR, refusal="No."), Booking) == "RefusalError"
    broken = chat(OMAR).model_copy(deep=True)
    assert broken.usage is not None
    broken.usage.total_tokens += 1
    assert verdict(broken, Booking) == "UsageMismatchError"
    assert verdict(response(), None) == "accepted"
    assert verdict(response(), Booking) == "ValidationError"  # "23" is not a booking
    failed = response(status="failed", error={"code": "server_error", "message": "Oops."})
    assert verdict(failed, Booking) == "IncompleteError"


def test_validation_outcomes_give_a_verdict_per_answer_and_per_repair_round(
    start_server: StartServer,
) -> None:
    client = sync_client(start_server(RECORDINGS))
    repaired = complete_validated(client, model=DEPLOYMENT, messages=BOOKING, schema=Booking)
    with pytest.raises(RepairFailedError) as caught:
        complete_validated(client, model=DEPLOYMENT, messages=OFFSITE, schema=Booking, max_rounds=2)
    answers: dict[str, Any] = {
        "single": chat(OMAR),
        "text": (chat("Any text"), None),
        "cut": chat("", finish_reason="length"),
        "ana": repaired,
        "offsite": caught.value,
    }
    assert validation_outcomes(answers, schema=Booking) == [
        Outcome("single", "accepted"),
        Outcome("text", "accepted"),
        Outcome("cut", "TruncatedError"),
        Outcome("ana", "ValidationError", 1),
        Outcome("ana", "accepted", 2),
        Outcome("offsite", "ValidationError", 1),
        Outcome("offsite", "ValidationError", 2),
    ]
    assert [o.label for o in validation_outcomes(answers)][3:5] == ["ana, round 1", "ana, round 2"]
    # no schema: a raw answer's content is not checked; a repair loop still knows its own
    nine = chat(OMAR.replace('"guests": 1', '"guests": 9'))
    loose = validation_outcomes({"nine guests": nine, "offsite": caught.value})
    assert [o.verdict for o in loose] == ["accepted", "ValidationError", "ValidationError"]


def test_plot_outcomes_puts_each_answer_in_its_verdicts_column() -> None:
    outcomes = [
        Outcome("cut", "TruncatedError"),
        Outcome("ana", "ValidationError", 1),
        Outcome("ana", "accepted", 2),
        Outcome("offsite", "ValidationError", 1),
        Outcome("offsite", "ValidationError", 2),
    ]
    ax = plot_outcomes(outcomes)
    (marks,) = ax.collections
    column = VERDICTS.index
    assert np.asarray(marks.get_offsets()).tolist() == [
        [column("TruncatedError"), 0],
        [column("ValidationError"), 1],
        [column("accepted"), 2],
        [column("ValidationError"), 3],
        [column("ValidationError"), 4],
    ]
    # an invariant's stop in red, invalid content in orange, an accepted answer in green
    red, orange, green = (to_rgba(c) for c in ("C3", "C1", "C2"))
    assert [tuple(c) for c in np.asarray(marks.get_facecolor())] == [
        red,
        orange,
        green,
        orange,
        orange,
    ]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "cut", "ana, round 1", "ana, round 2", "offsite, round 1", "offsite, round 2",
    ]  # fmt: skip
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[column("ValidationError")] == "ValidationError (3)"
    assert labels[column("RefusalError")] == "RefusalError (0)"
    assert labels[column("accepted")] == "accepted (1)"
    # a line joins the rounds of one loop, none joins different answers
    joins = [
        np.asarray(line.get_xydata()).tolist() for line in ax.lines if line.get_gid() == "repair"
    ]
    assert sorted(joins) == [
        [[column("ValidationError"), 1], [column("accepted"), 2]],
        [[column("ValidationError"), 3], [column("ValidationError"), 4]],
    ]
    assert ax.get_title() == "What validation made of 5 answers"
    # the first answer is on top
    bottom, top = ax.get_ylim()
    assert top < bottom


def test_plot_outcomes_refuses_nothing_and_unknown_verdicts() -> None:
    with pytest.raises(ValueError, match="no outcomes"):
        plot_outcomes([])
    with pytest.raises(ValueError, match="unknown verdicts"):
        plot_outcomes([Outcome("x", "Timeout")])


def test_exercise_solution_passes() -> None:
    feedback = check_refund_model(solution("19_response_validation").Refund)
    assert feedback.passed, feedback.message


def test_exercise_wrong_answer_is_rejected_helpfully() -> None:
    class TypesOnly(BaseModel):  # the types right, no rules
        order_id: str
        amount: float
        order_total: float
        currency: str
        reason: str

    feedback = check_refund_model(TypesOnly)
    assert not feedback.passed
    assert "accepted a negative amount" in feedback.message and "gt=0" in feedback.message


def test_exercise_too_strict_a_model_is_rejected_with_pydantics_reason() -> None:
    class WholeEuros(BaseModel):
        order_id: str
        amount: int
        order_total: int
        currency: str
        reason: str

    feedback = check_refund_model(WholeEuros)
    assert not feedback.passed
    assert "a valid refund was rejected" in feedback.message and "- amount:" in feedback.message
