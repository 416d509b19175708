"""Solution to notebook 4's exercise: the tokens a context window leaves for the reply."""

from helpers.token_management import count_messages


def room_for_reply(messages: list[dict[str, str]], model: str, context_window: int) -> int:
    """The window minus the prompt as the service counts it; 0 when the prompt fills it."""
    return max(0, context_window - count_messages(messages, model))
