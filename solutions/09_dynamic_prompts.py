"""Solution to notebook 9's exercise: a strict response format built from its input's labels."""

from typing import Any


def label_format(labels: list[str]) -> dict[str, Any]:
    """A strict json_schema response format whose required ``label`` is one of ``labels``."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "label",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"label": {"type": "string", "enum": list(labels)}},
                "required": ["label"],
                "additionalProperties": False,
            },
        },
    }
