"""Files: upload, list, retrieve, download, delete, on both API surfaces.

``POST /openai/files`` (dated ``api-version``) and ``POST /openai/v1/files`` take a
multipart upload with a ``purpose`` (``batch``, ``assistants``, ``user_data``,
``fine-tune``). The server keeps the bytes in its state store, so batches, vector
stores and downloads work on what was uploaded; the list pages like every list
(:mod:`..paging`). A recording of an upload still wins
(recordings are looked up first); what no recording covers is kept and answered
from state, in every mode, because a file is data, not a model's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ...context import Reply, RequestContext
from ...errors import AzureError, invalid_request, object_not_found
from ...state import ObjectsById, ReplayState
from ...validation import missing_parameter
from ..base import BodyKind, Endpoint, StateOperation, on_both_surfaces
from ..paging import Paging, cursor_page

PURPOSES = ("assistants", "batch", "fine-tune", "user_data", "vision", "evals")
"""The purposes Azure OpenAI accepts for an upload."""
MAX_FILE_BYTES = 512 * 1024 * 1024
"""Azure OpenAI's per-file size limit for uploads (512 MB; Microsoft Learn, quotas and limits)."""
PAGING = Paging(default_limit=10_000, max_limit=10_000)
"""Files are listed newest first, up to 10,000 a page (OpenAI's API reference for
``GET /files``: ``limit`` "between 1 and 10,000, and the default is 10,000"; Azure's specs list
only ``purpose``, and the openai SDK sends OpenAI's parameters to both)."""


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int

    def describe(self) -> dict[str, Any]:
        return {
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "id": self.id,
            "object": "file",
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
        }


class FilesStore(ObjectsById[StoredFile]):
    """Uploaded files by id; reset with the server. Other services read files from here."""


def not_found(file_id: str) -> AzureError:
    return object_not_found(f"File with id '{file_id}' not found.")


def new_file_id(state: ReplayState) -> str:
    return "file-" + state.ids.item_id("f")[2:34]


def _stored(ctx: RequestContext) -> StoredFile:
    """The file the path names, or Azure's 404."""
    file_id = ctx.path_params["file_id"]
    stored = ctx.state.get(FilesStore).get(file_id)
    if stored is None:
        raise not_found(file_id)
    return stored


class UploadFile(StateOperation):
    name: ClassVar[str] = "Files_Upload"
    body_kind: ClassVar[BodyKind] = "multipart"

    def validate(self, ctx: RequestContext) -> None:
        body = ctx.body if isinstance(ctx.body, dict) else {}
        purpose = body.get("purpose")
        if purpose is None:
            raise missing_parameter("purpose")
        if purpose not in PURPOSES:
            raise invalid_request(
                f"Invalid value: '{purpose}'. Supported values are: "
                + ", ".join(f"'{p}'" for p in PURPOSES)
                + ".",
                param="purpose",
                code="invalid_value",
            )
        if "file" not in ctx.files:
            raise missing_parameter("file")
        if len(ctx.files["file"][2]) > MAX_FILE_BYTES:
            raise invalid_request(
                f"The file is larger than the limit of {MAX_FILE_BYTES} bytes.",
                param="file",
                code="file_too_large",
            )

    async def simulate(self, ctx: RequestContext) -> Reply:
        filename, _, content = ctx.files["file"]
        stored = ctx.state.get(FilesStore).add(
            StoredFile(
                id=new_file_id(ctx.state),
                filename=filename or "upload",
                purpose=str(ctx.body["purpose"]),
                content=content,
                created_at=int(ctx.state.clock()),
            )
        )
        return Reply.of_json(stored.describe())


class ListFiles(StateOperation):
    name: ClassVar[str] = "Files_List"
    body_kind: ClassVar[BodyKind] = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        purpose = ctx.query.get("purpose")
        files = [f for f in ctx.state.get(FilesStore).all() if purpose in (None, f.purpose)]
        return Reply.of_json(
            cursor_page(
                files, ctx.query, id_of=lambda f: f.id, describe=StoredFile.describe, paging=PAGING
            )
        )


class RetrieveFile(StateOperation):
    name: ClassVar[str] = "Files_Get"
    body_kind: ClassVar[BodyKind] = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        stored = _stored(ctx)
        return Reply.of_json(stored.describe())


class FileContent(StateOperation):
    name: ClassVar[str] = "Files_GetContent"
    body_kind: ClassVar[BodyKind] = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        stored = _stored(ctx)
        return Reply.of_bytes(stored.content, "application/octet-stream")


class DeleteFile(StateOperation):
    name: ClassVar[str] = "Files_Delete"
    body_kind: ClassVar[BodyKind] = "none"

    async def simulate(self, ctx: RequestContext) -> Reply:
        file_id = ctx.path_params["file_id"]
        if not ctx.state.get(FilesStore).delete(file_id):
            raise not_found(file_id)
        return Reply.of_json({"deleted": True, "id": file_id, "object": "file"})


def _endpoints(prefix: str) -> tuple[Endpoint, ...]:
    return (
        Endpoint("POST", f"{prefix}/files", UploadFile()),
        Endpoint("GET", f"{prefix}/files", ListFiles()),
        Endpoint("GET", f"{prefix}/files/{{file_id}}", RetrieveFile()),
        Endpoint("GET", f"{prefix}/files/{{file_id}}/content", FileContent()),
        Endpoint("DELETE", f"{prefix}/files/{{file_id}}", DeleteFile()),
    )


SERVICE = on_both_surfaces("files", _endpoints, FilesStore)
