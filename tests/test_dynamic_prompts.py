"""helpers.dynamic_prompts: a docstring by strict structured outputs, or by a forced tool call."""

from __future__ import annotations

import json
from typing import Any

import matplotlib
import pytest
from conftest import StartServer, solution, sync_client

from helpers.dynamic_prompts import (
    TOOL_NAME,
    Argument,
    Docstring,
    check_label_format,
    docstring_by_schema,
    docstring_by_tool,
    docstring_messages,
    docstring_tool,
    part_tokens,
    plot_prompt_parts,
    prompt_parts,
    render_docstring,
)
from helpers.token_management import count_text

matplotlib.use("Agg")

RECORDINGS = "test_dynamic_prompts.yaml"
DEPLOYMENT = "gpt-5.4-mini"
SIGNATURE = "def merge_settings(base: dict, override: dict = {}) -> dict:"
CONTEXT = "Returns a new dict; keys in override win; nested dicts are merged recursively."


def test_messages_carry_the_signature_braces_and_all() -> None:
    messages = docstring_messages(SIGNATURE)
    assert messages[1]["content"].endswith(SIGNATURE)  # type: ignore[union-attr]


def test_messages_add_context_and_audience_only_when_given() -> None:
    bare = docstring_messages(SIGNATURE)[1]["content"]
    full = docstring_messages(SIGNATURE, context=CONTEXT, audience="new team members")[1]["content"]
    assert "What the function does" not in bare  # type: ignore[operator]
    assert f"What the function does: {CONTEXT}" in full  # type: ignore[operator]
    assert full.endswith("Write for new team members.")  # type: ignore[union-attr]


def test_messages_put_instructions_in_a_developer_message_when_asked() -> None:
    default = docstring_messages("def f() -> None:")
    reasoning = docstring_messages("def f() -> None:", instructions="developer")
    assert (default[0]["role"], reasoning[0]["role"]) == ("system", "developer")
    assert reasoning[0]["content"] == default[0]["content"]


def test_messages_reject_an_empty_signature() -> None:
    with pytest.raises(ValueError, match="signature is empty"):
        docstring_messages("  ")


def test_prompt_parts_are_the_messages_pieces_and_grow_with_the_input() -> None:
    bare = prompt_parts(SIGNATURE)
    full = prompt_parts(SIGNATURE, context=CONTEXT, audience="new team members")
    assert list(bare) == ["instructions", "request + signature"]
    assert list(full) == [*bare, "context line", "audience line"]
    messages = docstring_messages(SIGNATURE, context=CONTEXT, audience="new team members")
    assert messages[0]["content"] == full["instructions"]
    assert messages[1]["content"] == "\n\n".join(list(full.values())[1:])
    tokens = part_tokens(full)
    assert tokens == {name: count_text(text, "gpt-5.4-mini") for name, text in full.items()}
    assert all(n > 0 for n in tokens.values())


def test_plot_prompt_parts_stacks_each_prompts_part_tokens() -> None:
    prompts = {
        "bare": part_tokens(prompt_parts(SIGNATURE)),
        "full": part_tokens(prompt_parts(SIGNATURE, context=CONTEXT, audience="team")),
    }
    ax = plot_prompt_parts(prompts)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["bare", "full"]
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == list(prompts["full"])
    # one bar per prompt and part; a part a prompt lacks is a zero-width bar
    widths = sorted(p.get_width() for p in ax.patches if p.get_width() > 0)  # type: ignore[attr-defined]
    expected = [*prompts["bare"].values(), *prompts["full"].values()]
    assert widths == sorted(expected)
    totals = [t.get_text() for t in ax.texts]
    assert totals == [f"{sum(parts.values())} tokens" for parts in prompts.values()]
    with pytest.raises(ValueError, match="no prompts"):
        plot_prompt_parts({})


def test_docstring_tool_is_strict_and_named() -> None:
    tool = docstring_tool()
    assert tool["function"]["name"] == TOOL_NAME
    assert tool["function"]["strict"] is True  # type: ignore[typeddict-item]
    assert tool["function"]["parameters"]["additionalProperties"] is False  # type: ignore[typeddict-item,index]


def test_render_docstring_writes_google_style_sections() -> None:
    doc = Docstring(
        summary="Add two numbers.",
        args=[
            Argument(name="a", type="int", description="First."),
            Argument(name="b", type="int", description="Second."),
        ],
        returns="The sum.",
        raises=[],
    )
    assert render_docstring(doc) == (
        '"""Add two numbers.\n\nArgs:\n    a (int): First.\n    b (int): Second.\n\n'
        'Returns:\n    The sum.\n"""'
    )


def test_docstring_by_schema_returns_the_parsed_docstring(start_server: StartServer) -> None:
    client = sync_client(start_server(RECORDINGS))
    doc = docstring_by_schema(client, model=DEPLOYMENT, signature=SIGNATURE, context=CONTEXT)
    assert [a.name for a in doc.args] == ["base", "override"]
    assert doc.returns is not None


def test_docstring_by_tool_reads_the_forced_tool_call(start_server: StartServer) -> None:
    client = sync_client(start_server(RECORDINGS))
    doc = docstring_by_tool(client, model=DEPLOYMENT, signature=SIGNATURE, context=CONTEXT)
    assert [a.name for a in doc.args] == ["base", "override"]
    assert doc.args[1].type == "dict"


def test_forced_tool_call_leaves_content_empty(start_server: StartServer) -> None:
    client = sync_client(start_server(RECORDINGS))
    completion = client.chat.completions.create(
        model=DEPLOYMENT,
        messages=docstring_messages(SIGNATURE, context=CONTEXT),
        tools=[docstring_tool()],
        tool_choice={"type": "function", "function": {"name": TOOL_NAME}},
    )
    message = completion.choices[0].message
    assert message.content is None
    assert message.tool_calls is not None
    assert json.loads(message.tool_calls[0].function.arguments)["args"][0]["name"] == "base"  # type: ignore[union-attr]


def test_the_guides_request_reads_none_from_content(start_server: StartServer) -> None:
    """The guide forces the tool *and* sends a response_format, then json.loads(content)."""
    client = sync_client(start_server(RECORDINGS))
    schema = Docstring.model_json_schema()
    completion = client.chat.completions.create(
        model=DEPLOYMENT,
        messages=docstring_messages(SIGNATURE, context=CONTEXT),
        tools=[
            {"type": "function", "function": {"name": "generate_docstring", "parameters": schema}}
        ],
        tool_choice={"type": "function", "function": {"name": "generate_docstring"}},
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "generate_docstring", "schema": schema},
        },
    )
    assert completion.choices[0].message.content is None
    with pytest.raises(TypeError):
        json.loads(completion.choices[0].message.content)  # type: ignore[arg-type]


def test_exercise_solution_passes() -> None:
    feedback = check_label_format(solution("09_dynamic_prompts").label_format)
    assert feedback.passed, feedback


def test_exercise_wrong_answer_is_rejected_helpfully() -> None:
    def fixed_labels(labels: list[str]) -> dict[str, Any]:
        return solution("09_dynamic_prompts").label_format(["billing", "other"])  # type: ignore[no-any-return]

    feedback = check_label_format(fixed_labels)
    assert not feedback.passed
    assert "'label' property has enum ['billing', 'other']" in str(feedback)
    assert "build the enum from the input" in str(feedback)


def test_exercise_format_without_strict_is_rejected_helpfully() -> None:
    def not_strict(labels: list[str]) -> dict[str, Any]:
        fmt: dict[str, Any] = solution("09_dynamic_prompts").label_format(labels)
        del fmt["json_schema"]["strict"]
        return fmt

    feedback = check_label_format(not_strict)
    assert not feedback.passed and "'strict': True" in str(feedback)
