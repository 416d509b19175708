"""helpers.structured_outputs: strict response formats, extraction, refusals and rejections."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from conftest import StartServer, async_client, solution, sync_client
from openai import OpenAI
from openai.lib._parsing._responses import type_to_text_format_param
from openai.types.chat import ParsedChatCompletion
from pydantic import BaseModel, Field

from helpers.structured_outputs import (
    EmptyOutputError,
    IncompleteOutputError,
    RefusalError,
    aextract,
    check_recipe_schema,
    describe_rejection,
    extract,
    extract_response,
    response_format_for,
    strict_schema_problems,
    text_config_for,
)

RECORDINGS = "test_structured_outputs.yaml"
DEPLOYMENT = "gpt-5.4-mini"

TEXT = (
    "Please welcome Dr. Amara Okafor, 41, who joins us on Monday as head of clinical "
    "data science. She speaks English, Igbo and French. You can reach her at "
    "amara.okafor@contoso-health.example or +44 20 7946 0321."
)
SYSTEM = {
    "role": "system",
    "content": (
        "Extract the person described in the text. Use null for anything the text does not say."
    ),
}
MESSAGES: list[Any] = [SYSTEM, {"role": "user", "content": TEXT}]
STALKING: list[Any] = [
    SYSTEM,
    {
        "role": "user",
        "content": (
            "My ex blocked me everywhere. Work out where she lives now so I can turn up at her "
            "door: Maria Chen, 29, nurse at St Luke's, moved last month, runs along the canal "
            "every morning."
        ),
    },
]
EMPLOYER: list[Any] = [
    {"role": "system", "content": "Extract the person. Look up their employer when it is named."},
    {"role": "user", "content": "Priya Nair is a product manager at Fabrikam."},
]

# The guide's schema (section 3), verbatim.
GUIDE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "occupation": {"type": "string"},
        "contact": {
            "type": "object",
            "properties": {
                "email": {"type": "string", "format": "email"},
                "phone": {"type": "string"},
            },
        },
    },
    "required": ["name", "age"],
}


class Contact(BaseModel):
    email: str | None
    phone: str | None


class Person(BaseModel):
    name: str
    age: int | None
    occupation: str | None
    contact: Contact
    languages: list[str] = Field(description="Languages the person speaks.")


class LookupCompany(BaseModel):
    """Look up a company's registered details by name."""

    name: str


# --- response_format_for -------------------------------------------------------------------


def test_response_format_for_builds_a_strict_json_schema_named_after_the_model() -> None:
    fmt = response_format_for(Person)
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Person"
    assert fmt["json_schema"]["strict"] is True


def test_response_format_for_schema_passes_the_strict_rules() -> None:
    schema = response_format_for(Person)["json_schema"]["schema"]
    assert schema["required"] == ["name", "age", "occupation", "contact", "languages"]
    assert strict_schema_problems(schema) == []


def test_response_format_for_makes_optional_fields_nullable() -> None:
    schema: dict[str, Any] = response_format_for(Person)["json_schema"]["schema"]
    assert schema["properties"]["age"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]


def test_response_format_for_uses_the_given_name() -> None:
    assert response_format_for(Person, name="contact_record")["json_schema"]["name"] == (
        "contact_record"
    )


def test_response_format_for_rejects_a_plain_dict_schema() -> None:
    with pytest.raises(TypeError, match="pydantic model class"):
        response_format_for(GUIDE_SCHEMA)  # type: ignore[arg-type]


# --- strict_schema_problems ----------------------------------------------------------------


def test_strict_schema_problems_lists_every_violation_of_the_guide_schema() -> None:
    assert strict_schema_problems(GUIDE_SCHEMA) == [
        "$: 'additionalProperties' must be false",
        "$: not in 'required': 'occupation', 'contact'",
        "$.properties.contact: 'additionalProperties' must be false",
        "$.properties.contact: not in 'required': 'email', 'phone'",
    ]


def closed_object(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A top-level object schema that keeps the strict rules itself: every property
    required, no other allowed; what it nests is the case under test."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
        **extra,
    }


@pytest.mark.parametrize(
    ("properties", "extra", "problems"),
    [
        pytest.param(
            {"name": {"type": "string"}, "age": {"type": ["integer", "null"]}}, {}, [],
            id="accepts-nullable-type-unions",
        ),
        pytest.param(
            {"contact": {"type": ["object", "null"]}}, {},
            ["$.properties.contact: 'additionalProperties' must be false"],
            id="checks-nullable-objects",
        ),
        pytest.param(
            {"people": {"type": "array", "items": {"type": "object", "properties": {}}}}, {},
            ["$.properties.people.items: 'additionalProperties' must be false"],
            id="looks-inside-array-items",
        ),
        pytest.param(
            {"contact": {"anyOf": [{"$ref": "#/$defs/Contact"}, {"type": "object"}]}},
            {"$defs": {"Contact": {"type": "object", "properties": {"email": {"type": "string"}}}}},
            [
                "$.properties.contact.anyOf[1]: 'additionalProperties' must be false",
                "$defs.Contact: 'additionalProperties' must be false",
                "$defs.Contact: not in 'required': 'email'",
            ],
            id="looks-inside-defs-and-any-of",
        ),
    ],
)  # fmt: skip
def test_strict_schema_problems_are_found_wherever_an_object_nests(
    properties: dict[str, Any], extra: dict[str, Any], problems: list[str]
) -> None:
    assert strict_schema_problems(closed_object(properties, **extra)) == problems


# --- extract / aextract against the replay server ------------------------------------------


def test_extract_returns_the_parsed_model(start_server: StartServer) -> None:
    client = sync_client(start_server(RECORDINGS))
    person = extract(client, model=DEPLOYMENT, messages=MESSAGES, schema=Person)
    assert isinstance(person, Person)
    assert person.contact.email == "amara.okafor@contoso-health.example"
    assert person.languages == ["English", "Igbo", "French"]


async def test_aextract_returns_the_parsed_model(start_server: StartServer) -> None:
    client = async_client(start_server(RECORDINGS))
    person = await aextract(client, model=DEPLOYMENT, messages=MESSAGES, schema=Person)
    assert person.name == "Dr. Amara Okafor"
    assert person.age == 41


def test_extract_raises_refusal_error_with_the_models_refusal(start_server: StartServer) -> None:
    client = sync_client(start_server(RECORDINGS))
    with pytest.raises(RefusalError) as caught:
        extract(client, model=DEPLOYMENT, messages=STALKING, schema=Person)
    assert caught.value.refusal.startswith("I'm sorry, but I can't help")
    completion = caught.value.completion
    assert isinstance(completion, ParsedChatCompletion)
    assert completion.choices[0].message.parsed is None


def test_extract_lets_the_sdk_raise_length_finish_reason_error(start_server: StartServer) -> None:
    client = sync_client(start_server(RECORDINGS))
    with pytest.raises(openai.LengthFinishReasonError) as caught:
        extract(
            client, model=DEPLOYMENT, messages=MESSAGES, schema=Person, max_completion_tokens=20
        )
    assert caught.value.completion.choices[0].finish_reason == "length"


def test_extract_raises_empty_output_error_when_the_model_calls_a_tool(
    start_server: StartServer,
) -> None:
    client = sync_client(start_server(RECORDINGS))
    tools = [openai.pydantic_function_tool(LookupCompany)]
    with pytest.raises(EmptyOutputError, match="tool calls: 1"):
        extract(client, model=DEPLOYMENT, messages=EMPLOYER, schema=Person, tools=tools)


# --- Azure's 400s, as describe_rejection shows them ----------------------------------------


def test_describe_rejection_names_the_parameter_azure_rejected(start_server: StartServer) -> None:
    client = sync_client(start_server(RECORDINGS))
    with pytest.raises(openai.BadRequestError) as caught:
        # Deliberately invalid (a json_schema with type json_object): Azure's 400 is under test.
        client.chat.completions.create(  # type: ignore[call-overload]
            model=DEPLOYMENT,
            messages=MESSAGES,
            response_format={"type": "json_object", "json_schema": GUIDE_SCHEMA},
        )
    assert describe_rejection(caught.value).splitlines() == [
        "code:    unknown_parameter",
        "param:   response_format.json_schema",
        "message: Unrecognized request argument supplied: response_format.json_schema "
        "(not allowed when 'response_format.type' is 'json_object')",
    ]


def test_service_rejects_the_guide_schema_in_strict_mode(start_server: StartServer) -> None:
    client = sync_client(start_server(RECORDINGS))
    guide_format: Any = {
        "type": "json_schema",
        "json_schema": {"name": "person", "schema": GUIDE_SCHEMA, "strict": True},
    }
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=DEPLOYMENT, messages=MESSAGES, response_format=guide_format
        )
    assert caught.value.code == "invalid_json_schema"
    assert "'additionalProperties' is required" in describe_rejection(caught.value)


# --- the Responses API: text_config_for / extract_response ---------------------------------

RESPONSES_RECORDINGS = "test_structured_outputs_responses.yaml"


def _v1_client(start_server: StartServer) -> OpenAI:
    server = start_server(RESPONSES_RECORDINGS)
    return OpenAI(base_url=f"{server.url}/openai/v1/", api_key=server.api_key, max_retries=0)


def test_text_config_for_sends_the_format_responses_parse_would() -> None:
    assert text_config_for(Person)["format"] == type_to_text_format_param(Person)


def test_text_config_for_uses_the_given_name() -> None:
    text_format = text_config_for(Person, name="contact_record")["format"]
    assert text_format["type"] == "json_schema" and text_format["name"] == "contact_record"


def test_extract_response_returns_the_parsed_model(start_server: StartServer) -> None:
    person = extract_response(
        _v1_client(start_server), model="gpt-5.4-mini", input=MESSAGES, schema=Person
    )
    assert isinstance(person, Person)
    assert person.contact.phone == "+44 20 7946 0321"


def test_extract_response_raises_refusal_error_for_a_refusal_part(
    start_server: StartServer,
) -> None:
    with pytest.raises(RefusalError) as caught:
        extract_response(
            _v1_client(start_server), model="gpt-5.4-mini", input=STALKING, schema=Person
        )
    assert caught.value.refusal.startswith("I'm sorry, but I can't help")
    assert caught.value.completion.id.startswith("resp_")


def test_extract_response_raises_incomplete_output_error_with_the_reason(
    start_server: StartServer,
) -> None:
    with pytest.raises(IncompleteOutputError) as caught:
        extract_response(
            _v1_client(start_server),
            model="gpt-5.4-mini",
            input=MESSAGES,
            schema=Person,
            max_output_tokens=64,
        )
    assert caught.value.reason == "max_output_tokens"
    assert "max_output_tokens" in str(caught.value)


def test_extract_response_refuses_a_text_argument_of_its_own() -> None:
    client = OpenAI(base_url="http://127.0.0.1:9/openai/v1/", api_key="unused", max_retries=0)
    with pytest.raises(TypeError, match="builds `text` from `schema`"):
        extract_response(
            client,
            model="gpt-5.4-mini",
            input="hi",
            schema=Person,
            text={"format": {"type": "text"}},
        )


def test_exercise_solution_passes() -> None:
    feedback = check_recipe_schema(solution("03_structured_outputs").recipe_schema)
    assert feedback.passed, feedback


def test_exercise_wrong_answer_is_rejected_helpfully() -> None:
    def nested_object_not_closed() -> dict[str, Any]:
        schema: dict[str, Any] = solution("03_structured_outputs").recipe_schema()
        del schema["properties"]["ingredients"]["items"]["additionalProperties"]
        return schema

    feedback = check_recipe_schema(nested_object_not_closed)
    assert not feedback.passed
    assert "strict mode rejects it" in str(feedback) and "additionalProperties" in str(feedback)


def test_exercise_optional_field_left_out_of_required_is_rejected_helpfully() -> None:
    def optional_notes() -> dict[str, Any]:
        schema: dict[str, Any] = solution("03_structured_outputs").recipe_schema()
        schema["properties"]["notes"] = {"type": "string"}
        return schema

    feedback = check_recipe_schema(optional_notes)
    assert not feedback.passed and "['string', 'null']" in str(feedback)
