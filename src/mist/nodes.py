"""The swarm's nodes, for the owner and admins: what each holds, and draining one for maintenance."""

from __future__ import annotations

from mist.auth.users import is_admin
from mist.db.models import User
from mist.errors import InvalidInput, PermissionDenied
from mist.runtime.swarm import AVAILABILITIES, NodeState, Swarm


def _admin(user: User) -> None:
    if not is_admin(user):
        raise PermissionDenied("only the owner and admins can see and change the swarm's nodes")


class Nodes:
    def __init__(self, swarm: Swarm) -> None:
        self.swarm = swarm

    async def list_all(self, user: User) -> list[NodeState]:
        _admin(user)
        return await self.swarm.nodes()

    async def set_availability(self, user: User, node_id: str, availability: str) -> NodeState:
        _admin(user)
        if availability not in AVAILABILITIES:
            raise InvalidInput(f"availability: one of {', '.join(AVAILABILITIES)}")
        return await self.swarm.set_availability(node_id, availability)
