"""make test-live's verdicts and the CI workflow, checked with no Azure resource at all."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx2
import nbformat
import openai
import pytest
import yaml
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from conftest import StartServer, chat_params, sync_client

from helpers._support.live import Outcome, check_notebook, classify, report_markdown

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
REQUEST = httpx2.Request("POST", "https://example.openai.azure.com/openai/deployments/x/chat")


def status_error(cls: type[openai.APIStatusError], status: int, code: str) -> Exception:
    """An SDK exception as the SDK builds it from Azure's answer (body = the "error" object)."""
    body = {"code": code, "message": f"{code} from Azure"}
    response = httpx2.Response(status, request=REQUEST, json={"error": body})
    return cls(f"Error code: {status} - {body}", response=response, body=body)


@pytest.mark.parametrize(
    ("exc", "verdict"),
    [
        (status_error(openai.RateLimitError, 429, "429"), "infra-error"),
        (status_error(openai.NotFoundError, 404, "DeploymentNotFound"), "infra-error"),
        (status_error(openai.AuthenticationError, 401, "401"), "infra-error"),
        (status_error(openai.PermissionDeniedError, 403, "PermissionDenied"), "infra-error"),
        (openai.APIConnectionError(request=REQUEST), "infra-error"),
        (openai.APITimeoutError(request=REQUEST), "infra-error"),
        (ClientAuthenticationError("no az login"), "infra-error"),
        (ServiceRequestError("search service unreachable"), "infra-error"),
        # The cookbook's own fault: Azure answered, and not as the recordings say.
        (status_error(openai.BadRequestError, 400, "unsupported_parameter"), "fail"),
        (status_error(openai.NotFoundError, 404, "404"), "fail"),
        (AssertionError("the table has 3 rows, not 4"), "fail"),
        (KeyError("usage"), "fail"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else v,
)
def test_the_classifier_on_real_sdk_exceptions(exc: Exception, verdict: str) -> None:
    assert classify(exc)[0] == verdict


def test_a_deployment_the_resource_lacks_is_infra_as_the_sdk_raises_it(
    start_server: StartServer,
) -> None:
    """The SDK's own exception from Azure's wire shape (the replay server's 404)."""
    client = sync_client(start_server("replay_server.yaml"), max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(**chat_params("gpt-5-nowhere", "hi"))
    assert caught.value.code == "DeploymentNotFound"
    assert classify(caught.value) == (
        "infra-error",
        "not deployed on this resource (404 DeploymentNotFound)",
    )


def test_a_wrapped_rate_limit_is_still_infra() -> None:
    try:
        try:
            raise status_error(openai.RateLimitError, 429, "429")
        except openai.RateLimitError as inner:
            raise RuntimeError("gave up after 5 attempts") from inner
    except RuntimeError as outer:
        assert classify(outer) == ("infra-error", "quota exhausted (429)")


def test_the_report_names_the_recording_to_rerecord() -> None:
    chat = "tests/live/test_live_chat.py::test_x"
    outcomes = [
        Outcome("01_authentication", "pass", "ran on Azure"),
        Outcome("02_function_calling", "fail", "BadRequestError: tools"),
        Outcome("06_batch_processing", "infra-error", "quota exhausted (429)"),
        Outcome(chat, "fail", "AssertionError: no prompt_filter_results", kind="sdk"),
        Outcome("tests/live/test_live_responses.py::test_y", "pass", "ran on Azure", kind="sdk"),
    ]
    text = report_markdown(outcomes, "https://res.openai.azure.com/x?k=1", dt.date(2026, 12, 6))
    assert text.startswith("# Live check, 2026-12-06")
    assert "2 pass, 2 fail, 1 infra-error" in text and "`https://res.openai.azure.com`" in text
    assert "make record NOTEBOOK=02_function_calling" in text
    assert "`notebooks/recordings/02_function_calling.yaml`" in text
    assert "make record NOTEBOOK=01" not in text and "make record NOTEBOOK=06" not in text
    assert f"- `{chat}`: its recordings `tests/live/recordings/test_live_chat.yaml`" in text
    assert "make record TEST=tests/live/test_live_chat.py" in text
    assert "test_live_responses.yaml" not in text


def _live(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helpers._support.live", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_credentials_it_skips_and_exits_0(tmp_path: Path) -> None:
    done = _live({"AZURE_OPENAI_ENDPOINT": ""}, "--report-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "skipped" in done.stdout and "AZURE_OPENAI_ENDPOINT is not set" in done.stdout
    assert not list(tmp_path.iterdir())


def test_a_bad_endpoint_is_an_infra_error_not_a_fail(tmp_path: Path) -> None:
    """A notebook's own first call to an endpoint nothing listens on (port 9, loopback)."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            'from helpers import connect\nazure = connect("01_authentication")'
        ),
        nbformat.v4.new_code_cell(
            "azure.client.with_options(max_retries=0).chat.completions.create(\n"
            '    model=azure.chat_deployment, messages=[{"role": "user", "content": "hi"}])'
        ),
    ]
    path = tmp_path / "01_authentication.ipynb"
    nbformat.write(notebook, path)
    env = {"AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9", "AZURE_OPENAI_API_KEY": "not-a-key"}
    outcome = check_notebook(path, env=env)
    assert outcome.verdict == "infra-error", outcome
    assert outcome.reason.startswith("network")


ACTIONLINT = shutil.which("actionlint", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(ACTIONLINT is None, reason="actionlint is in the dev extra (make install)")
def test_the_workflow_passes_actionlint_and_actionlint_catches_a_broken_one(
    tmp_path: Path,
) -> None:
    assert ACTIONLINT
    done = subprocess.run([ACTIONLINT, str(WORKFLOW)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / ".github" / "workflows" / "ci.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        WORKFLOW.read_text(encoding="utf-8").replace("${{ matrix.python }}", "${{ matrix.py }}")
    )
    done = subprocess.run([ACTIONLINT, str(broken)], capture_output=True, text=True)
    assert done.returncode == 1 and "matrix" in done.stdout


def test_the_workflow_runs_the_ci_script_on_three_pythons_and_the_live_check_weekly() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    jobs = workflow["jobs"]
    assert jobs["test"]["strategy"]["matrix"]["python"] == ["3.11", "3.12", "3.13"]
    assert any(step.get("run") == "bash .ci/run" for step in jobs["test"]["steps"])
    assert "make test-live" in str(jobs["live"]) and "schedule" in str(jobs["live"]["if"])
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert {"push", "pull_request", "schedule"} <= set(triggers)


# --- The SDK-level checks (tests/live/), judged the same way -------------------------------

LIVE_TESTS = ROOT / "tests" / "live"
LIVE_RECORDINGS = LIVE_TESTS / "recordings"
CHAT_CHECK = (
    "tests/live/test_live_chat.py::"
    "test_a_chat_completion_carries_azures_filter_annotations_and_usage_that_adds_up"
)


def _report(folder: Path) -> str:
    (report,) = folder.glob("live-report-*.md")
    return report.read_text(encoding="utf-8")


def _rows(report: str) -> dict[str, str]:
    """The report's table: check -> verdict."""
    rows = [line.split(" | ") for line in report.splitlines() if line.startswith("| tests/")]
    return {row[0].removeprefix("| "): row[2] for row in rows}


def test_the_sdk_checks_are_the_live_folder_and_replay_offline() -> None:
    """What make test-live runs besides the notebooks, each with its recordings file."""
    modules = sorted(p.name for p in LIVE_TESTS.glob("test_*.py"))
    assert modules == ["test_live_chat.py", "test_live_responses.py"]
    for module in modules:
        assert (LIVE_RECORDINGS / module.replace(".py", ".yaml")).is_file()


@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1:9", "https://cookbook-drift-check.invalid/"],
    ids=["nothing-listens", "unresolvable"],
)
def test_a_bad_endpoint_makes_every_sdk_check_an_infra_error(tmp_path: Path, endpoint: str) -> None:
    """Loopback port 9, where nothing listens, and a host under .invalid, which no resolver
    resolves (RFC 2606): neither needs the internet."""
    env = {"AZURE_OPENAI_ENDPOINT": endpoint, "AZURE_OPENAI_API_KEY": "not-a-key"}
    done = _live(env, "--checks", "sdk", "--report-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _rows(_report(tmp_path))
    assert len(rows) == 3 and set(rows.values()) == {"infra-error"}, rows
    assert "network" in done.stdout and "fail " not in done.stdout


def _changed_chat_recordings(tmp_path: Path) -> Path:
    """tests/live's chat recordings where Azure answered the first check with finish_reason
    length: what a changed model would do, and what the check must catch."""
    text = (LIVE_RECORDINGS / "test_live_chat.yaml").read_text(encoding="utf-8")
    changed = text.replace("finish_reason: stop", "finish_reason: length", 1)
    assert changed != text
    path = tmp_path / "changed" / "test_live_chat.yaml"
    path.parent.mkdir()
    path.write_text(changed, encoding="utf-8")
    return path


def test_a_genuine_mismatch_fails_and_names_the_recording_to_rerecord(
    tmp_path: Path, start_server: StartServer
) -> None:
    """The replay server plays the live resource, with one answer changed: that check fails,
    the others pass, and the report names its recordings and the command to refresh them."""
    azure = start_server(
        _changed_chat_recordings(tmp_path), LIVE_RECORDINGS / "test_live_responses.yaml"
    )
    env = {
        "AZURE_OPENAI_ENDPOINT": azure.url,
        "AZURE_OPENAI_API_KEY": azure.api_key,
        "AZURE_OPENAI_CHAT_DEPLOYMENT": "gpt-5.4-mini",
    }
    done = _live(env, "--checks", "sdk", "--report-dir", str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    report = _report(tmp_path)
    rows = _rows(report)
    assert rows.pop(CHAT_CHECK) == "fail", report
    assert len(rows) == 2 and set(rows.values()) == {"pass"}, report
    assert "AssertionError: finish_reason length" in report  # the check's message, as the reason
    assert (
        f"- `{CHAT_CHECK}`: its recordings `tests/live/recordings/test_live_chat.yaml` no "
        "longer match Azure; re-record with `make record TEST=tests/live/test_live_chat.py`"
    ) in report


def test_a_notebook_that_azure_answers_differently_fails_and_names_make_record(
    tmp_path: Path, start_server: StartServer
) -> None:
    """A notebook's own assertion about Azure's answer, on the replay server playing a
    resource whose answer changed: fail, not infra-error, and `make record NOTEBOOK=...`."""
    changed = _changed_chat_recordings(tmp_path)
    # The notebooks' clients send api-version 2025-04-01-preview: any version matches.
    changed.write_text(changed.read_text().replace("    api_version: 2025-04-01-preview\n", ""))
    azure = start_server(changed)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            'from helpers import connect\nazure = connect("01_authentication")'
        ),
        nbformat.v4.new_code_cell(
            "reply = azure.client.with_options(max_retries=0).chat.completions.create(\n"
            "    model=azure.chat_deployment,\n"
            '    messages=[{"role": "user", "content": "Reply with the one word: ready"}])\n'
            'assert reply.choices[0].finish_reason == "stop", reply.choices[0].finish_reason'
        ),
    ]
    path = tmp_path / "01_authentication.ipynb"
    nbformat.write(notebook, path)
    env = {"AZURE_OPENAI_ENDPOINT": azure.url, "AZURE_OPENAI_API_KEY": azure.api_key}
    outcome = check_notebook(path, env=env)
    assert (outcome.verdict, outcome.reason) == ("fail", "AssertionError: length"), outcome
    report = report_markdown([outcome], azure.url, dt.date(2026, 12, 6))
    assert "re-record with `make record NOTEBOOK=01_authentication`" in report


def test_make_record_test_replaces_a_modules_recordings_with_the_resources_answers(
    tmp_path: Path, start_server: StartServer
) -> None:
    """`make record TEST=...` on a copy of a module, the replay server playing the resource:
    the module's file is replaced by what it answered, scrubbed, and replays offline."""
    folder = tmp_path / "live"
    (folder / "recordings").mkdir(parents=True)
    shutil.copy2(ROOT / "tests" / "conftest.py", folder / "conftest.py")  # chat_deployment
    shutil.copy2(LIVE_TESTS / "test_live_responses.py", folder / "test_live_responses.py")
    target = folder / "recordings" / "test_live_responses.yaml"
    target.write_text("format: cookbook-recordings/2\nprovenance: curated\ninteractions: []\n")
    azure = start_server(LIVE_RECORDINGS / "test_live_responses.yaml")
    env = {"AZURE_OPENAI_ENDPOINT": azure.url, "AZURE_OPENAI_API_KEY": azure.api_key}
    done = _live(env, "--record", str(folder / "test_live_responses.py"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"recorded {target.as_posix()}" in done.stdout
    text = target.read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    assert document["provenance"] == "recorded"
    (interaction,) = document["interactions"]
    assert interaction["request"]["body"]["input"] == "Reply with the one word: ready"
    assert interaction["response"]["body"]["status"] == "completed"
    assert azure.api_key not in text and f":{azure.port}" not in text
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
