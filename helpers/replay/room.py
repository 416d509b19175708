"""A classroom's replay server: one server, a key per learner, a state per key.

``make room-keys N=30`` prints each learner's key; ``make serve-room N=30 ROOM_HOST=...``
serves them. The keys are derived from a room secret (``.room/secret``, made once, 32
random bytes, git-ignored), so the instructor can print the same table again at any time::

    learner 7's key = "room-07-" + HMAC-SHA256(secret, "learner 7")[:16 hex digits]

The server accepts those keys and no other (the default ``local-replay-key`` is refused).
Each key has a whole :class:`~helpers.replay.state.ReplayState` of its own: uploaded files,
vector stores, stored responses, batches, search indexes, the prompt cache, rate-limit
counts and the recordings' replay position. The one ``authenticate`` step of the pipeline
chooses it (:func:`helpers.replay.pipeline.authenticate`), so a learner cannot reach another
learner's objects by any route: an id from another key is a 404, as on another resource.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from .config import project_root

DEFAULT_SECRET = project_root() / ".room" / "secret"
"""Where ``make room-keys`` and ``make serve-room`` keep the room's secret."""

KEY_DIGITS = 16
"""Hex digits of a key after its ``room-NN-`` prefix: 64 bits, short enough to type."""


def read_secret(path: Path = DEFAULT_SECRET) -> bytes:
    """The room's secret, made (readable by its owner only) the first time it is asked for."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(secrets.token_hex(32) + "\n")
    text = path.read_text(encoding="ascii").strip()
    if len(text) < 32:
        raise ValueError(f"{path}: a room secret is at least 32 characters; delete it to renew")
    return text.encode("ascii")


def learner_key(secret: bytes, learner: int) -> str:
    """Learner ``learner``'s key (numbered from 1): the same for the same secret, always."""
    if learner < 1:
        raise ValueError("learners are numbered from 1")
    digest = hmac.new(secret, f"learner {learner}".encode(), hashlib.sha256).hexdigest()
    return f"room-{learner:02d}-{digest[:KEY_DIGITS]}"


def room_keys(secret: bytes, learners: int) -> tuple[str, ...]:
    """The keys of learners 1 to ``learners``, in order."""
    return tuple(learner_key(secret, n) for n in range(1, learners + 1))


def key_table(keys: tuple[str, ...]) -> str:
    """The keys as a Markdown table an instructor can print or project."""
    rows = [f"| {n} | `{key}` |" for n, key in enumerate(keys, start=1)]
    return "\n".join(["| learner | REPLAY_API_KEY |", "|---|---|", *rows])


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.replay.room N``: print the room's key table."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.replay.room", description="Print each learner's replay key."
    )
    parser.add_argument("learners", type=int, help="how many learners (keys 1..N)")
    parser.add_argument("--secret", type=Path, default=DEFAULT_SECRET, help="the room secret")
    args = parser.parse_args(argv)
    if args.learners < 1:
        parser.error("a room has at least one learner")
    print(key_table(room_keys(read_secret(args.secret), args.learners)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
