"""The SDK-level live checks: tests of what the cookbook relies on Azure OpenAI to do, through
the official SDK and the replay plugin's ``replay`` fixture.

Offline (``make test``, ``.ci/run``) they replay ``tests/live/recordings/<module>.yaml``;
``make test-live`` runs them with ``--replay-mode=live`` against the resource in ``.env``,
where a failure means the recordings no longer describe Azure (``helpers._support.live``).
They assert what Azure must do, never wording a live model may vary.
"""

from __future__ import annotations

import pytest

from helpers._support.settings import Settings
from helpers.replay.pytest_plugin import Replay

RECORDED_DEPLOYMENT = "gpt-5.4-mini"
"""The chat deployment the recordings name (the cookbook's default)."""


@pytest.fixture
def chat_deployment(replay: Replay) -> str:
    """The recordings' deployment offline; live, the one ``.env`` names."""
    return Settings.from_env().chat_deployment if replay.live else RECORDED_DEPLOYMENT
