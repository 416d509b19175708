"""The Azure OpenAI operations the server speaks, one class each.

An operation knows its path, which deployments it runs on, how to validate a
body, how many tokens a request is charged against the quota, how to make up
an answer in lenient mode, and how to adapt a stored answer to the request
(embeddings are stored as floats and sent in the encoding asked for). New
APIs (search, assistants, batches) add operations here and a route in
:mod:`helpers.replay.app`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from ..tokenizer import count_chat_tokens, count_tokens
from . import azure
from .config import Deployment
from .errors import AzureError
from .simulators import chat as chat_simulator
from .simulators import embeddings as embeddings_simulator
from .validation import validate_chat, validate_embeddings


@dataclass(frozen=True)
class Operation:
    """Base class: an operation on a deployment."""

    name: ClassVar[str]
    suffix: ClassVar[str]
    kind: ClassVar[Literal["chat", "embeddings"]]

    def validate(self, body: Any, deployment: Deployment) -> None:
        raise NotImplementedError

    def charged_tokens(self, body: dict[str, Any]) -> int:
        raise NotImplementedError

    def simulate(
        self, body: dict[str, Any], deployment: Deployment, ids: azure.IdSource
    ) -> dict[str, Any] | list[str]:
        raise NotImplementedError

    def present(self, body: Any, request: dict[str, Any]) -> Any:
        """Adapt a stored response body to this request (default: unchanged)."""
        return body

    def store(self, body: Any) -> Any:
        """Turn an upstream response body into its stored form (default: unchanged)."""
        return body

    def wrong_model(self, deployment: Deployment) -> AzureError:
        return AzureError(
            400,
            {
                "error": {
                    "code": "OperationNotSupported",
                    "message": (
                        f"The {self.name} operation does not work with the specified model, "
                        f"{deployment.model}. Please choose different model and try again. You "
                        "can learn more about which models can be used with each operation here: "
                        "https://go.microsoft.com/fwlink/?linkid=2197993."
                    ),
                }
            },
        )


@dataclass(frozen=True)
class ChatCompletions(Operation):
    name: ClassVar[str] = "chatCompletion"
    suffix: ClassVar[str] = "/chat/completions"
    kind: ClassVar[Literal["chat", "embeddings"]] = "chat"

    def validate(self, body: Any, deployment: Deployment) -> None:
        validate_chat(body)

    def charged_tokens(self, body: dict[str, Any]) -> int:
        limit = body.get("max_completion_tokens") or body.get("max_tokens") or 0
        return count_chat_tokens(body.get("messages", [])) + int(limit)

    def simulate(
        self, body: dict[str, Any], deployment: Deployment, ids: azure.IdSource
    ) -> dict[str, Any] | list[str]:
        return chat_simulator.simulate(body, deployment.model, ids)


@dataclass(frozen=True)
class Embeddings(Operation):
    name: ClassVar[str] = "embeddings"
    suffix: ClassVar[str] = "/embeddings"
    kind: ClassVar[Literal["chat", "embeddings"]] = "embeddings"

    def validate(self, body: Any, deployment: Deployment) -> None:
        validate_embeddings(body, model=deployment.model, max_dimensions=deployment.dimensions)

    def charged_tokens(self, body: dict[str, Any]) -> int:
        return sum(
            count_tokens(text, "text-embedding-3-small")
            for text in embeddings_simulator.inputs_of(body)
        )

    def simulate(
        self, body: dict[str, Any], deployment: Deployment, ids: azure.IdSource
    ) -> dict[str, Any]:
        return embeddings_simulator.simulate(body, deployment.model, deployment.dimensions or 1536)

    def present(self, body: Any, request: dict[str, Any]) -> Any:
        if isinstance(body, dict) and "data" in body:
            return azure.encode_embeddings(body, request.get("encoding_format"))
        return body

    def store(self, body: Any) -> Any:
        if isinstance(body, dict) and "data" in body:
            return azure.decode_embeddings(body)
        return body


DEPLOYMENT_OPERATIONS: tuple[Operation, ...] = (ChatCompletions(), Embeddings())
