"""Writes tests/recordings/test_structured_outputs_responses.yaml: curated Responses answers.

Structured outputs on the Responses API for tests/test_structured_outputs.py: a contact
record in ``text.format``, a refusal (a ``refusal`` content part), and a response cut off
by ``max_output_tokens`` while the model was still reasoning (``status: "incomplete"``).
Bodies are built with the replay server's Azure-shaped builders
(helpers.replay.services.responses.simulator); texts and token counts are chosen by hand.
Run from the project root:
``.venv/bin/python tests/recordings/curate_test_structured_outputs_responses.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from helpers._support.tokenizer import count_tokens
from helpers.replay.recordings.curate import CURATED_DEPLOYMENT, Curation, responses_request
from helpers.replay.recordings.store import RecordedResponse
from helpers.replay.services.responses import simulator as sim
from helpers.structured_outputs import text_config_for

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from test_structured_outputs import MESSAGES, STALKING, Person

TARGET = Path("tests/recordings/test_structured_outputs_responses.yaml")
RECORD = {
    "name": "Dr. Amara Okafor",
    "age": 41,
    "occupation": "Head of Clinical Data Science",
    "contact": {"email": "amara.okafor@contoso-health.example", "phone": "+44 20 7946 0321"},
    "languages": ["English", "Igbo", "French"],
}
REFUSAL = "I'm sorry, but I can't help with finding where someone lives or tracking them down."


def main() -> None:
    curation = Curation.new(
        TARGET,
        seed=3,
        description=(
            "Structured outputs on the Responses API (gpt-5.4-mini) for "
            "tests/test_structured_outputs.py: a parsed contact record, a refusal, and an answer "
            "cut off while reasoning."
        ),
    )
    ids = curation.ids

    def add(name: str, body: dict[str, Any], answer: dict[str, Any]) -> None:
        curation.add(name, responses_request(body), RecordedResponse(body=answer))

    def request(messages: list[Any], **options: Any) -> dict[str, Any]:
        return {
            "model": "gpt-5.4-mini",
            "input": messages,
            "text": text_config_for(Person),
            **options,
        }

    def answer(
        body: dict[str, Any], part: dict[str, Any] | None, reasoning: int, status: str = "completed"
    ) -> dict[str, Any]:
        output = [sim.reasoning_item(ids.item_id("rs"))]
        shown = 0
        if part is not None:
            item = sim.message_item(ids.item_id("msg"), "")
            item["content"] = [part]
            output.append(item)
            shown = count_tokens(part.get("text") or part.get("refusal") or "")
        usage = sim.responses_usage(
            count_tokens(json.dumps(body["input"])), reasoning + shown, reasoning_tokens=reasoning
        )
        return sim.response_object(
            body, CURATED_DEPLOYMENT, response_id=ids.item_id("resp"), output=output, usage=usage,
            status=status,
        )  # fmt: skip

    person = request(MESSAGES)
    text = json.dumps(RECORD, separators=(",", ":"))
    add("person", person, answer(person, {"annotations": [], "logprobs": [], "text": text,
                                          "type": "output_text"}, 192))  # fmt: skip
    stalking = request(STALKING)
    add("refusal", stalking, answer(stalking, {"refusal": REFUSAL, "type": "refusal"}, 128))
    limited = request(MESSAGES, max_output_tokens=64)
    cut = answer(limited, None, 64, status="incomplete")
    cut["incomplete_details"] = {"reason": "max_output_tokens"}
    add("cut-off-while-reasoning", limited, cut)
    curation.save()


if __name__ == "__main__":
    main()
