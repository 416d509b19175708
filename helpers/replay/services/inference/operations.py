"""Inference: chat completions and embeddings, on both API surfaces.

* Deployment-scoped, with a dated ``api-version`` (the ``AzureOpenAI`` client):
  ``POST /openai/deployments/{deployment}/chat/completions`` and ``.../embeddings``.
* The v1 API, no dated ``api-version`` (the plain ``OpenAI`` client with
  ``base_url="{endpoint}/openai/v1/"``): ``POST /openai/v1/chat/completions`` and
  ``/openai/v1/embeddings``, the deployment named by ``model`` in the body.

One recording serves both surfaces when the request is the same (see
:mod:`helpers.replay.recordings.matching`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ...._support.counting import quota_charge
from ...._support.tokenizer import count_tokens
from ... import azure, families
from ...behaviours.content_filter import check_prompt
from ...behaviours.prompt_cache import MIN_TOKENS, PromptCache, cache_route, prompt_tokens
from ...context import Reply, RequestContext, StreamEvent
from ...state import ReplayState
from ..base import DeploymentKind, Endpoint, Operation, Service
from ..responses.simulator import EFFORT_TOKENS, effective_effort
from . import chat as chat_simulator
from . import embeddings as embeddings_simulator
from .validation import validate_chat, validate_embeddings


def _reply(simulated: dict[str, Any] | list[str]) -> Reply:
    if isinstance(simulated, list):
        return Reply.of_stream([StreamEvent(data) for data in simulated])
    return Reply.of_json(simulated)


class ChatCompletions(Operation):
    name: ClassVar[str] = "ChatCompletions_Create"
    label: ClassVar[str] = "chatCompletion"
    deployment_kind: ClassVar[DeploymentKind | None] = "chat"

    def validate(self, ctx: RequestContext) -> None:
        validate_chat(ctx.body)
        assert ctx.deployment is not None
        families.check_chat(ctx.body, ctx.deployment)

    def charged_tokens(self, ctx: RequestContext) -> int:
        assert ctx.deployment is not None
        return quota_charge(ctx.body, ctx.deployment.model)

    async def simulate(self, ctx: RequestContext) -> Reply:
        assert ctx.deployment is not None and ctx.deployment_name is not None
        check_prompt(ctx.body, ctx.state.config.content_filter)
        deployment = ctx.deployment
        effort = effective_effort(ctx.body.get("reasoning_effort"), deployment)
        reasoning = EFFORT_TOKENS.get(effort, 0) if effort else 0
        cached = ctx.state.get(PromptCache).lookup(
            ctx.deployment_name, prompt_tokens(ctx.body), cache_route(ctx.body)
        )
        return _reply(
            chat_simulator.simulate(
                ctx.body,
                deployment.model,
                ctx.state.ids,
                reasoning_tokens=reasoning,
                cached_tokens=cached,
                created=azure.timestamp(ctx.clock, deployment.model),
                filter_streaming=deployment.content_filter_streaming,
            )
        )

    def served(self, ctx: RequestContext, reply: Reply) -> None:
        remember_prompt(ctx)


class Embeddings(Operation):
    name: ClassVar[str] = "Embeddings_Create"
    label: ClassVar[str] = "embeddings"
    deployment_kind: ClassVar[DeploymentKind | None] = "embeddings"
    adapts_answers: ClassVar[bool] = True

    def validate(self, ctx: RequestContext) -> None:
        assert ctx.deployment is not None
        validate_embeddings(
            ctx.body, model=ctx.deployment.model, max_dimensions=ctx.deployment.dimensions
        )

    def charged_tokens(self, ctx: RequestContext) -> int:
        return sum(
            count_tokens(text, "text-embedding-3-small")
            for text in embeddings_simulator.inputs_of(ctx.body)
        )

    async def simulate(self, ctx: RequestContext) -> Reply:
        assert ctx.deployment is not None
        deployment = ctx.deployment
        body = embeddings_simulator.simulate(
            ctx.body, deployment.model, deployment.dimensions or 1536
        )
        return self.present(ctx, Reply.of_json(body))

    def present(self, ctx: RequestContext, reply: Reply) -> Reply:
        body = reply.json
        if reply.status < 400 and isinstance(body, dict) and "data" in body:
            encoding = ctx.body.get("encoding_format") if isinstance(ctx.body, dict) else None
            reply.json = azure.encode_embeddings(body, encoding)
        return reply

    def store(self, body: Any) -> Any:
        if isinstance(body, dict) and "data" in body:
            return azure.decode_embeddings(body)
        return body


def remember_prompt(ctx: RequestContext) -> None:
    """Every answered prompt warms the deployment's prompt cache (recorded or simulated)."""
    if len(ctx.raw_body) < MIN_TOKENS:
        return  # a token is at least one byte: a body this short can never be cached
    if ctx.deployment_name and isinstance(ctx.body, dict):
        ctx.state.get(PromptCache).remember(
            ctx.deployment_name, prompt_tokens(ctx.body), cache_route(ctx.body)
        )


def _register(state: ReplayState) -> None:
    state.register("prompt_cache", PromptCache(state.clock))


CHAT = ChatCompletions()
EMBEDDINGS = Embeddings()

SERVICE = Service(
    name="inference",
    register=_register,
    endpoints=(
        Endpoint("POST", "/openai/deployments/{deployment}/chat/completions", CHAT),
        Endpoint("POST", "/openai/deployments/{deployment}/embeddings", EMBEDDINGS),
        Endpoint("POST", "/openai/v1/chat/completions", CHAT),
        Endpoint("POST", "/openai/v1/embeddings", EMBEDDINGS),
    ),
)
