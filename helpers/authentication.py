"""Section 1: authenticate, then prove the connection works (or say exactly why not).

The guide's "debugging tips" (check the variables, the key, the endpoint, the
api-version) become checks a script can run: :func:`check_settings` looks at
the configuration without calling anything, :func:`check_connection` makes
the smallest possible call and turns each failure into a diagnosis that says
what to change. Both API surfaces work: the v1 ``OpenAI`` client
(``base_url={endpoint}/openai/v1/``) and ``AzureOpenAI`` with a dated api-version.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

import openai
from openai import OpenAI

from ._support.exercises import Feedback, attempt, failed, passed
from ._support.settings import Settings
from .replay.config import API_VERSION_PATTERN

__all__ = [
    "Check",
    "check_connection",
    "check_project_endpoint",
    "check_settings",
    "check_v1_base_url",
    "diagnose",
]

AZURE_HOST_SUFFIXES = (
    ".openai.azure.com",
    ".cognitiveservices.azure.com",
    ".services.ai.azure.com",
)
CHECK_COMPLETION_TOKENS = 16
"""The connection check's output limit: ``max_completion_tokens``, which every current chat
model accepts (reasoning models reject ``max_tokens`` with a 400). A reasoning model may spend
all of it thinking and answer with ``finish_reason: "length"``; the check only needs an answer."""

LEGACY_VARIABLES = {
    "AZURE_OPENAI_KEY": "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_API_VERSION": "OPENAI_API_VERSION",
}


@dataclass(frozen=True)
class Check:
    """The outcome of one check: what was checked, whether it passed, and what to do."""

    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name:<12} {self.detail}"


def _check_endpoint(settings: Settings) -> Check:
    if settings.offline:
        return Check("endpoint", True, "not set: the notebooks run offline on the replay server")
    url = urlparse(settings.endpoint or "")
    if url.scheme != "https":
        return Check("endpoint", False, "must start with https://")
    if not (url.hostname or "").endswith(AZURE_HOST_SUFFIXES):
        return Check(
            "endpoint", False, "expected https://<resource>.openai.azure.com/ (from the portal)"
        )
    if url.path.strip("/"):
        return Check(
            "endpoint",
            False,
            f"drop the path '{url.path}': the SDK adds /openai/deployments/... itself",
        )
    return Check("endpoint", True, "an Azure OpenAI resource URL")


def _check_credentials(settings: Settings) -> Check:
    legacy = [old for old in LEGACY_VARIABLES if os.environ.get(old)]
    if legacy:
        old = legacy[0]
        return Check(
            "credentials",
            False,
            f"{old} is set, but the SDK reads {LEGACY_VARIABLES[old]}: rename it in .env",
        )
    if settings.offline:
        return Check("credentials", True, "the replay server's local key (REPLAY_API_KEY)")
    if settings.api_key is not None:
        return Check("credentials", True, "API key from AZURE_OPENAI_API_KEY (value hidden)")
    return Check("credentials", True, "no key: keyless Microsoft Entra ID (az login or identity)")


def _check_api_version(settings: Settings) -> Check:
    if not API_VERSION_PATTERN.fullmatch(settings.api_version):
        return Check(
            "api-version",
            False,
            f"{settings.api_version!r} is not a dated version such as 2025-04-01-preview",
        )
    kind = "preview" if settings.api_version.endswith("-preview") else "GA"
    return Check(
        "api-version", True, f"{settings.api_version} ({kind}) for AzureOpenAI; v1 needs none"
    )


PROJECT_HOST_SUFFIX = ".services.ai.azure.com"
"""A Foundry project endpoint's host: ``<resource>.services.ai.azure.com`` (Learn, "Microsoft
Foundry SDKs and Endpoints"; a custom subdomain takes the resource name's place)."""


def check_project_endpoint(endpoint: str | None, *, offline: bool = False) -> Check:
    """Check a Foundry project endpoint (``FOUNDRY_PROJECT_ENDPOINT``) without calling it: what
    ``AIProjectClient(endpoint=...)`` needs is ``https://<resource>.services.ai.azure.com/api/
    projects/<project>``, with nothing after the project's name (``get_openai_client()`` adds
    ``/openai/v1`` itself)."""
    name = "project"
    if not endpoint:
        return Check(name, False, "FOUNDRY_PROJECT_ENDPOINT is empty: copy it from the project")
    url = urlparse(endpoint)
    parts = [p for p in url.path.split("/") if p]
    if not offline:
        if url.scheme != "https":
            return Check(name, False, "must start with https://")
        if not (url.hostname or "").endswith(PROJECT_HOST_SUFFIX):
            return Check(
                name,
                False,
                f"expected https://<resource>{PROJECT_HOST_SUFFIX}/api/projects/<project>; "
                f"{url.hostname} is not a Foundry endpoint (an *.openai.azure.com resource "
                "URL goes to AZURE_OPENAI_ENDPOINT)",
            )
    if len(parts) < 3 or parts[:2] != ["api", "projects"]:
        return Check(name, False, "the path must be /api/projects/<project>")
    if len(parts) > 3:
        return Check(
            name, False, f"drop '/{'/'.join(parts[3:])}': get_openai_client() adds /openai/v1"
        )
    return Check(name, True, f"project {parts[2]!r}")


def check_settings(settings: Settings) -> list[Check]:
    """Check the configuration without making any call."""
    deployment = Check(
        "deployments",
        bool(settings.chat_deployment and settings.embedding_deployment),
        f"chat={settings.chat_deployment}, embeddings={settings.embedding_deployment}",
    )
    return [
        _check_endpoint(settings),
        _check_credentials(settings),
        _check_api_version(settings),
        deployment,
    ]


def diagnose(error: Exception, deployment: str) -> str:
    """What a failed call means, and what to change."""
    if isinstance(error, openai.AuthenticationError):
        return (
            "credentials rejected (401): use a key of this resource, or for Entra ID make sure "
            "your identity has the 'Cognitive Services OpenAI User' role on it"
        )
    if isinstance(error, openai.PermissionDeniedError):
        return "access denied (403): your identity lacks a role on this resource"
    if isinstance(error, openai.NotFoundError):
        if error.code == "DeploymentNotFound":
            return (
                f"no deployment named {deployment!r} (404): set AZURE_OPENAI_CHAT_DEPLOYMENT "
                "to a deployment name of this resource (not a model name)"
            )
        return "resource not found (404): check the endpoint URL and the api-version"
    if isinstance(error, openai.RateLimitError):
        return "reachable, but rate limited (429): retry later or raise the deployment's quota"
    if isinstance(error, openai.APIConnectionError):
        return "could not connect: check the endpoint's host name and your network"
    if isinstance(error, openai.APIStatusError):
        return f"{error.status_code} {error.code}: {error.message}"
    return f"{type(error).__name__}: {error}"


def check_connection(client: OpenAI, deployment: str) -> Check:
    """Make a small chat call on ``deployment``; report what answered, or why nothing did.

    ``client`` is the v1 ``OpenAI`` client or an ``AzureOpenAI`` client (a subclass).
    """
    try:
        raw = client.chat.completions.with_raw_response.create(
            model=deployment,
            messages=[{"role": "user", "content": "ping"}],
            max_completion_tokens=CHECK_COMPLETION_TOKENS,
        )
    except openai.OpenAIError as error:
        return Check("connection", False, diagnose(error, deployment))
    completion = raw.parse()
    region = raw.headers.get("x-ms-region", "unknown region")
    return Check(
        "connection", True, f"deployment {deployment!r} runs {completion.model} in {region}"
    )


# --- exercise --------------------------------------------------------------------------------

V1_BASE_URL_CASES = {
    "https://my-resource.openai.azure.com": "https://my-resource.openai.azure.com/openai/v1/",
    "https://my-resource.openai.azure.com/": "https://my-resource.openai.azure.com/openai/v1/",
    "https://my-resource.openai.azure.com/openai/deployments/gpt-5.4-mini": (
        "https://my-resource.openai.azure.com/openai/v1/"
    ),
    "https://my-resource.openai.azure.com/openai/v1": (
        "https://my-resource.openai.azure.com/openai/v1/"
    ),
    "https://my-hub.cognitiveservices.azure.com/": (
        "https://my-hub.cognitiveservices.azure.com/openai/v1/"
    ),
}
"""Endpoints as people paste them, and the v1 API's base URL each one stands for."""


def check_v1_base_url(v1_base_url: Callable[[str], str]) -> Feedback:
    """Check a learner's ``v1_base_url(endpoint)`` against endpoints as people paste them.

    Each must become ``https://<host>/openai/v1/``: trailing slash kept, any path dropped.
    """
    exercise = "v1 base URL"
    for endpoint, expected in V1_BASE_URL_CASES.items():
        got = attempt(exercise, v1_base_url, endpoint)
        if isinstance(got, Feedback):
            return got
        if got != expected:
            hint = "keep only scheme and host, then add /openai/v1/"
            if isinstance(got, str) and got.rstrip("/") == expected.rstrip("/"):
                hint = "the SDK joins paths onto the base URL: end it with '/'"
            return failed(exercise, f"v1_base_url({endpoint!r}) gave {got!r}, "
                                    f"expected {expected!r}: {hint}.")  # fmt: skip
    return passed(exercise, f"all {len(V1_BASE_URL_CASES)} pasted endpoints give the v1 base URL.")
