"""Typed API errors and the one middleware that turns every failure into JSON."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

_LOGGER = logging.getLogger(__name__)

#: Seconds a client is asked to wait when the database is unavailable.
DATABASE_RETRY_AFTER_S = 5

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error a client caused or must know about, with its HTTP status and stable code."""

    def __init__(self, status: int, code: str, message: str, *, retry_after: float | None = None) -> None:
        """Create an error answered as ``{"error": {"code", "message"}}`` with ``status`` (and ``Retry-After``)."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def error_response(status: int, code: str, message: str) -> web.Response:
    """The JSON error body every endpoint uses."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer ApiError, HTTP errors and unexpected exceptions with JSON, never a traceback."""
    try:
        return await handler(request)
    except ApiError as exc:
        response = error_response(exc.status, exc.code, exc.message)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response
    except SQLAlchemyError as exc:
        # The database is down or overloaded: the client may try again; nothing half-done was kept.
        _LOGGER.warning("gateway.database_unavailable path=%s error=%s", request.path, type(exc).__name__)
        response = error_response(503, "unavailable", "The service is briefly unavailable; try again shortly.")
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
        return response
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api/"):
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status, "http_error")
        response = error_response(exc.status, code, exc.reason)
        if "Allow" in exc.headers:  # a 405 says which methods the resource has
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        _LOGGER.exception("gateway.unhandled_error path=%s", request.path)
        return error_response(500, "internal_error", "Something went wrong on our side.")
