"""Per-client and overall request limits of the public API (429 with ``Retry-After``)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.core.ratelimit import RateLimiter, client_key
from bot.gateway.errors import ApiError, Handler
from bot.settings import GatewaySettings, Limits

#: The paths of the direct channel that a client's traffic is counted on.
LIMITED_PREFIXES = ("/api/v1/messages", "/api/v1/conversations/", "/api/v1/deep-links")


def rate_limit_middleware(limits: Limits, gateway: GatewaySettings) -> Middleware:
    """A middleware that answers 429 when a client, or everyone together, asks too fast."""
    per_client = RateLimiter(limits.api_rate_per_client, 2 * limits.api_rate_per_client)
    total = RateLimiter(limits.api_rate_total, 2 * limits.api_rate_total)

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(LIMITED_PREFIXES):
            client = client_key(request.headers, request.remote, trust_forwarded_for=gateway.trust_forwarded_for)
            wait = per_client.take(client) or total.take()
            if wait:
                raise ApiError(429, "rate_limited", "Too many requests; slow down.", retry_after=wait)
        return await handler(request)

    return limit
