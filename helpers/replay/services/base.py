"""The parts every service package is made of: operations, endpoints, services.

An :class:`Operation` is one thing Azure does (``ChatCompletions_Create``). It
declares the deployment kind it needs and how its body is read, and it
implements only what is its own: validation, the tokens a request is charged,
the answer it makes up when no recording covers a request, and how a stored
answer is adapted to a request. Everything else (api-version, credentials,
deployment, quota, recordings, record mode, errors) is the pipeline's job and
happens the same way for every operation (:mod:`helpers.replay.pipeline`).

An :class:`Endpoint` binds an operation to a method and path; a
:class:`Service` groups a package's endpoints with the token audience that
guards them, the stateful stores it registers (:mod:`helpers.replay.state`) and its
:class:`Front`: what is the service's own in the pipeline's first steps (its paths,
``api-version`` rule, error vocabulary and body limit). Azure OpenAI's services use the
default front; Azure AI Search brings its own (:mod:`.search.operations`). The answer step
(:mod:`helpers.replay.answer`) calls an operation's methods the same way for a request and
for a batch line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from .. import errors, limits
from ..config import Deployment
from ..context import Reply, RequestContext
from ..errors import AzureError, CredentialProblem
from ..identity import COGNITIVE_SERVICES_AUDIENCE
from ..state import ReplayState, Resettable

BodyKind = Literal["json", "multipart", "none"]
DeploymentKind = Literal["chat", "embeddings"]


class Operation:
    """Base class for one Azure operation. Subclasses override what differs."""

    name: ClassVar[str]
    """Azure's operation id, as its errors name it (``ChatCompletions_Create``)."""
    label: ClassVar[str] = ""
    """How Azure's OperationNotSupported message names it (``chatCompletion``)."""
    deployment_kind: ClassVar[DeploymentKind | None] = None
    """The kind of deployment the operation runs on, or ``None`` for resource-level ones."""
    body_kind: ClassVar[BodyKind] = "json"
    adapts_answers: ClassVar[bool] = False
    """True when :meth:`present` changes a recorded answer per request (embeddings'
    encoding); otherwise a recorded answer is serialised once and reused."""
    simulated: ClassVar[bool] = False
    """True for operations the server always answers itself (state it keeps, e.g. a GET of an
    object it stores), after the recordings had their chance."""

    def validate(self, ctx: RequestContext) -> None:
        """Raise :class:`AzureError` for a request Azure would reject (run on misses only)."""

    def charged_tokens(self, ctx: RequestContext) -> int:
        """Tokens the request is charged against its deployment's quota when it arrives."""
        return 0

    async def simulate(self, ctx: RequestContext) -> Reply:
        """The answer when no recording covers the request (lenient mode, stateful operations)."""
        raise NotImplementedError(f"{type(self).__name__} has no simulation")

    def present(self, ctx: RequestContext, reply: Reply) -> Reply:
        """Adapt a stored answer to this request (default: unchanged)."""
        return reply

    def served(self, ctx: RequestContext, reply: Reply) -> None:
        """Called after every answer (recorded or simulated): keep state an answer creates."""

    def store(self, body: Any) -> Any:
        """Turn an upstream answer's JSON body into its stored form (default: unchanged)."""
        return body

    def wrong_model(self, deployment: Deployment) -> AzureError:
        """Azure's 400 for a deployment of the wrong kind (embeddings on a chat model)."""
        return AzureError(
            400,
            {
                "error": {
                    "code": "OperationNotSupported",
                    "message": (
                        f"The {self.label} operation does not work with the "
                        f"specified model, {deployment.model}. Please choose different model and "
                        "try again. You can learn more about which models can be used with each "
                        "operation here: https://go.microsoft.com/fwlink/?linkid=2197993."
                    ),
                }
            },
        )


class StateOperation(Operation):
    """An operation on state the server keeps (files, batches, stored responses, vector
    stores): recordings still answer first; what they do not cover comes from the state,
    in every mode, because it is data the client made, not a model's answer."""

    simulated: ClassVar[bool] = True


@dataclass(frozen=True)
class Endpoint:
    """An operation at a method and a path template (Starlette syntax)."""

    method: str
    path: str
    operation: Operation


def _method_not_allowed(method: str) -> AzureError:
    return errors.method_not_allowed()


@dataclass(frozen=True)
class Front:
    """How a service admits a request, before any operation runs (pipeline steps 1 to 4).

    The steps are the pipeline's and the same for every service (one ``authenticate``, one
    guarded JSON reader); what differs between Azure services is here. Defaults: Azure
    OpenAI's.
    """

    prefix: str | None = None
    """The path prefix the service owns (``/search``): any other request under it, whatever
    its method, is the service's 404 or 405. None: the server's catch-all answers."""
    check_route: Callable[[RequestContext], None] | None = None
    """Step 1 after routing: the ``api-version`` and URL checks. None: Azure OpenAI's."""
    unauthorized: Callable[[CredentialProblem, str], AzureError] = errors.unauthorized
    """Step 3's answer to a missing or refused credential, given the token audience."""
    bad_body: Callable[[str], AzureError] = limits.parse_error
    """Step 4's answer to a body that is not JSON the service reads (given why)."""
    too_large: Callable[[int, int], AzureError] = limits.too_large
    """Step 4's answer to a body over ``max_json_body`` (given its size and the limit)."""
    max_json_body: int = limits.MAX_JSON_BODY_BYTES
    not_found: Callable[[], AzureError] = errors.resource_not_found
    method_not_allowed: Callable[[str], AzureError] = _method_not_allowed
    forwarded: bool = True
    """Record mode forwards the service's requests to the upstream resource; False for a
    service the server always computes itself (Azure AI Search: no upstream is recorded)."""


@dataclass(frozen=True)
class Service:
    """One Azure service area: its endpoints, their token audience, its simulators, its front."""

    name: str
    endpoints: tuple[Endpoint, ...]
    audience: str = COGNITIVE_SERVICES_AUDIENCE
    register: Callable[[ReplayState], None] | None = field(default=None)
    """Called once per server to register the service's stateful stores (``state.register``)."""
    front: Front = field(default_factory=Front)


def on_both_surfaces(
    name: str,
    endpoints: Callable[[str], tuple[Endpoint, ...]],
    store: Callable[[], Resettable],
) -> Service:
    """A service of data the server keeps (files, batches, vector stores): the same endpoints
    under the dated surface (``/openai/...?api-version=...``) and the v1 one (``/openai/v1/...``,
    ``endpoints`` takes the prefix), and one store, registered under the service's name."""

    def register(state: ReplayState) -> None:
        state.register(name, store())

    return Service(
        name=name, endpoints=(*endpoints("/openai"), *endpoints("/openai/v1")), register=register
    )
