"""The Batch API: create, retrieve, cancel and list batch jobs, on both API surfaces.

``POST /openai/batches`` (dated ``api-version``) and ``POST /openai/v1/batches`` take
``{"input_file_id", "endpoint", "completion_window": "24h"}``; the input file is a
JSONL file uploaded with purpose ``batch`` (:mod:`..files.operations`). Each line is
``{"custom_id", "method": "POST", "url": "/chat/completions", "body": {...}}`` whose
``model`` names a Global-Batch deployment (``Deployment.batch``).

Each line is answered as the same request sent directly would be, by the same answer
step (:mod:`helpers.replay.answer`): from the recordings first (looked up as
``POST /openai/v1{url}``, so one recording serves online requests on both surfaces and
batch lines), else validated and held to Azure's limits (Azure's 400 lands in the error
file) and simulated in lenient mode, else, in replay mode, an error line that explains
the miss. Lines are answered when the job is created; the status then moves on the
server's clock (:mod:`helpers.replay.services.batches.jobs`, timings in
``ReplayConfig.batches``). Batch lines do not draw on the online deployments' quota.

A job fails validation (status ``failed``, ``errors.data`` on the batch, no output or
error file) when the file cannot be a batch at all: not purpose ``batch``, empty, no line
readable as JSON, more than 100,000 lines, or not one Global-Batch deployment. Azure runs
one input file on one deployment ("For a given input file, all names must be the same
deployment name"), so a line naming another deployment than the first line is
``model_mismatch`` (with its ``line``), a deployment that does not exist is
``model_not_found`` and one that is not of sku ``globalbatch`` is ``invalid_request``.
Where the server differs from Azure, on purpose: a line that is malformed on its own (not
JSON, no ``custom_id``, another ``url``, a duplicate ``custom_id``, no ``body`` or
``model``) becomes an error line with Azure's documented code (``invalid_json_line``,
``url_mismatch``, ``duplicate_custom_id``, ``invalid_request``) instead of failing the
whole job at validation, so a notebook can show the error file. Sources: Microsoft Learn,
"Getting started with Azure OpenAI batch deployments" (how-to/batch: batch object,
statuses, the tip on deployment names, error codes, output line) and the
2024-10-01-preview authoring spec (``Batch_Create`` answers 201).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from ... import azure
from ...answer import answer, body_of
from ...config import Deployment
from ...context import Reply, RequestContext
from ...errors import (
    AzureError,
    ReplayError,
    internal_error,
    invalid_request,
    object_not_found,
)
from ...state import ReplayState
from ...validation import body_object, check_metadata, missing_parameter, type_error
from ..base import BodyKind, Endpoint, Operation, StateOperation, on_both_surfaces
from ..files.operations import FilesStore, StoredFile, new_file_id
from ..files.operations import not_found as file_not_found
from ..inference.operations import CHAT
from ..paging import Paging, cursor_page
from ..responses.operations import CREATE
from .jobs import TERMINAL, BatchesStore, BatchJob, LineResult, jsonl

ENDPOINTS = {"/chat/completions": "/chat/completions", "/responses": "/responses"}
"""Endpoints a batch can run, by the name a request may give them (``/v1/...`` too)."""
LINE_OPERATIONS: dict[str, Operation] = {"/chat/completions": CHAT, "/responses": CREATE}
"""The operation that answers a line, by the batch's endpoint."""
PAGING = Paging(takes_order=False)
"""Batches are listed newest first, 20 a page by default, at most 100 (``Batch_List`` in
Azure's 2024-10-01-preview authoring spec: "Defaults to 20"; OpenAI's API reference: "Limit
can range between 1 and 100")."""
MAX_LINES = 100_000
"""Azure's limit on requests per batch file (``too_many_tasks``)."""
COMPLETION_WINDOWS = ("24h",)


def normalise_endpoint(url: Any) -> str | None:
    """``/chat/completions`` for ``/chat/completions`` or ``/v1/chat/completions``."""
    if not isinstance(url, str):
        return None
    path = url.split("?")[0]
    if path.startswith("/v1/"):
        path = path[3:]
    return ENDPOINTS.get(path)


def batch_not_found(batch_id: str) -> AzureError:
    return object_not_found(f"Batch with id '{batch_id}' not found.")


# --- answering the lines -------------------------------------------------------------------


class _Lines:
    """Answers one input file's lines, in order, as the job's planned results."""

    def __init__(self, ctx: RequestContext, endpoint: str) -> None:
        self.ctx = ctx
        self.state = ctx.state
        self.endpoint = endpoint
        self.seen: set[str] = set()

    def error_line(
        self,
        custom_id: str | None,
        *,
        code: str,
        message: str,
        line_no: int,
    ) -> LineResult:
        """A line that was never sent: ``response`` null, ``error`` says why."""
        return LineResult(
            custom_id,
            {
                "id": f"batch_req_{self.state.ids.uuid()}",
                "custom_id": custom_id,
                "response": None,
                "error": {"code": code, "message": f"Line {line_no}: {message}"},
            },
            ok=False,
        )

    def answered(self, custom_id: str, status: int, body: Any) -> LineResult:
        """A line that got an answer: 2xx goes to the output file, the rest to the error file."""
        response = {"body": body, "request_id": self.state.ids.uuid(), "status_code": status}
        if status < 400:
            return LineResult(custom_id, {"custom_id": custom_id, "response": response,
                                          "error": None}, ok=True)  # fmt: skip
        return LineResult(
            custom_id,
            {
                "id": f"batch_req_{self.state.ids.uuid()}",
                "custom_id": custom_id,
                "response": response,
                "error": None,
            },
            ok=False,
        )

    async def answer(self, raw: str, line_no: int, runs_at: float) -> LineResult:
        """The line's fate; ``runs_at`` is when the job processes it (its status timeline)."""
        custom_id: str | None = None
        try:
            item = _parse(raw)
            custom_id = item["custom_id"]
            if custom_id in self.seen:
                raise _Reject("duplicate_custom_id", f"the custom ID '{custom_id}' is a "
                              "duplicate of the custom ID in another request.")  # fmt: skip
            self.seen.add(custom_id)
            model, deployment = self.check(item)
        except _Reject as reject:
            return self.error_line(
                custom_id, code=reject.code, message=reject.message, line_no=line_no
            )
        return await self.send(custom_id, model, deployment, item["body"], runs_at)

    def check(self, item: dict[str, Any]) -> tuple[str, Deployment]:
        """The line's deployment, after the checks Azure documents for batch lines."""
        if item.get("method", "POST") != "POST":
            raise _Reject("invalid_request", "'method' must be 'POST'.")
        if normalise_endpoint(item.get("url")) != self.endpoint:
            raise _Reject("url_mismatch", f"the url {item.get('url')!r} does not match the "
                          f"batch's endpoint '{self.endpoint}'.")  # fmt: skip
        body = item.get("body")
        if not isinstance(body, dict):
            raise _Reject("invalid_request", "missing required field 'body' (an object).")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _Reject("invalid_request", "missing required field 'model' in 'body' (the "
                          "Global-Batch deployment's name).")  # fmt: skip
        # The file names one existing Global-Batch deployment, or the job failed validation
        # (_deployment_problems) before any line was read.
        deployment = self.state.config.deployments[model]
        if body.get("stream"):
            raise _Reject("invalid_request", "streaming is not supported in batch requests.")
        return model, deployment

    async def send(
        self,
        custom_id: str,
        model: str,
        deployment: Deployment,
        body: dict[str, Any],
        runs_at: float,
    ) -> LineResult:
        """The line's answer, from the answer step every request goes through (recordings,
        validation, limits, simulation or miss), looked up as ``POST /openai/v1{url}``.

        Lines are answered when the job is created, but Azure runs them while it is
        ``in_progress``: a simulated answer is stamped with the time its line runs
        (``runs_at``), never with the job's creation. Recorded answers keep their own."""
        line = RequestContext(
            method="POST",
            path="/openai/v1" + self.endpoint,
            path_params={},
            query={},
            headers={},
            api_version=None,
            state=self.state,
            body=body,
            deployment_name=model,
            deployment=deployment,
        )
        try:
            reply = await answer(line, LINE_OPERATIONS[self.endpoint], quota=False)
        except AzureError as exc:
            return self.answered(custom_id, exc.status, exc.body)
        if reply.fault is not None:  # a recorded reset or hang mid-batch: the line failed
            failed = internal_error(self.state.ids.uuid())
            return self.answered(custom_id, failed.status, failed.body)
        answered = body_of(reply)
        if "x-replay-unrecorded" in reply.headers and isinstance(answered, dict):
            for stamp in ("created", "created_at"):
                if isinstance(answered.get(stamp), int):
                    answered[stamp] = azure.timestamp(runs_at, deployment.model)
        return self.answered(custom_id, reply.status, answered)


class _Reject(ReplayError):
    """A line the job will not send: Azure's batch error code and why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _parse(raw: str) -> dict[str, Any]:
    try:
        item = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _Reject("invalid_json_line", f"the line is not valid JSON ({exc.msg}).") from exc
    if not isinstance(item, dict):
        raise _Reject("invalid_json_line", "the line is not a JSON object.")
    if not isinstance(item.get("custom_id"), str) or not item["custom_id"]:
        raise _Reject("invalid_request", "missing required field 'custom_id' (a string).")
    return item


def _file_problem(stored: StoredFile) -> tuple[str, str] | None:
    """Why a file cannot be a batch's input (Azure's error code and message), or ``None``."""
    if stored.purpose != "batch":
        return (
            "invalid_request",
            f"The input file '{stored.id}' was uploaded with purpose '{stored.purpose}'; "
            "a batch needs a file uploaded with purpose 'batch'.",
        )
    lines = [line for line in stored.content.splitlines() if line.strip()]
    if not lines:
        return (
            "empty_file",
            "The input file is empty. Please ensure that the batch contains at least one request.",
        )
    if len(lines) > MAX_LINES:
        return (
            "too_many_tasks",
            f"The number of requests in the input file ({len(lines)}) exceeds the maximum "
            f"allowed value of {MAX_LINES}.",
        )
    readable = 0
    for line in lines:
        try:
            json.loads(line)
            readable += 1
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
    if readable == 0:
        return (
            "invalid_json_line",
            "No line of the input file could be parsed as JSON; the file must be JSON lines "
            "(one request object per line, UTF-8 without a byte-order mark).",
        )
    return None


def _models_by_line(content: bytes) -> list[tuple[int, str]]:
    """``(line number, body.model)`` of every line that names a deployment."""
    named: list[tuple[int, str]] = []
    for number, raw in enumerate(content.decode("utf-8", errors="replace").splitlines(), 1):
        try:
            item = json.loads(raw)
        except json.JSONDecodeError:
            continue
        body = item.get("body") if isinstance(item, dict) else None
        model = body.get("model") if isinstance(body, dict) else None
        if isinstance(model, str) and model:
            named.append((number, model))
    return named


def _deployment_problems(
    stored: StoredFile, deployments: Mapping[str, Deployment]
) -> list[dict[str, Any]]:
    """Why the file's lines are not one Global-Batch deployment's (the batch's ``errors``).

    Learn, "Getting started with Azure OpenAI batch deployments": "For a given input file,
    all names must be the same deployment name"; error codes ``model_mismatch`` ("doesn't
    match the rest of the file"), ``model_not_found`` and ``invalid_request`` ("the Azure
    OpenAI deployment SKU is ``globalbatch`` for batch API requests"). Each deployment is
    reported once, at the first line that names it.
    """
    named = _models_by_line(stored.content)
    if not named:
        return []
    first = named[0][1]
    problems: list[dict[str, Any]] = []
    lines_naming: dict[str, list[int]] = {}
    for number, model in named:
        lines_naming.setdefault(model, []).append(number)
    for model, numbers in lines_naming.items():
        line = numbers[0]
        more = f" (and {len(numbers) - 1} more line(s))" if len(numbers) > 1 else ""
        if model != first:
            problems.append({
                "code": "model_mismatch", "param": "model", "line": line,
                "message": f"Line {line}{more}: the deployment '{model}' named by 'model' does "
                f"not match '{first}', the deployment line {lines_naming[first][0]} names. All "
                "requests in a batch input file must name the same Global-Batch deployment.",
            })  # fmt: skip
        deployment = deployments.get(model)
        if deployment is None:
            problems.append({
                "code": "model_not_found", "param": "model", "line": line,
                "message": f"Line {line}: the deployment '{model}' named by 'model' was not "
                "found. Please ensure this name points to a valid Azure OpenAI model "
                "deployment.",
            })  # fmt: skip
        elif not deployment.batch or deployment.kind != "chat":
            problems.append({
                "code": "invalid_request", "param": "model", "line": line,
                "message": f"Line {line}: the deployment '{model}' is not a Global-Batch "
                "deployment; batch requests need a deployment of sku 'globalbatch'.",
            })  # fmt: skip
    return problems


# --- the operations ------------------------------------------------------------------------


def _write_files(state: ReplayState) -> Any:
    def write(job: BatchJob, done: list[LineResult]) -> None:
        files = state.get(FilesStore)
        now = int(state.clock())
        output = files.add(StoredFile(
            id=new_file_id(state), filename=f"{job.id}_output.jsonl", purpose="batch_output",
            content=jsonl([r.line for r in done if r.ok]), created_at=now,
        ))  # fmt: skip
        errors = files.add(StoredFile(
            id=new_file_id(state), filename=f"{job.id}_error.jsonl", purpose="batch_output",
            content=jsonl([r.line for r in done if not r.ok]), created_at=now,
        ))  # fmt: skip
        job.output_file_id, job.error_file_id = output.id, errors.id

    return write


def view(state: ReplayState, job: BatchJob) -> dict[str, Any]:
    return job.view(state.clock(), _write_files(state))


class CreateBatch(StateOperation):
    name: ClassVar[str] = "Batch_Create"

    def validate(self, ctx: RequestContext) -> None:
        body = body_object(ctx.body)
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise missing_parameter(name)
        if normalise_endpoint(body["endpoint"]) is None:
            raise invalid_request(
                f"Invalid value: '{body['endpoint']}'. Supported values are: "
                "'/chat/completions' and '/responses'.",
                param="endpoint",
                code="invalid_value",
            )
        metadata = body.get("metadata")
        if metadata is not None:
            if not (
                isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
            ):
                raise type_error("metadata", "an object of strings")
            check_metadata(metadata)
        if ctx.state.get(FilesStore).get(body["input_file_id"]) is None:
            raise file_not_found(body["input_file_id"])

    async def simulate(self, ctx: RequestContext) -> Reply:
        state = ctx.state
        body = ctx.body
        stored = state.get(FilesStore).get(body["input_file_id"])
        assert stored is not None
        endpoint = normalise_endpoint(body["endpoint"])
        assert endpoint is not None
        job = BatchJob(
            id=f"batch_{state.ids.uuid()}",
            input_file_id=stored.id,
            endpoint=body["endpoint"],
            completion_window=body["completion_window"],
            metadata=body.get("metadata"),
            created=state.clock(),
            settings=state.config.batches,
        )
        problem = _file_problem(stored)
        if body["completion_window"] not in COMPLETION_WINDOWS:
            # Microsoft Learn: "If you set any other value than 24h your job will fail."
            job.errors.append({
                "code": "invalid_request", "param": "completion_window", "line": None,
                "message": f"Invalid value: '{body['completion_window']}'. The completion "
                "window must be '24h'.",
            })  # fmt: skip
        elif problem is not None:
            code, message = problem
            job.errors.append({"code": code, "message": message, "param": None, "line": None})
        elif found := _deployment_problems(stored, state.config.deployments):
            job.errors.extend(found)
        else:
            lines = _Lines(ctx, endpoint)
            raw_lines = stored.content.decode("utf-8", errors="replace").splitlines()
            numbered = [(n, raw) for n, raw in enumerate(raw_lines, start=1) if raw.strip()]
            span = job.settings.in_progress_seconds
            for done, (number, raw) in enumerate(numbered, start=1):
                # Lines finish evenly across in_progress (BatchJob.lines_done).
                runs_at = job.in_progress_at + span * done / len(numbered)
                job.results.append(await lines.answer(raw, number, runs_at))
        state.get(BatchesStore).add(job)
        return Reply.of_json(view(state, job), status=200 if ctx.is_v1 else 201)


class RetrieveBatch(StateOperation):
    name: ClassVar[str] = "Batch_Get"
    body_kind: ClassVar[BodyKind] = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        batch_id = ctx.path_params["batch_id"]
        job = ctx.state.get(BatchesStore).get(batch_id)
        if job is None:
            raise batch_not_found(batch_id)
        return Reply.of_json(view(ctx.state, job))


class CancelBatch(StateOperation):
    name: ClassVar[str] = "Batch_Cancel"
    body_kind: ClassVar[BodyKind] = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        batch_id = ctx.path_params["batch_id"]
        state = ctx.state
        job = state.get(BatchesStore).get(batch_id)
        if job is None:
            raise batch_not_found(batch_id)
        status = job.status_at(state.clock())
        if status in TERMINAL:
            raise invalid_request(
                f"Cannot cancel a batch with status '{status}'.",
                param=None,
                code="invalid_state",
                status=409,
            )
        if job.cancel_requested is None:
            job.cancel_requested = state.clock()
        return Reply.of_json(view(state, job))


class ListBatches(StateOperation):
    name: ClassVar[str] = "Batch_List"
    body_kind: ClassVar[BodyKind] = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        page = cursor_page(
            ctx.state.get(BatchesStore).all(),
            ctx.query,
            id_of=lambda job: job.id,
            describe=lambda job: view(ctx.state, job),  # only the page's jobs: views write files
            paging=PAGING,
        )
        return Reply.of_json(page)


def _endpoints(prefix: str) -> tuple[Endpoint, ...]:
    return (
        Endpoint("POST", f"{prefix}/batches", CreateBatch()),
        Endpoint("GET", f"{prefix}/batches", ListBatches()),
        Endpoint("GET", f"{prefix}/batches/{{batch_id}}", RetrieveBatch()),
        Endpoint("POST", f"{prefix}/batches/{{batch_id}}/cancel", CancelBatch()),
    )


SERVICE = on_both_surfaces("batches", _endpoints, BatchesStore)
