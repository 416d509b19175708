"""Solution to notebook 3's exercise: a strict JSON schema for a recipe."""

from typing import Any


def recipe_schema() -> dict[str, Any]:
    """Every property required, no extra properties, at every level; notes may be null."""
    ingredient = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "quantity": {"type": "string"}},
        "required": ["name", "quantity"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "servings": {"type": "integer"},
            "ingredients": {"type": "array", "items": ingredient},
            "notes": {"type": ["string", "null"]},
        },
        "required": ["title", "servings", "ingredients", "notes"],
        "additionalProperties": False,
    }
