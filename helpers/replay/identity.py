"""Credentials the replay server checks, in every mode.

Two ways in, as on Azure:

* ``api-key: <key>`` header, compared with the server's key in constant time.
* ``Authorization: Bearer <token>``: a Microsoft Entra ID access token. Offline
  there is no Entra ID, so :class:`ReplayCredential` stands in for
  ``DefaultAzureCredential``: it implements the same ``get_token`` protocol and
  mints a JWT for the ``https://cognitiveservices.azure.com`` audience, signed
  (HS256) with the replay key. The server checks signature, audience and
  expiry, so a wrong, stale or mis-scoped token fails exactly as on Azure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo

COGNITIVE_SERVICES_AUDIENCE = "https://cognitiveservices.azure.com"
COGNITIVE_SERVICES_SCOPE = f"{COGNITIVE_SERVICES_AUDIENCE}/.default"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint_token(key: str, *, audience: str, expires_on: int, subject: str = "replay-user") -> str:
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"aud": audience, "exp": expires_on, "iss": "replay-server", "sub": subject}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def token_is_valid(
    token: str, key: str, now: float, *, audience: str = COGNITIVE_SERVICES_AUDIENCE
) -> bool:
    """True for a token minted with ``key``, for ``audience``, not expired at ``now``."""
    try:
        head, body, signature = token.split(".")
        expected = hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(signature)):
            return False
        claims: dict[str, Any] = json.loads(_unb64(body))
    except (ValueError, json.JSONDecodeError):
        return False
    if not isinstance(claims, dict):
        return False
    claimed = claims.get("aud")
    expires = claims.get("exp")
    if not isinstance(claimed, str) or isinstance(expires, bool):
        return False
    if not isinstance(expires, (int, float)) or not math.isfinite(expires):
        return False
    return claimed.rstrip("/") == audience.rstrip("/") and expires > now


def key_is_valid(presented: str, key: str) -> bool:
    return hmac.compare_digest(presented.encode(), key.encode())


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
