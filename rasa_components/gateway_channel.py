"""The customer channel into Rasa: the REST channel, refusing every request the gateway did not sign.

Rasa's ``--auth-token`` protects its HTTP API but not input-channel webhooks, so anything that
reached the stock ``rest`` channel could speak as any customer. This channel (enabled in
``credentials.yml`` by its module path, with ``secret: ${BOT_RASA_CHANNEL_SECRET}``) answers
``POST /webhooks/gateway/webhook`` like the REST channel, but only after checking the
signature of ``bot/dialogue/signing.py`` over the raw body: a request whose signature is
missing, wrong or outside the time window, or whose nonce was seen before, gets 401 and is
not processed. ``GET /webhooks/gateway/`` (a health answer, no data) stays open.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.dialogue.signing import MAX_AGE_S, NONCE_HEADER, signature_problem
from rasa_components import serving

_LOGGER = logging.getLogger(__name__)
_SWEEP_ABOVE = 1024


class SeenNonces:
    """The nonces of accepted requests, kept while their timestamps are inside the window.

    A request copied off the wire and sent again within the window carries a nonce already
    seen and is refused; outside the window its timestamp refuses it. One Rasa process
    (``rasa run`` serves with one worker) holds its own set.
    """

    def __init__(self, keep_s: float = 2 * MAX_AGE_S) -> None:
        """Remember each nonce for ``keep_s`` seconds (the window both ways)."""
        self._keep_s = keep_s
        self._expiry: dict[str, float] = {}
        self._sweep_above = _SWEEP_ABOVE

    def first_time(self, nonce: str, now: float | None = None) -> bool:
        """Record ``nonce``; ``False`` when it was seen before (a replay)."""
        clock = time.monotonic() if now is None else now
        if len(self._expiry) > self._sweep_above:  # forget expired nonces now and then, not on every request
            self._expiry = {n: t for n, t in self._expiry.items() if t > clock}
            self._sweep_above = max(_SWEEP_ABOVE, 2 * len(self._expiry))
        if self._expiry.get(nonce, 0.0) > clock:
            return False
        self._expiry[nonce] = clock + self._keep_s
        return True


class GatewayInput(RestInput):
    """The REST channel behind the gateway's HMAC signature (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        """The channel's name: its webhook is ``/webhooks/gateway/webhook``."""
        return "gateway"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Build the channel from its ``credentials.yml`` entry (``secret``).

        Raises:
            RasaException: no secret (Rasa would otherwise accept unsigned messages).
        """
        # A customer may type "/intent{...}" with an order number in it; Rasa then
        # warns with the whole line, which would put personal data in rasa.log.
        # Rasa's own start-up resets warning filters, so this one goes in here,
        # after it, rather than in PYTHONWARNINGS.
        warnings.filterwarnings("ignore", message="Failed to parse arguments", category=UserWarning)
        serving.install()  # the hot-path fixes of rasa_components/serving.py, in this Rasa server only
        secret = (credentials or {}).get("secret")
        if isinstance(secret, str) and secret:
            return cls(secret)
        cls.raise_missing_credentials_exception()

    def __init__(self, secret: str) -> None:
        """Accept only requests signed with ``secret`` (``BOT_RASA_CHANNEL_SECRET``)."""
        if not secret:
            raise ValueError("the channel secret must not be empty")
        self._secret = secret
        self._nonces = SeenNonces()

    def refusal(self, request: Request) -> str | None:
        """Why ``request`` must be refused, or ``None`` to process it."""
        problem = signature_problem(self._secret, request.body or b"", request.headers)
        if problem is None and not self._nonces.first_time(str(request.headers.get(NONCE_HEADER))):
            problem = "replayed"
        return problem

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The REST channel's routes, with every request but the health answer checked first."""
        channel = super().blueprint(on_new_message)

        @channel.middleware("request")
        async def require_signature(request: Request) -> HTTPResponse | None:
            if request.method in ("GET", "HEAD") and request.path.rstrip("/").endswith(f"/webhooks/{self.name()}"):
                return None  # the health answer: no data
            problem = self.refusal(request)
            if problem is None:
                return None
            _LOGGER.warning("channel.refused reason=%s", problem)
            return response.json({"error": "unauthorized"}, status=401)

        return channel
