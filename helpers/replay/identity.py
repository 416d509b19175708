"""Credentials the replay server checks, in every mode.

Two ways in, as on Azure:

* ``api-key: <key>`` header, compared with the server's key in constant time.
* ``Authorization: Bearer <token>``: a Microsoft Entra ID access token. Offline
  there is no Entra ID, so :class:`ReplayCredential` stands in for
  ``DefaultAzureCredential``: it implements the same ``get_token`` protocol and
  mints a JWT for the audience of the scope it is asked for, signed (HS256, with
  PyJWT) from the replay key. The server checks signature, audience, issuer and
  the time claims by type and range, so a wrong, stale or mis-scoped token fails
  exactly as on Azure.

Azure OpenAI takes tokens for two audiences. Microsoft Learn's "Azure OpenAI in Microsoft
Foundry Models v1 API" page (``/azure/foundry/openai/api-version-lifecycle``) now asks for
the scope ``https://ai.azure.com/.default`` in every Entra ID sample; the same page until
early 2026, and many other Learn samples, use ``https://cognitiveservices.azure.com/.default``.
Both are accepted (:data:`AUDIENCES`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, overload

import jwt
from azure.core.credentials import AccessToken, AccessTokenInfo

COGNITIVE_SERVICES_AUDIENCE = "https://cognitiveservices.azure.com"
COGNITIVE_SERVICES_SCOPE = f"{COGNITIVE_SERVICES_AUDIENCE}/.default"
AI_AUDIENCE = "https://ai.azure.com"
AI_SCOPE = f"{AI_AUDIENCE}/.default"
"""The scope Learn's "Azure OpenAI in Microsoft Foundry Models v1 API" page requests today."""
AUDIENCES: dict[str, tuple[str, ...]] = {
    COGNITIVE_SERVICES_AUDIENCE: (COGNITIVE_SERVICES_AUDIENCE, AI_AUDIENCE),
}
"""For a service's audience, every audience whose tokens it accepts (a service not listed here,
Azure AI Search for one, accepts only its own)."""


@overload
def openai_api_key(
    provider: Callable[[], str], *, is_async: Literal[True]
) -> Callable[[], Awaitable[str]]: ...
@overload
def openai_api_key(
    provider: Callable[[], str], *, is_async: Literal[False]
) -> Callable[[], str]: ...
@overload
def openai_api_key(
    provider: Callable[[], str], *, is_async: bool
) -> Callable[[], str] | Callable[[], Awaitable[str]]: ...
def openai_api_key(
    provider: Callable[[], str], *, is_async: bool
) -> Callable[[], str] | Callable[[], Awaitable[str]]:
    """A bearer-token provider (``get_bearer_token_provider``) as the v1 clients' ``api_key``:
    ``OpenAI`` calls it before each request, ``AsyncOpenAI`` awaits it. The provider caches its
    token, so the async wrapper blocks only when the token is renewed (``azure.identity.aio``
    would need aiohttp, which the cookbook does not install)."""
    if not is_async:
        return provider

    async def token() -> str:
        return provider()

    return token


ISSUER = "replay-server"
ALGORITHM = "HS256"
MAX_TOKEN_LIFETIME = 24 * 3600
"""Longest lifetime the server accepts (seconds from now to ``exp``). Microsoft Entra ID
access tokens live 60-90 minutes by default, and a configurable lifetime cannot exceed one
day (Microsoft Learn, "Configurable token lifetimes in the Microsoft identity platform")."""
CLOCK_SKEW = 300
"""Leeway for ``nbf``/``iat`` in the future, as Microsoft's token validators allow (5 min)."""


def signing_key(key: str) -> bytes:
    """The HMAC key: SHA-256 of the replay key, the 256 bits RFC 7518 (3.2) asks of HS256."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def mint_token(key: str, *, audience: str, expires_on: int, subject: str = "replay-user") -> str:
    """A JWT the replay server accepts: ``aud``, ``iss``, ``sub``, ``iat``/``nbf`` and ``exp``."""
    issued = expires_on - 3600
    claims = {
        "aud": audience,
        "iss": ISSUER,
        "sub": subject,
        "iat": issued,
        "nbf": issued,
        "exp": expires_on,
    }
    return jwt.encode(claims, signing_key(key), algorithm=ALGORITHM)


def _is_numeric_date(value: Any) -> bool:
    """RFC 7519 NumericDate: a JSON number (not a boolean, string or list), finite."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value == value and abs(value) != float("inf")


def token_is_valid(
    token: str, key: str, now: float, *, audience: str = COGNITIVE_SERVICES_AUDIENCE
) -> bool:
    """True for a token signed with ``key``, for ``audience``, from this issuer, valid at ``now``.

    A token for any audience :data:`AUDIENCES` lists with ``audience`` is for it too (Azure
    OpenAI takes ``https://ai.azure.com`` tokens as well as ``cognitiveservices`` ones).

    PyJWT checks the signature, the algorithm, that the claims are a JSON object, ``aud``
    and ``iss``; the time claims are checked here by type and range against ``now`` (the
    server's clock, injectable in tests, where PyJWT would read the wall clock): ``exp`` in
    ``(now, now + MAX_TOKEN_LIFETIME]``, ``nbf`` and ``iat`` not in the future.
    """
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key(key),
            algorithms=[ALGORITHM],
            audience=[
                form
                for accepted in AUDIENCES.get(audience.rstrip("/"), (audience,))
                for form in (accepted, accepted.rstrip("/"), accepted.rstrip("/") + "/")
            ],
            issuer=ISSUER,
            options={
                "require": ["exp", "aud", "iss"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        return False
    expires = claims["exp"]
    if not _is_numeric_date(expires) or not now < expires <= now + MAX_TOKEN_LIFETIME:
        return False
    for name in ("nbf", "iat"):
        if name in claims:
            value = claims[name]
            if not _is_numeric_date(value) or value > now + CLOCK_SKEW:
                return False
    return True


def key_is_valid(presented: str, key: str) -> bool:
    """Constant-time comparison of an ``api-key`` (or v1 bearer key) with the server's key."""
    return hmac.compare_digest(
        presented.encode("utf-8", "surrogatepass"), key.encode("utf-8", "surrogatepass")
    )


class ReplayCredential:
    """A ``TokenCredential`` for the replay server, standing in for ``DefaultAzureCredential``.

    Pass it to ``azure.identity.get_bearer_token_provider`` exactly as you would a real one.
    """

    def __init__(
        self, key: str, *, lifetime: int = 3600, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = key
        self._lifetime = lifetime
        self._clock = clock

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        info = self.get_token_info(*scopes)
        return AccessToken(info.token, info.expires_on)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        if not scopes:
            raise ValueError("get_token requires at least one scope")
        audience = scopes[0].removesuffix("/.default")
        expires_on = int(self._clock()) + self._lifetime
        return AccessTokenInfo(
            mint_token(self._key, audience=audience, expires_on=expires_on), expires_on
        )

    def close(self) -> None:
        """Nothing to release; present for the ``TokenCredential`` protocol."""

    def __enter__(self) -> ReplayCredential:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()
