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
    outcomes = [
        Outcome("01_authentication", "pass", "ran on Azure"),
        Outcome("02_function_calling", "fail", "BadRequestError: tools"),
        Outcome("06_batch_processing", "infra-error", "quota exhausted (429)"),
    ]
    text = report_markdown(outcomes, "https://res.openai.azure.com/x?k=1", dt.date(2026, 12, 6))
    assert text.startswith("# Live check, 2026-12-06")
    assert "1 pass, 1 fail, 1 infra-error" in text and "`https://res.openai.azure.com`" in text
    assert "make record NOTEBOOK=02_function_calling" in text
    assert "make record NOTEBOOK=01" not in text and "make record NOTEBOOK=06" not in text


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
    import yaml

    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    jobs = workflow["jobs"]
    assert jobs["test"]["strategy"]["matrix"]["python"] == ["3.11", "3.12", "3.13"]
    assert any(step.get("run") == "bash .ci/run" for step in jobs["test"]["steps"])
    assert "make test-live" in str(jobs["live"]) and "schedule" in str(jobs["live"]["if"])
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert {"push", "pull_request", "schedule"} <= set(triggers)
