"""Solution to notebook 18's exercise: a profile's settings as ``responses.create`` arguments.

Unset settings are left out (never sent as null; ``0`` is a value, so test ``is not None``), the
limit is ``max_output_tokens`` and the effort ``reasoning={"effort": ...}`` on the Responses API,
and a setting the model family rejects raises an error that names it, before anything is sent.
"""

from __future__ import annotations

from typing import Any

SAMPLING = ("temperature", "top_p")


def responses_kwargs(family: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``client.responses.create`` from one profile's settings."""
    if family == "reasoning":
        for name in SAMPLING:
            if settings.get(name) is not None:
                raise ValueError(f"{name}: a reasoning deployment rejects sampling settings")
    elif settings.get("reasoning_effort") is not None:
        raise ValueError("reasoning_effort: a standard model takes no reasoning effort")
    kwargs: dict[str, Any] = {"model": settings["deployment"]}
    if settings.get("max_output_tokens") is not None:
        kwargs["max_output_tokens"] = settings["max_output_tokens"]
    if settings.get("reasoning_effort") is not None:
        kwargs["reasoning"] = {"effort": settings["reasoning_effort"]}
    for name in SAMPLING:
        if settings.get(name) is not None:
            kwargs[name] = settings[name]
    return kwargs
