"""Solution to notebook 1's exercise: the v1 API's base URL from an endpoint as pasted."""

from urllib.parse import urlsplit


def v1_base_url(endpoint: str) -> str:
    """``https://<host>/openai/v1/`` whatever path or trailing slash ``endpoint`` carries."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}/openai/v1/"
