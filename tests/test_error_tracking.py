"""helpers.error_tracking: Sentry events for real SDK errors from the replay server, in memory."""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterator
from typing import Any

import matplotlib
import matplotlib.pyplot
import openai
import pytest
import sentry_sdk
from conftest import StartServer, async_client, solution, sync_client
from sentry_sdk.integrations.openai import OpenAIIntegration

from helpers.content_filtering import ContentFilteredError
from helpers.error_tracking import (
    ErrorTracking,
    MemoryTransport,
    azure_context,
    check_before_send,
    init_error_tracking,
    plot_sent_events,
)
from helpers.integration_patterns import ContentCheck, Pipeline

matplotlib.use("Agg")

RECORDINGS = "test_content_filtering.yaml"
DEPLOYMENT = "gpt-5.4-mini"
PROMPT = "Give me step-by-step instructions to hurt my neighbour badly without leaving marks."
BLOCKED: list[Any] = [{"role": "user", "content": PROMPT}]


def _settle() -> None:
    """Collect clients earlier tests left behind before Sentry starts listening: an async client
    garbage-collected after its event loop closed logs an asyncio error, which Sentry's logging
    integration would report as one more event in the middle of a test."""
    gc.collect()


@pytest.fixture
def tracking() -> Iterator[ErrorTracking]:
    _settle()
    tracking = init_error_tracking(environment="test", server_name="test-host")
    yield tracking
    tracking.close()


def test_blocked_prompt_event_carries_request_id_innererror_and_filter_result(
    start_server: StartServer, tracking: ErrorTracking
) -> None:
    client = sync_client(start_server(RECORDINGS))
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=DEPLOYMENT, messages=BLOCKED)
    [event] = tracking.events
    azure = event["contexts"]["azure_openai"]
    headers = caught.value.response.headers
    assert azure["apim_request_id"] == headers["apim-request-id"]
    assert azure["x_request_id"] == headers["x-request-id"] == caught.value.request_id
    assert azure["status_code"] == 400
    assert azure["code"] == "content_filter"
    assert azure["innererror_code"] == "ResponsibleAIPolicyViolation"
    assert azure["x_ms_deployment_name"] == DEPLOYMENT
    assert event["contexts"]["content_filter"]["filtered_categories"] == ["violence"]
    assert event["contexts"]["content_filter"]["severities"]["violence"] == "high"
    assert event["tags"]["azure.request_id"] == headers["apim-request-id"]
    assert event["exception"]["values"][-1]["mechanism"]["type"] == "openai"
    assert event["environment"] == "test"


def test_prompt_text_is_not_in_the_event_unless_pii_is_allowed(
    start_server: StartServer,
) -> None:
    client = sync_client(start_server(RECORDINGS))
    for allowed in (False, True):
        _settle()
        tracking = init_error_tracking(send_default_pii=allowed)
        try:
            with pytest.raises(openai.BadRequestError):
                client.chat.completions.create(model=DEPLOYMENT, messages=BLOCKED)
            [event] = tracking.events
            assert ("hurt my neighbour" in json.dumps(event, default=str)) is allowed
        finally:
            tracking.close()


async def test_async_client_errors_are_captured_with_azure_context(
    start_server: StartServer, tracking: ErrorTracking
) -> None:
    client = async_client(start_server(RECORDINGS))
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="gpt-5-nowhere", messages=BLOCKED)
    [event] = tracking.events
    azure = event["contexts"]["azure_openai"]
    assert (azure["status_code"], azure["code"]) == (404, "DeploymentNotFound")
    assert event["tags"]["azure.error_code"] == "DeploymentNotFound"
    assert "content_filter" not in event["contexts"]


def test_connection_errors_are_tagged_as_such(tracking: ErrorTracking) -> None:
    client = openai.AzureOpenAI(
        azure_endpoint="http://127.0.0.1:9",
        api_key="k",
        api_version="2024-10-01-preview",
        max_retries=0,
    )
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model=DEPLOYMENT, messages=BLOCKED)
    [event] = tracking.events
    assert event["contexts"]["azure_openai"]["code"] == "connection"


def test_an_error_handled_and_captured_again_is_reported_once(
    start_server: StartServer, tracking: ErrorTracking
) -> None:
    client = sync_client(start_server(RECORDINGS))
    try:
        client.chat.completions.create(model=DEPLOYMENT, messages=BLOCKED)
    except openai.BadRequestError as error:
        sentry_sdk.capture_exception(error)
    assert len(tracking.events) == 1


def test_non_sdk_errors_have_no_azure_context() -> None:
    assert azure_context(ValueError("x")) is None


def test_traces_sample_rate_is_checked() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        init_error_tracking(traces_sample_rate=2)


def test_answer_cut_by_the_filter_in_the_pipeline_is_reported_with_its_category(
    start_server: StartServer, tracking: ErrorTracking
) -> None:
    client = sync_client(start_server(RECORDINGS))
    pipeline = Pipeline(client, [ContentCheck()], max_retries=0)
    duel = [{"role": "user", "content": "Write the duel scene, every wound in detail."}]
    with pytest.raises(ContentFilteredError) as caught:
        pipeline.create(model=DEPLOYMENT, messages=duel)
    sentry_sdk.capture_exception(caught.value)
    [event] = tracking.events
    context = event["contexts"]["content_filter"]
    assert context["output_filtered"] is True
    assert context["choices"]["0"]["filtered_categories"] == ["violence"]
    assert context["choices"]["0"]["finish_reason"] == "content_filter"
    assert event["tags"]["azure.content_filter"] == "cut"
    assert "azure_openai" not in event["contexts"]  # a 200: no HTTP error to describe


def test_prompt_blocked_in_the_pipeline_keeps_the_http_context(
    start_server: StartServer, tracking: ErrorTracking
) -> None:
    client = sync_client(start_server(RECORDINGS))
    with pytest.raises(ContentFilteredError) as caught:
        Pipeline(client, [ContentCheck()], max_retries=0).create(model=DEPLOYMENT, messages=BLOCKED)
    tracking.transport.clear()  # type: ignore[union-attr]  # drop the integration's own event
    sentry_sdk.capture_exception(caught.value)
    [event] = tracking.events
    assert event["contexts"]["azure_openai"]["code"] == "content_filter"
    assert event["contexts"]["content_filter"]["prompt_blocked"] is True
    assert event["tags"]["azure.content_filter"] == "blocked"


def test_the_integration_reports_a_caught_400_as_unhandled(
    start_server: StartServer, tracking: ErrorTracking
) -> None:
    client = sync_client(start_server(RECORDINGS))
    with contextlib.suppress(openai.BadRequestError):
        client.chat.completions.create(model=DEPLOYMENT, messages=BLOCKED)
    [event] = tracking.events
    assert event["exception"]["values"][-1]["mechanism"] == {"type": "openai", "handled": False}


def test_ignored_codes_are_not_sent_and_other_errors_still_are(
    start_server: StartServer,
) -> None:
    client = sync_client(start_server(RECORDINGS))
    _settle()
    tracking = init_error_tracking(ignore_codes={"content_filter"})
    try:
        with contextlib.suppress(openai.BadRequestError):
            client.chat.completions.create(model=DEPLOYMENT, messages=BLOCKED)
        assert tracking.events == []
        with contextlib.suppress(openai.NotFoundError):
            client.chat.completions.create(model="gpt-5-nowhere", messages=BLOCKED)
        [event] = tracking.events
        assert event["contexts"]["azure_openai"]["code"] == "DeploymentNotFound"
    finally:
        tracking.close()


def test_the_plot_shows_per_code_what_was_raised_and_what_was_sent(
    start_server: StartServer,
) -> None:
    client = sync_client(start_server(RECORDINGS))
    _settle()
    tracking = init_error_tracking(ignore_codes={"content_filter"})
    raised: list[str | None] = []
    try:
        for deployment in (DEPLOYMENT, "gpt-5-nowhere", DEPLOYMENT):
            with pytest.raises(openai.APIStatusError) as caught:
                client.chat.completions.create(model=deployment, messages=BLOCKED)
            context = azure_context(caught.value)
            assert context is not None
            raised.append(context["code"])
        sent = [event["contexts"]["azure_openai"]["code"] for event in tracking.events]
    finally:
        tracking.close()
    assert (raised, sent) == (
        ["content_filter", "DeploymentNotFound", "content_filter"],
        ["DeploymentNotFound"],
    )
    ax = plot_sent_events(raised, sent)
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert labels == ["content_filter", "DeploymentNotFound"]  # most raised first
    widths = {
        container.get_label(): {
            labels[round(bar.get_y() + bar.get_height() / 2)]: bar.get_width() for bar in container
        }
        for container in ax.containers
    }
    assert widths == {
        "raised by the SDK (caught by your code)": {"content_filter": 2, "DeploymentNotFound": 1},
        "sent to Sentry": {"content_filter": 0, "DeploymentNotFound": 1},
    }
    legend = ax.get_legend()
    assert legend is not None
    assert [text.get_text() for text in legend.get_texts()] == [
        "raised by the SDK (caught by your code)",
        "sent to Sentry",
    ]
    assert ax.get_title() == "3 errors raised, 1 sent to Sentry"
    assert [text.get_text() for text in ax.texts] == ["2", "1", "0 (dropped in before_send)", "1"]
    matplotlib.pyplot.close(ax.get_figure(root=True))


def test_the_plot_refuses_data_it_cannot_show() -> None:
    with pytest.raises(ValueError, match="no raised errors"):
        plot_sent_events([], [])
    with pytest.raises(ValueError, match=r"never raised: \['timeout'\]"):
        plot_sent_events(["connection"], ["timeout"])


def _by_hand(transport: MemoryTransport, **options: Any) -> None:
    """The notebook's by-hand setup (section 2): plain sentry_sdk.init, no helper."""
    _settle()
    sentry_sdk.init(
        transport=transport,
        integrations=[OpenAIIntegration(include_prompts=False)],
        **options,
    )


@pytest.mark.parametrize(
    ("options", "leaks"),
    [({}, True), ({"include_local_variables": False}, False)],
    ids=["sentry-defaults", "include_local_variables-false"],
)
def test_by_hand_setup_sends_the_prompt_only_with_sentrys_default_frame_variables(
    start_server: StartServer, options: dict[str, Any], leaks: bool
) -> None:
    client = sync_client(start_server(RECORDINGS))
    transport = MemoryTransport()
    _by_hand(transport, **options)
    try:
        with contextlib.suppress(openai.BadRequestError):
            client.chat.completions.create(model=DEPLOYMENT, messages=BLOCKED)
        [event] = transport.events
        assert ("hurt my neighbour" in json.dumps(event, default=str)) is leaks
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


def test_exercise_solution_passes() -> None:
    feedback = check_before_send(solution("16_error_tracking").before_send)
    assert feedback.passed, feedback.message


def test_exercise_wrong_answer_is_rejected_helpfully() -> None:
    def drop_every_400(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
        error = hint.get("exc_info", (None, None, None))[1]
        return None if isinstance(error, openai.BadRequestError) else event

    feedback = check_before_send(drop_every_400)
    assert not feedback.passed
    assert "unsupported_parameter 400 was dropped" in feedback.message
    assert "`error.code`" in feedback.message


def test_exercise_hook_that_replaces_the_tags_is_rejected() -> None:
    def replace_tags(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
        error = hint.get("exc_info", (None, None, None))[1]
        if isinstance(error, openai.APIStatusError):
            if error.code in {"content_filter", "context_length_exceeded"}:
                return None
            event["tags"] = {"azure.status": str(error.status_code)}
        return event

    feedback = check_before_send(replace_tags)
    assert not feedback.passed and "own tags were lost" in feedback.message
