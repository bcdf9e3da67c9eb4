"""Outbound webhook endpoints, for admins: /api/v2/webhooks (R10)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from adapter.auth import Role
from adapter.deps import unit_of_work
from adapter.envelope import Envelope, ok
from adapter.guards import allow, services_of
from adapter.routes.docs import errors
from core.settings import Environment
from webhooks_out.endpoints import EndpointService, UrlPolicy

Endpoints = NamedDependency[EndpointService]


class EndpointCreate(BaseModel):
    """`{url, events?, description?}`; no events means every event."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    events: list[Annotated[str, StringConstraints(max_length=64)]] = Field(default_factory=list, max_length=20)
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class EndpointOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    disabled: bool
    disabledReason: str | None  # noqa: N815
    createdAt: str | None  # noqa: N815
    secret: str | None = None


async def provide_endpoints(request: Request[Any, Any, Any]) -> Any:
    services = services_of(request)
    policy = UrlPolicy(production=services.settings.env is Environment.PRODUCTION)
    async for session in unit_of_work(request):
        yield EndpointService(session, services.box, services.clock, policy)


class WebhookEndpointsController(Controller):
    """Where Thotis events are sent, and how their deliveries went."""

    path = "/webhooks"
    tags = ["webhooks"]  # noqa: RUF012
    dependencies = {"endpoints": Provide(provide_endpoints)}  # noqa: RUF012

    @post(
        "/",
        opt=allow(Role.ADMIN),
        status_code=201,
        responses={201: ResponseSpec(Envelope[EndpointOut]), **errors(400, 403, 413)},
        summary="Add an endpoint; its whsec_ secret is shown once",
    )
    async def create(self, data: JSONBody[EndpointCreate], endpoints: Endpoints) -> Response[bytes]:
        return ok(await endpoints.create(data.url, data.events, data.description), status_code=201)

    @get("/", opt=allow(Role.ADMIN), responses={200: ResponseSpec(Envelope[list[EndpointOut]]), **errors(403)})
    async def list_endpoints(self, endpoints: Endpoints) -> Response[bytes]:
        return ok(await endpoints.all())

    @delete("/{endpoint_id:str}", opt=allow(Role.ADMIN), status_code=200, responses=errors(403, 404))
    async def remove(self, endpoint_id: FromPath[str], endpoints: Endpoints) -> Response[bytes]:
        await endpoints.delete(endpoint_id)
        return ok({"deleted": True})

    @post(
        "/{endpoint_id:str}/rotate-secret",
        opt=allow(Role.ADMIN),
        status_code=200,
        responses={200: ResponseSpec(Envelope[EndpointOut]), **errors(403, 404)},
        summary="A new secret (shown once); the old one still signs for 24 hours",
    )
    async def rotate(self, endpoint_id: FromPath[str], endpoints: Endpoints) -> Response[bytes]:
        return ok(await endpoints.rotate_secret(endpoint_id))

    @get(
        "/{endpoint_id:str}/deliveries",
        opt=allow(Role.ADMIN),
        responses={200: ResponseSpec(Envelope[list[dict[str, Any]]]), **errors(403, 404)},
        summary="The newest deliveries and every attempt (status, duration, start of the answer)",
    )
    async def deliveries(self, endpoint_id: FromPath[str], endpoints: Endpoints) -> Response[bytes]:
        return ok(await endpoints.deliveries(endpoint_id))

    @post(
        "/{endpoint_id:str}/deliveries/{delivery_id:int}/redeliver",
        opt=allow(Role.ADMIN),
        status_code=200,
        responses={200: ResponseSpec(Envelope[dict[str, Any]]), **errors(403, 404)},
        summary="Send a delivery again, with the same webhook-id",
    )
    async def redeliver(
        self, endpoint_id: FromPath[str], delivery_id: FromPath[int], endpoints: Endpoints
    ) -> Response[bytes]:
        return ok(await endpoints.redeliver(endpoint_id, delivery_id))
