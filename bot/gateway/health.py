"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web
from sqlalchemy import text

from bot.gateway.keys import DIALOGUE, ENGINE, HTTP, SETTINGS

_LOGGER = logging.getLogger(__name__)

routes = web.RouteTableDef()

#: Seconds each readiness check may take.
CHECK_TIMEOUT_S = 3.0


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    """The gateway process is alive."""
    return web.json_response({"status": "ok"})


async def _action_server_ready(request: web.Request) -> bool:
    url = f"{request.app[SETTINGS].dialogue.action_url}/health"
    try:
        async with request.app[HTTP].get(url, timeout=aiohttp.ClientTimeout(total=CHECK_TIMEOUT_S)) as response:
            return response.status == 200
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return False


def _database_ready_sync(request: web.Request) -> bool:
    try:
        with request.app[ENGINE].connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception as exc:  # any driver error means "not ready"; the probe reports it
        _LOGGER.warning("readyz.database_down error=%s", type(exc).__name__)
        return False


async def _database_ready(request: web.Request) -> bool:
    """The database answers within :data:`CHECK_TIMEOUT_S` (a hung connection is "not ready")."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(_database_ready_sync, request), CHECK_TIMEOUT_S)
    except asyncio.TimeoutError:
        _LOGGER.warning("readyz.database_timeout")
        return False


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready when Rasa (with a model), the action server and the database all answer."""
    rasa, actions, database = await asyncio.gather(
        request.app[DIALOGUE].is_ready(),
        _action_server_ready(request),
        _database_ready(request),
    )
    checks = {"rasa": rasa, "action_server": actions, "database": database}
    ready = all(checks.values())
    response = web.json_response(
        {"status": "ready" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )
    if not ready:
        response.headers["Retry-After"] = "5"
    return response
