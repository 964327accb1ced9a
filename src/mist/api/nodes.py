"""The swarm's nodes (owner and admins): GET /api/nodes, and PUT /api/nodes/update to drain one."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import StringConstraints

from mist.api import shapes
from mist.api.deps import Svc, admins, ok, record
from mist.api.schemas import Body
from mist.db.models import User

Admin = Annotated[User, Depends(admins("see and change the swarm's nodes"))]
router = APIRouter(prefix="/api/nodes", tags=["nodes"])


class NodeUpdateIn(Body):
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,64}$")]
    availability: Literal["active", "pause", "drain"]


@router.get("")
async def get_all(user: Admin, svc: Svc) -> dict:
    return ok([shapes.node(n) for n in await svc.nodes.list_all(user)])


@router.put("/update")
async def update(body: NodeUpdateIn, request: Request, user: Admin, svc: Svc) -> dict:
    node = await svc.nodes.set_availability(user, body.id, body.availability)
    await record(svc, request, user, "node.update", f"node:{node.id}", hostname=node.hostname,
                 availability=node.availability)
    return ok(shapes.node(node), f"Node {node.hostname} is {node.availability}")
