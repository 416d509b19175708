"""Writes tests/recordings/test_responses.yaml: curated Responses API interactions.

The bodies and event streams are built with the replay server's own Azure-shaped builders
(helpers.replay.services.responses.simulator); the texts, tools and token counts are chosen by hand.
Run from the project root: ``.venv/bin/python tests/recordings/curate_test_responses.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel

from helpers._support.tokenizer import count_tokens
from helpers.replay import azure
from helpers.replay.config import DEFAULT_DEPLOYMENTS
from helpers.replay.recordings.store import (
    Interaction,
    RecordedRequest,
    RecordedResponse,
    RecordingsFile,
    StreamChunk,
)
from helpers.replay.services.responses import simulator as sim

DEPLOYMENT = DEFAULT_DEPLOYMENTS["gpt-5-mini"]
TARGET = Path("tests/recordings/test_responses.yaml")
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


class Planet(BaseModel):
    name: str
    moons: int


def main() -> None:
    ids = azure.IdSource(7)
    recordings = RecordingsFile.new(TARGET, "curated")
    recordings.document.description = (
        "Responses API interactions for tests/test_responses.py (gpt-5-mini, a reasoning model)."
    )

    def response(
        body: dict[str, Any], text: str = "", calls: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        reasoning = 128
        output: list[dict[str, Any]] = [
            {"id": ids.item_id("rs"), "summary": [], "type": "reasoning"}
        ]
        output += calls or [sim.message_item(ids.item_id("msg"), text)]
        prompt = (body.get("instructions") or "") + json.dumps(body.get("input"))
        usage = sim.responses_usage(
            count_tokens(prompt),
            count_tokens(text or json.dumps(calls)) + reasoning,
            reasoning_tokens=reasoning,
        )
        return sim.response_object(
            body, DEPLOYMENT, response_id=ids.item_id("resp"), output=output, usage=usage
        )

    def add(name: str, body: dict[str, Any], answer: dict[str, Any], stream: bool = False) -> None:
        request = RecordedRequest(method="POST", path="/openai/v1/responses", body=body)
        if stream:
            chunks = [
                StreamChunk(data=json.dumps(payload, separators=(",", ":")), event=kind,
                            delay_ms=20 if n else 0)
                for n, (kind, payload) in enumerate(sim.stream_events(answer))
            ]  # fmt: skip
            recorded = RecordedResponse(stream=chunks)
        else:
            recorded = RecordedResponse(body=answer)
        recordings.document.interactions.append(
            Interaction(name=name, request=request, response=recorded)
        )

    rings = {
        "model": "gpt-5-mini",
        "input": "Name one planet with rings, in one word.",
        "instructions": "Answer briefly.",
    }
    first = response(rings, "Saturn.")
    add("rings", rings, first)
    moon = {
        "model": "gpt-5-mini",
        "input": "And the largest moon of that planet?",
        "previous_response_id": first["id"],
    }
    add("rings-follow-up", moon, response(moon, "Titan."))
    haiku = {"model": "gpt-5-mini", "input": "Write a haiku about the sea.", "stream": True}
    text = "Grey waves fold and break,\nsalt wind carries gull voices,\nthe tide keeps its time."
    add("haiku-stream", haiku, response(haiku, text), stream=True)
    weather = {
        "model": "gpt-5-mini",
        "input": "What's the weather in Oslo?",
        "tools": [WEATHER_TOOL],
    }
    call = {
        "arguments": '{"city":"Oslo"}',
        "call_id": ids.call_id(),
        "id": ids.item_id("fc"),
        "name": "get_weather",
        "status": "completed",
        "type": "function_call",
    }
    asked = response(weather, calls=[call])
    add("weather-call", weather, asked)
    result = {
        "model": "gpt-5-mini",
        "input": [
            {
                "type": "function_call_output",
                "call_id": call["call_id"],
                "output": json.dumps({"temperature_c": 4, "sky": "overcast"}),
            }
        ],
        "previous_response_id": asked["id"],
        "tools": [WEATHER_TOOL],
    }
    add("weather-answer", result, response(result, "It is 4 °C and overcast in Oslo."))
    planet = {
        "model": "gpt-5-mini",
        "input": "Give Mars's name and its number of moons.",
        "text": {
            "format": {
                "type": "json_schema",
                "name": "Planet",
                "schema": to_strict_json_schema(Planet),
                "strict": True,
            }
        },
    }
    add("planet-json", planet, response(planet, '{"name":"Mars","moons":2}'))
    recordings.save()


if __name__ == "__main__":
    main()
