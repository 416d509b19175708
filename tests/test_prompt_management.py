"""helpers.prompt_management: safe templates, variable checks, prompt files, message builders."""

from __future__ import annotations

import base64
import string
from pathlib import Path

import pydantic
import pytest
from conftest import StartServer, solution, sync_client
from openai.types.chat import (
    ChatCompletionContentPartParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)
from openai.types.responses import ResponseInputParam

from helpers.prompt_management import (
    Prompt,
    PromptError,
    PromptLibrary,
    PromptTemplate,
    PromptVariableError,
    assistant,
    check_fill,
    developer,
    image_data_uri,
    image_part,
    responses_image_part,
    system,
    text_part,
    to_response_items,
    tool,
    user,
)

RECORDINGS = "test_prompt_management.yaml"
DEPLOYMENT = "gpt-5.4-mini"
PROMPTS = Path(__file__).parents[1] / "notebooks" / "prompts"
RED_SQUARE = PROMPTS.parent / "images" / "red_square.png"

# User content that breaks str.format and would be template syntax for Jinja2.
TICKET = (
    'Customer pasted their config: {"retries": {count}, "region": "${REGION}"} '
    "and wrote {{ please hurry }}. Total due: $120."
)


# --- templates -----------------------------------------------------------------------------------


def test_template_keeps_braces_in_the_template_text_literal() -> None:
    template = PromptTemplate(text='Answer as JSON like {"label": "bug"}: $ticket')
    assert template.render_text({"ticket": "x"}) == 'Answer as JSON like {"label": "bug"}: x'


def test_template_inserts_content_with_braces_and_dollars_unchanged() -> None:
    template = PromptTemplate(text="Classify this ticket:\n$ticket")
    assert template.render(ticket=TICKET) == {
        "role": "user",
        "content": f"Classify this ticket:\n{TICKET}",
    }


def test_str_format_breaks_on_a_json_example_in_the_template() -> None:
    template = 'Answer as JSON like {"label": "bug"}: {ticket}'
    with pytest.raises(KeyError):
        template.format(ticket=TICKET)


def test_str_format_breaks_on_user_content_formatted_a_second_time() -> None:
    layered = "Classify this ticket:\n" + TICKET + "\nfor the {team} team"
    with pytest.raises(KeyError):
        layered.format(team="billing")


def test_template_names_missing_variables() -> None:
    template = PromptTemplate(name="triage", text="Classify $ticket for $team")
    with pytest.raises(PromptVariableError) as caught:
        template.render_text({"ticket": TICKET})
    assert caught.value.missing == ["team"]
    assert str(caught.value) == "Template 'triage': missing team."


def test_template_names_unexpected_variables() -> None:
    template = PromptTemplate(name="triage", text="Classify $ticket")
    with pytest.raises(PromptVariableError) as caught:
        template.render_text({"ticket": "t", "teem": "billing"})
    assert caught.value.extra == ["teem"]
    assert str(caught.value) == "Template 'triage': unexpected teem."


def test_template_reports_missing_and_unexpected_together() -> None:
    template = PromptTemplate(name="triage", text="Classify $ticket for ${team}s")
    with pytest.raises(PromptVariableError, match="missing team; unexpected teem"):
        template.render_text({"ticket": "t", "teem": "billing"})


def test_template_with_a_stray_dollar_is_rejected_when_defined() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"col 21; write a literal dollar sign"):
        PromptTemplate(text="The plan costs only $5 a month.")


def test_template_rejects_structured_values() -> None:
    template = PromptTemplate(text="Data: $data")
    with pytest.raises(TypeError, match=r"\$data must be str, int or float, got dict"):
        template.render(data={"a": 1})  # type: ignore[arg-type]


def test_template_renders_numbers_as_text() -> None:
    assert PromptTemplate(text="at most $n words").render_text({"n": 0}) == "at most 0 words"


def test_template_role_decides_the_message_role() -> None:
    template = PromptTemplate(role="developer", text="Be brief.")
    assert template.render() == {"role": "developer", "content": "Be brief."}


# --- prompt files -------------------------------------------------------------------------------


def test_library_returns_the_latest_version_by_default() -> None:
    library = PromptLibrary.load(PROMPTS)
    assert library.versions("summarize") == [1, 2]
    assert library.get("summarize").ref == "summarize@2"


def test_library_pins_an_older_version() -> None:
    prompt = PromptLibrary.load(PROMPTS).get("summarize", version=1)
    assert prompt.variables == {"document_type", "style", "content"}


def test_prompt_render_checks_variables_across_all_messages() -> None:
    prompt = PromptLibrary.load(PROMPTS).get("summarize", version=2)
    with pytest.raises(PromptVariableError) as caught:
        prompt.render(document_type="ticket", style="neutral", content=TICKET)
    assert caught.value.missing == ["max_bullets"]
    assert "summarize@2" in str(caught.value)


def test_library_names_unknown_prompts_and_versions() -> None:
    library = PromptLibrary.load(PROMPTS)
    with pytest.raises(KeyError, match="known: describe_image, summarize"):
        library.get("summarise")
    with pytest.raises(KeyError, match=r"no version 3 \(versions: 1, 2\)"):
        library.get("summarize", version=3)


def test_library_rejects_a_file_with_a_bad_field(tmp_path: Path) -> None:
    (tmp_path / "triage.yaml").write_text(
        "name: triage\nversions:\n- version: 0\n  messages: [{role: user, text: hi}]\n"
    )
    with pytest.raises(PromptError, match=r"triage.yaml: versions.0.version: Input should be"):
        PromptLibrary.load(tmp_path)


def test_library_rejects_a_template_with_a_stray_dollar(tmp_path: Path) -> None:
    (tmp_path / "price.yaml").write_text(
        "name: price\nversions:\n- version: 1\n  messages: [{role: user, text: 'Costs $5'}]\n"
    )
    with pytest.raises(PromptError, match=r"price.yaml: .*Invalid placeholder"):
        PromptLibrary.load(tmp_path)


def test_library_rejects_a_version_defined_twice() -> None:
    prompt = Prompt(name="p", version=1, messages=(PromptTemplate(text="hi"),))
    with pytest.raises(PromptError, match="p@1 is defined twice"):
        PromptLibrary([prompt, prompt])


# --- message builders -----------------------------------------------------------------------------


def test_builders_produce_each_roles_shape() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert system("s") == {"role": "system", "content": "s"}
    assert developer("d") == {"role": "developer", "content": "d"}
    assert assistant(tool_calls=[call]) == {"role": "assistant", "tool_calls": [call]}  # type: ignore[list-item]
    assert tool("call_1", "42") == {"role": "tool", "tool_call_id": "call_1", "content": "42"}


def test_builders_reject_empty_messages() -> None:
    with pytest.raises(ValueError, match="text or tool calls"):
        assistant()
    with pytest.raises(ValueError, match="tool_call_id"):
        tool("", "x")
    with pytest.raises(ValueError, match="at least one content part"):
        user([])


def test_image_part_is_a_base64_data_uri_with_the_files_type() -> None:
    part = image_part(RED_SQUARE, detail="low")
    url = part["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == RED_SQUARE.read_bytes()
    assert part["image_url"]["detail"] == "low"


def test_image_data_uri_rejects_types_the_service_does_not_take() -> None:
    with pytest.raises(ValueError, match=r"Unsupported image type 'image/bmp'"):
        image_data_uri(b"BM", "image/bmp")


def test_to_response_items_converts_parts_tool_calls_and_results() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    items = to_response_items(
        [
            developer("Be brief."),
            user([text_part("What is this?"), image_part(RED_SQUARE)]),
            assistant(tool_calls=[call]),  # type: ignore[list-item]
            tool("call_1", "red"),
        ]
    )
    assert items == [
        {"type": "message", "role": "developer", "content": "Be brief."},
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "What is this?"},
                responses_image_part(RED_SQUARE),
            ],
        },
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "red"},
    ]


def test_builders_and_conversion_match_the_sdks_typed_shapes() -> None:
    call: ChatCompletionMessageFunctionToolCallParam = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "f", "arguments": "{}"},
    }
    messages: list[ChatCompletionMessageParam] = [
        system("s"),
        developer("d"),
        user([text_part("What is this?"), image_part(RED_SQUARE)]),
        assistant("Let me look.", tool_calls=[call]),
        tool("call_1", "red"),
    ]
    chat = pydantic.TypeAdapter(list[ChatCompletionMessageParam]).validate_python(messages)
    items = pydantic.TypeAdapter(ResponseInputParam).validate_python(to_response_items(messages))
    assert len(chat) == 5
    assert [item.get("type") for item in items] == [
        "message", "message", "message", "message", "function_call", "function_call_output",
    ]  # fmt: skip


# --- against the replay server ------------------------------------------------------------------


def test_rendered_prompt_with_braces_is_sent_as_is(start_server: StartServer) -> None:
    client = sync_client(start_server(RECORDINGS))
    messages = (
        PromptLibrary.load(PROMPTS)
        .get("summarize")
        .render(document_type="support ticket", style="neutral", max_bullets=2, content=TICKET)
    )
    completion = client.chat.completions.create(model=DEPLOYMENT, messages=messages)
    assert completion.choices[0].finish_reason == "stop"
    assert "{count}" in completion.choices[0].message.content  # type: ignore[operator]


def test_image_content_part_is_accepted_by_chat_completions(start_server: StartServer) -> None:
    client = sync_client(start_server(RECORDINGS))
    # Version 2 gives its instructions as a developer message, for reasoning deployments.
    prompt = PromptLibrary.load(PROMPTS).get("describe_image", version=2)
    instructions, question = prompt.render(max_words=12, language="English")
    question_text = question["content"]
    assert isinstance(question_text, str)
    parts: list[ChatCompletionContentPartParam] = [
        text_part(question_text),
        image_part(RED_SQUARE, detail="low"),
    ]
    messages = [instructions, user(parts)]
    completion = client.chat.completions.create(model=DEPLOYMENT, messages=messages)
    assert "red square" in completion.choices[0].message.content.lower()  # type: ignore[union-attr]


def test_exercise_solution_passes() -> None:
    feedback = check_fill(solution("07_prompt_management").fill)
    assert feedback.passed, feedback


def test_exercise_wrong_answer_is_rejected_helpfully() -> None:
    def str_format(template: str, values: dict[str, str]) -> str:
        return template.replace("$", "").format(**values)

    feedback = check_fill(str_format)
    assert not feedback.passed
    assert "raised KeyError" in str(feedback) and "use string.Template" in str(feedback)


def test_exercise_missing_variable_let_through_is_rejected_helpfully() -> None:
    feedback = check_fill(
        lambda template, values: string.Template(template).safe_substitute(values)
    )
    assert not feedback.passed
    assert "missing $language" in str(feedback) and "not safe_substitute" in str(feedback)
