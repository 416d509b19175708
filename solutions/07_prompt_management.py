"""Solution to notebook 7's exercise: fill a template whose text and values hold braces."""

import string


def fill(template: str, values: dict[str, str]) -> str:
    """``$name`` placeholders filled; a missing variable raises KeyError, naming it."""
    return string.Template(template).substitute(values)
