"""The one place where errors become HTTP responses.

Every error body is JSON: {"success": false, "message": "...", "data": null}. An unexpected
exception is logged with the request it broke and answered with a 500 that names no internals.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from mist.api import refs
from mist.errors import (
    Conflict,
    CorruptBackup,
    GitError,
    InvalidInput,
    MistError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ProxyError,
    RateLimited,
    RuntimeEngineError,
    StorageFailed,
    Unbuildable,
    VerificationFailed,
)

log = logging.getLogger(__name__)

STATUS = {
    InvalidInput: 400,
    NotAuthenticated: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
    # The request was fine; the git remote or the engine it needs was not.
    GitError: 422,
    Unbuildable: 422,
    VerificationFailed: 422,
    CorruptBackup: 422,  # a download of a file that fails its integrity check
    StorageFailed: 503,  # the backup directory or S3 failed
    RuntimeEngineError: 503,
    ProxyError: 503,
}


def status_of(exc: MistError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_body(message: str) -> dict:
    return {"success": False, "message": message, "data": None}


def describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(loc) or "body"
        if err.get("type") == "json_invalid":
            parts.append("the body is not valid JSON")
        elif err.get("type") == "missing":
            parts.append(f"{where}: required")
        elif err.get("type") == "extra_forbidden":
            parts.append(f"{where}: unknown field")
        else:
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(dict.fromkeys(parts))


async def _unreachable_ref(request: Request, exc: RequestValidationError) -> NotFound | None:
    """The 404 of an id the request names and its caller cannot reach: a malformed request must not
    tell a non-member that the row exists (a well-formed one gets that 404 from the route)."""
    user = getattr(request.state, "caller", None)  # set once the route's auth dependency passed
    route = request.scope.get("route")
    if user is None or not isinstance(route, APIRoute):
        return None
    named = list(refs.named(route, request.path_params, request.query_params, exc.body))
    if not named:
        return None

    return await request.app.state.services.db.run(refs.unreachable, user, named)


def install(app: FastAPI) -> None:
    @app.exception_handler(MistError)
    async def mist_error(_request: Request, exc: MistError) -> JSONResponse:
        # A throttled client is told when to come back (RFC 9110 Retry-After, in seconds).
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return JSONResponse(error_body(exc.message), status_code=status_of(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        hidden = await _unreachable_ref(request, exc)
        if hidden is not None:
            return JSONResponse(error_body(hidden.message), status_code=status_of(hidden))
        return JSONResponse(error_body(describe_validation(exc)), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("internal error; the server log has the details"), status_code=500
        )
