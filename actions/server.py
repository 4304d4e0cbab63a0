"""The action server, behind Rasa's credential: ``python -m actions.server [--host H] [--port P]``.

Rasa SDK 3.6 serves ``/webhook`` (run an action on the tracker it is sent, customer records
included) and ``/actions`` with no authentication at all. This launcher builds the same app
(``rasa_sdk.endpoint.create_app``) and puts a request middleware in front of it: every
request except ``GET /health`` must carry ``Authorization: Bearer <BOT_ACTION_TOKEN>``
(compared in constant time), which Rasa sends from ``endpoints.yml``; anything else gets
401 before an action runs. The host and port default to ``BOT_ACTION_HOST`` and
``BOT_ACTION_PORT``; the token only ever comes from the settings, never the command line.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import threading

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions import services
from bot.settings import load_settings

_LOGGER = logging.getLogger(__name__)
#: Paths answered without the token: they reveal nothing but "the server is up".
OPEN_PATHS = frozenset({"/health"})


def authorized(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>`` (constant time; no token matches nothing)."""
    if not token or not header:
        return False
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def create_action_app(token: str, actions_package: str = "actions", timeout_s: float = 20.0) -> Sanic:
    """Rasa SDK's action server app, answering 401 to every call without ``token`` but the health probe.

    An action still running after ``timeout_s`` (``BOT_ACTION_TIMEOUT``) is answered 503 by
    Sanic, so Rasa (which would wait 300 s) fails the action well inside its conversation lock.

    Raises:
        ValueError: an empty token (the server would be open to anyone).
    """
    if not token:
        raise ValueError("the action server token must not be empty")
    app = create_app(actions_package, cors_origins="")  # no browser ever calls the action server
    app.config.RESPONSE_TIMEOUT = timeout_s

    @app.middleware("request")
    async def require_token(request: Request) -> HTTPResponse | None:
        if request.method in ("GET", "HEAD") and request.path in OPEN_PATHS:
            return None
        if authorized(request.headers.get("Authorization"), token):
            return None
        _LOGGER.warning("actions.refused path=%s", request.path)
        return response.json({"error": "unauthorized"}, status=401)

    return app


def _warm_up() -> None:
    try:
        services.help_index()
    except Exception:  # the first help question raises it again, as a clear error in that action
        _LOGGER.exception("actions.help_warm_up_failed")


def main(argv: list[str] | None = None) -> None:
    """Serve the actions until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m actions.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", help="interface to listen on (default BOT_ACTION_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (default BOT_ACTION_PORT)")
    args = parser.parse_args(argv)
    settings = load_settings()
    utils.configure_colored_logging(settings.log_level)
    utils.update_sanic_log_level()
    app = create_action_app(settings.dialogue.action_token, timeout_s=settings.dialogue.action_timeout_s)
    host = args.host or settings.dialogue.action_host
    port = args.port if args.port is not None else settings.dialogue.action_port
    _LOGGER.info("actions.serving host=%s port=%d", host, port)
    # Load the help center's encoder and index now, not at the first customer's question (seconds).
    threading.Thread(target=_warm_up, name="help-warm-up", daemon=True).start()
    app.run(host=host, port=port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()
