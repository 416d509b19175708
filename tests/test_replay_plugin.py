"""The replay server as a pytest plugin (helpers.replay.pytest_plugin), run in pytester projects:
a recorded answer served, a miss failing with the server's diff first, the unused-recordings
report and ``--replay-fail-on-unused``, record-missing against a local fake upstream; and the
README's example, block for block."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import threading
import venv
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpcore2
import pytest
import yaml

pytest_plugins = ["pytester"]

PRELOADED = httpcore2
"""httpx2 imports httpcore2 lazily, at its first request. Were that first request made inside an
in-process pytester run, pytester would drop the module afterwards, and httpx2 would keep
mapping the old module's exception classes: a later test's refused connection would escape as
``httpcore2.ConnectError`` instead of the SDK's ``APIConnectionError``. Imported here, it stays."""

QUIET = ("-p", "no:cacheprovider", "-p", "no:asyncio")
"""In-process runs load neither the cache nor pytest-asyncio: a reader's project has only this
package (and pytest), and the dev venv's pytest-asyncio would warn about its own settings."""

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Use the replay server in your own tests"

HEADER = "format: cookbook-recordings/2\nprovenance: curated\ninteractions:\n"


def interaction(name: str, prompt: str, answer: str) -> str:
    """One curated chat completion on gpt-5.4-mini, as a recordings file's YAML entry."""
    return f"""\
- name: {name}
  request:
    method: POST
    path: /openai/deployments/gpt-5.4-mini/chat/completions
    body:
      model: gpt-5.4-mini
      messages:
      - {{role: user, content: {prompt}}}
  response:
    status: 200
    body:
      id: chatcmpl-{name}
      object: chat.completion
      created: 1795478400
      model: gpt-5.4-mini-2026-03-17
      choices:
      - index: 0
        finish_reason: stop
        message: {{role: assistant, content: {answer}}}
      usage: {{prompt_tokens: 9, completion_tokens: 5, total_tokens: 14}}
"""


FAREWELL = interaction("farewell", "Say goodbye.", "Goodbye from the recording.")
RECORDINGS = HEADER + interaction("greeting", "Say hello.", "Hello from the recording.") + FAREWELL

ASK = """\
def ask(client, text):
    reply = client.chat.completions.create(
        model="gpt-5.4-mini", messages=[{"role": "user", "content": text}]
    )
    return reply.choices[0].message.content
"""

TESTS = """\
import asyncio

from chat import ask


def test_azure_surface(replay):
    assert replay.endpoint.startswith("http://127.0.0.1:")
    assert ask(replay.azure, "Say hello.") == "Hello from the recording."


def test_v1_surface_and_async(replay):
    assert ask(replay.openai, "Say hello.") == "Hello from the recording."

    async def both():
        for client in (replay.async_azure, replay.async_openai):
            reply = await client.chat.completions.create(
                model="gpt-5.4-mini", messages=[{"role": "user", "content": "Say hello."}]
            )
            assert reply.choices[0].message.content == "Hello from the recording."

    asyncio.run(both())
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_app=TESTS, chat=ASK)
    (pytester.path / "recordings").mkdir()
    (pytester.path / "recordings" / "test_app.yaml").write_text(RECORDINGS)
    return pytester


def test_the_fixture_serves_recorded_answers_on_both_surfaces_sync_and_async(
    project: pytest.Pytester,
) -> None:
    result = project.runpytest(*QUIET)
    result.assert_outcomes(passed=2)


def test_a_miss_fails_the_test_with_the_servers_diff_first(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_app="""
def test_miss(replay):
    replay.azure.chat.completions.create(
        model="gpt-5.4-mini", messages=[{"role": "user", "content": "Say hullo."}]
    )
"""
    )
    result = project.runpytest(*QUIET)
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    failure = text[text.index("test_miss") :]
    result.stdout.fnmatch_lines(
        ["*Replay miss*", "*Missing recording*", "*Most similar recorded request*", "*hullo*"]
    )
    assert failure.index("Replay miss") < failure.index("BadRequestError")


def test_the_report_lists_the_recordings_no_test_used(project: pytest.Pytester) -> None:
    result = project.runpytest(*QUIET)
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["*replay: recordings no test used*", "*test_app.yaml #1 (farewell): POST *"]
    )
    assert "#0 (greeting)" not in result.stdout.str()


def test_fail_on_unused_fails_the_run_and_passes_when_all_are_used(
    project: pytest.Pytester,
) -> None:
    result = project.runpytest(*QUIET, "--replay-fail-on-unused")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    project.makepyfile(
        test_more="""
from chat import ask

def test_farewell(replay):
    assert ask(replay.azure, "Say goodbye.") == "Goodbye from the recording."
"""
    )
    (project.path / "recordings" / "test_more.yaml").write_text(HEADER + FAREWELL)
    # test_app.yaml's farewell is still unused; test_more.yaml's only entry is used.
    result = project.runpytest(*QUIET, "--replay-fail-on-unused", "test_more.py")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    assert "recordings no test used" not in result.stdout.str()


def test_lenient_mode_answers_a_miss(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_app="""
def test_miss(replay):
    reply = replay.azure.chat.completions.create(
        model="gpt-5.4-mini", messages=[{"role": "user", "content": "Say hullo."}]
    )
    assert reply.choices[0].message.content
"""
    )
    result = project.runpytest(*QUIET, "--replay-mode=lenient")
    result.assert_outcomes(passed=1)


class _FakeAzure(BaseHTTPRequestHandler):
    """An upstream that answers every chat completion, echoing its host and the caller's key."""

    seen: ClassVar[list[tuple[str, str, dict[str, Any]]]] = []
    """(path, api-key header, body) of each request; a bearer token counts as the key."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        key = self.headers.get("api-key") or self.headers.get("authorization") or ""
        _FakeAzure.seen.append((self.path, key.removeprefix("Bearer "), body))
        host = self.headers["host"]
        answer = {
            "id": "chatcmpl-upstream",
            "object": "chat.completion",
            "created": 1795478400,
            "model": "gpt-5.4-mini-2026-03-17",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant",
                "content": f"Live from https://{host}/ (key {self.headers.get('api-key')}).",
            }}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14},
        }  # fmt: skip
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeAzure)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeAzure.seen = []
    url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", SECRET)
    yield url
    server.shutdown()
    server.server_close()


SECRET = "upstream-secret-key-0123456789"


def test_record_missing_forwards_and_appends_only_the_unmatched_request_scrubbed(
    project: pytest.Pytester, upstream: str
) -> None:
    project.makepyfile(
        test_app="""
from chat import ask

def test_both(replay):
    assert ask(replay.azure, "Say hello.") == "Hello from the recording."
    assert ask(replay.azure, "Say hullo.").startswith("Live from")
""",
    )
    result = project.runpytest(*QUIET, "--replay-mode=record-missing")
    result.assert_outcomes(passed=1)
    assert [(path, key, body["messages"]) for path, key, body in _FakeAzure.seen] == [
        (
            "/openai/deployments/gpt-5.4-mini/chat/completions?api-version=2025-04-01-preview",
            SECRET,
            [{"role": "user", "content": "Say hullo."}],
        )
    ]
    text = (project.path / "recordings" / "test_app.yaml").read_text()
    interactions = yaml.safe_load(text)["interactions"]
    assert [i["request"]["body"]["messages"][0]["content"] for i in interactions] == [
        "Say hello.",
        "Say goodbye.",
        "Say hullo.",
    ]
    assert "Live from" in text
    host = upstream.removeprefix("http://")
    assert SECRET not in text and host not in text and "127.0.0.1" not in text
    # The next run replays it: no request reaches the upstream.
    _FakeAzure.seen = []
    project.runpytest(*QUIET).assert_outcomes(passed=1)
    assert _FakeAzure.seen == []


def readme_blocks() -> dict[str, str]:
    """The README section's named code blocks: ```lang title="NAME" ... ```."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r'```\w+ title="([^"]+)"\n(.*?)```', section, flags=re.S)
    return dict(blocks)


def test_the_readme_example_passes_as_written(pytester: pytest.Pytester) -> None:
    blocks = readme_blocks()
    assert set(blocks) == {"app.py", "test_app.py", "recordings/test_app.yaml", "run"}
    assert len(blocks["app.py"].splitlines()) <= 15  # the issue asks for a 15-line application
    for name in ("app.py", "test_app.py", "recordings/test_app.yaml"):
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(blocks[name], encoding="utf-8")
    command = blocks["run"].split()
    assert command[0] == "pytest"
    result = pytester.runpytest(*QUIET, *command[1:])
    result.assert_outcomes(passed=1)
    assert "recordings no test used" not in result.stdout.str()


THANKS = interaction("thanks", "Say thanks.", "Thanks from the recording.")

SPLIT = """\
import os

import pytest

from chat import ask


def _worker(name):
    with open(f"worker-{name}", "w") as out:
        out.write(os.environ.get("PYTEST_XDIST_WORKER", "main"))


@pytest.mark.xdist_group("a")
def test_hello(replay):
    _worker("hello")
    assert ask(replay.azure, "Say hello.") == "Hello from the recording."


@pytest.mark.xdist_group("b")
def test_goodbye(replay):
    _worker("goodbye")
    assert ask(replay.azure, "Say goodbye.") == "Goodbye from the recording."
"""


def test_the_unused_report_is_right_under_xdist_when_a_module_is_split_across_workers(
    project: pytest.Pytester,
) -> None:
    """Each worker serves one of the module's interactions: only the third, which no worker
    served, is unused (a report per worker would list greeting and farewell too)."""
    project.makepyfile(test_app=SPLIT)
    (project.path / "recordings" / "test_app.yaml").write_text(RECORDINGS + THANKS)
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup", "--replay-fail-on-unused"
    )
    result.assert_outcomes(passed=2)
    workers = {(project.path / f"worker-{n}").read_text() for n in ("hello", "goodbye")}
    assert workers == {"gw0", "gw1"}, "the two tests must run on different workers"
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    text = result.stdout.str()
    report = text[text.index("replay: recordings no test used") :]
    assert "recordings/test_app.yaml #2 (thanks): POST" in report
    assert "greeting" not in report and "farewell" not in report


def test_record_mode_forwards_everything_and_replaces_the_file(
    project: pytest.Pytester, upstream: str
) -> None:
    project.makepyfile(
        test_app="""
from chat import ask

def test_one(replay):
    assert ask(replay.azure, "Say hullo.").startswith("Live from")
""",
    )
    result = project.runpytest(*QUIET, "--replay-mode=record")
    result.assert_outcomes(passed=1)
    assert [body["messages"][0]["content"] for _, _, body in _FakeAzure.seen] == ["Say hullo."]
    recordings = project.path / "recordings"
    assert sorted(p.name for p in recordings.iterdir()) == ["test_app.yaml"]
    text = (recordings / "test_app.yaml").read_text()
    document = yaml.safe_load(text)
    assert document["provenance"] == "recorded"
    # Only what this run sent: greeting and farewell, recorded before, are gone.
    assert [i["request"]["body"]["messages"] for i in document["interactions"]] == [
        [{"role": "user", "content": "Say hullo."}]
    ]
    host = upstream.removeprefix("http://")
    assert SECRET not in text and host not in text and "127.0.0.1" not in text
    assert "recordings no test used" not in result.stdout.str()
    # And it replays offline.
    _FakeAzure.seen = []
    project.runpytest(*QUIET).assert_outcomes(passed=1)
    assert _FakeAzure.seen == []


def test_live_mode_talks_to_the_endpoint_itself_and_writes_nothing(
    project: pytest.Pytester, upstream: str
) -> None:
    project.makepyfile(
        test_app=f"""
from chat import ask

def test_live(replay):
    assert replay.live and replay.server is None
    assert replay.endpoint == "{upstream}"
    assert ask(replay.azure, "Say hello.").startswith("Live from")
    assert ask(replay.openai, "Say hello.").startswith("Live from")
""",
    )
    before = (project.path / "recordings" / "test_app.yaml").read_text()
    result = project.runpytest(*QUIET, "--replay-mode=live")
    result.assert_outcomes(passed=1)
    assert [(path, key) for path, key, _ in _FakeAzure.seen] == [
        (
            "/openai/deployments/gpt-5.4-mini/chat/completions?api-version=2025-04-01-preview",
            SECRET,
        ),
        ("/openai/v1/chat/completions", SECRET),
    ]
    assert (project.path / "recordings" / "test_app.yaml").read_text() == before
    assert "recordings no test used" not in result.stdout.str()


# --- The README's example against this project's wheel, not the editable install -------------
# Slow-ish (a wheel build and a venv, about 10 s): it is the acceptance "copied into a new
# folder with only this package installed". The venv has no pip and no editable finder: its
# site-packages holds the wheel, installed by pip, and a .pth line that puts the dev venv's
# site-packages after it for the dependencies (a .pth in a path added that way is not run, so
# the editable install's finder never loads and `helpers` can only come from the wheel).

WHEEL_SOURCES = ("pyproject.toml", "README.md", "helpers")


def _build_wheel(tmp: Path) -> Path:
    """This project's wheel, built offline (no index, no build isolation) from a copy."""
    source = tmp / "source"
    source.mkdir()
    for name in WHEEL_SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(ROOT / name, source / name)
    out = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--wheel-dir", str(out), str(source)],
        check=True, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )  # fmt: skip
    (wheel,) = out.glob("azure_openai_cookbook-*.whl")
    return wheel


def _venv_with(wheel: Path, where: Path) -> Path:
    """A venv with the wheel installed (not editable) and the dev venv's dependencies."""
    venv.create(where, with_pip=False)
    python = where / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--target", purelib, str(wheel)],
        check=True, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )  # fmt: skip
    dev = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    Path(purelib, "dev-dependencies.pth").write_text("".join(f"{d}\n" for d in dev))
    return python


def test_the_wheel_carries_the_plugin_its_data_and_its_entry_point(tmp_path: Path) -> None:
    """Slow (a wheel build and a venv): the README's files in an empty folder, `pytest` run
    there by a Python that has this project only as the installed wheel."""
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_text = archive.read(entry_points).decode()
    assert {"helpers/py.typed", "helpers/data/models.yaml", "helpers/data/pricing.yaml"} <= names
    assert "helpers/replay/pytest_plugin.py" in names
    assert "[pytest11]\nreplay = helpers.replay.pytest_plugin" in entry_text
    assert not any(n.startswith(("tests/", "notebooks/")) for n in names)

    python = _venv_with(wheel, tmp_path / "venv")
    folder = tmp_path / "reader"
    for name, text in readme_blocks().items():
        if name != "run":
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTEST_ADDOPTS"}}
    where = subprocess.run(
        [python, "-c", "import helpers.replay.pytest_plugin as p; print(p.__file__)"],
        cwd=folder, env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert Path(where.strip()).is_relative_to(tmp_path / "venv"), where
    command = readme_blocks()["run"].split()
    assert command[0] == "pytest"
    done = subprocess.run(
        [python, "-m", "pytest", "-p", "no:cacheprovider", *command[1:]],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_live_mode_without_a_key_signs_in_with_entra_id_on_every_client() -> None:
    """No key: each client carries a token callable (nothing is fetched until a request)."""
    from helpers.replay.pytest_plugin import Replay

    replay = Replay(server=None, recordings=Path("r.yaml"), live_endpoint="https://x.invalid/")
    assert replay.live and replay.endpoint == "https://x.invalid" and replay.api_key == ""
    assert callable(replay.azure._azure_ad_token_provider)
    assert callable(replay.async_azure._azure_ad_token_provider)
    assert callable(replay.openai._api_key_provider)
    assert callable(replay.async_openai._api_key_provider)
