"""Typed API errors and the one middleware that turns every failure into JSON."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

_LOGGER = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error a client caused or must know about, with its HTTP status and stable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        """Create an error answered as ``{"error": {"code", "message"}}`` with ``status``."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> web.Response:
    """The JSON error body every endpoint uses."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer ApiError, HTTP errors and unexpected exceptions with JSON, never a traceback."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api/"):
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status, "http_error")
        return error_response(exc.status, code, exc.reason)
    except Exception:
        _LOGGER.exception("gateway.unhandled_error path=%s", request.path)
        return error_response(500, "internal_error", "Something went wrong on our side.")
