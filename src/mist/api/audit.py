"""The audit log, for the owner and admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mist.api import shapes
from mist.api.deps import CurrentUser, Svc, ok
from mist.auth.users import is_admin
from mist.errors import PermissionDenied

router = APIRouter(prefix="/api", tags=["audit"])


@router.get("/audit-logs")
async def audit_logs(
    user: CurrentUser, svc: Svc,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> dict:
    if not is_admin(user):
        raise PermissionDenied("only the owner and admins can read the audit log")
    rows, total = await svc.audit.page(limit, offset)
    return ok({"logs": [shapes.audit_entry(r) for r in rows], "total": total, "limit": limit, "offset": offset})
