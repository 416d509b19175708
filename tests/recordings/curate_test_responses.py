"""Writes tests/recordings/test_responses.yaml: curated Responses API interactions.

The bodies and event streams are built with the replay server's own Azure-shaped builders
(helpers.replay.services.responses.simulator); the texts, tools and token counts are chosen by hand.
Run from the project root: ``.venv/bin/python tests/recordings/curate_test_responses.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from openai.lib._pydantic import to_strict_json_schema

from helpers._support.tokenizer import count_tokens
from helpers.replay.recordings.curate import (
    CURATED_DEPLOYMENT,
    Curation,
    event_stream,
    responses_request,
)
from helpers.replay.recordings.store import RecordedResponse
from helpers.replay.services.responses import simulator as sim

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/
from test_responses import HAIKU, RINGS, WEATHER_TOOL, Planet

TARGET = Path("tests/recordings/test_responses.yaml")


def main() -> None:
    curation = Curation.new(
        TARGET,
        seed=7,
        description=(
            "Responses API interactions for tests/test_responses.py (gpt-5.4-mini, a reasoning "
            "model)."
        ),
    )
    ids = curation.ids

    def response(
        body: dict[str, Any], text: str = "", calls: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        reasoning = 128
        output = [sim.reasoning_item(ids.item_id("rs"))]
        output += calls or [sim.message_item(ids.item_id("msg"), text)]
        prompt = (body.get("instructions") or "") + json.dumps(body.get("input"))
        usage = sim.responses_usage(
            count_tokens(prompt),
            count_tokens(text or json.dumps(calls)) + reasoning,
            reasoning_tokens=reasoning,
        )
        return sim.response_object(
            body, CURATED_DEPLOYMENT, response_id=ids.item_id("resp"), output=output, usage=usage
        )

    def add(name: str, body: dict[str, Any], answer: dict[str, Any], stream: bool = False) -> None:
        recorded = (
            RecordedResponse(stream=event_stream(sim.stream_events(answer), pause_ms=20))
            if stream
            else RecordedResponse(body=answer)
        )
        curation.add(name, responses_request(body), recorded)

    rings = dict(RINGS)
    first = response(rings, "Saturn.")
    add("rings", rings, first)
    moon = {
        "model": "gpt-5.4-mini",
        "input": "And the largest moon of that planet?",
        "previous_response_id": first["id"],
    }
    add("rings-follow-up", moon, response(moon, "Titan."))
    haiku = {"model": "gpt-5.4-mini", "input": "Write a haiku about the sea.", "stream": True}
    add("haiku-stream", haiku, response(haiku, HAIKU), stream=True)
    weather = {
        "model": "gpt-5.4-mini",
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
        "model": "gpt-5.4-mini",
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
        "model": "gpt-5.4-mini",
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
    curation.save()


if __name__ == "__main__":
    main()
