"""``GET /metrics``: the gateway's numbers in Prometheus' text format (no personal data)."""

from __future__ import annotations

from aiohttp import web

from bot.gateway.keys import INBOX, OUTBOX

routes = web.RouteTableDef()


def _gauge(name: str, help_text: str, label: str, values: dict[str, int]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    lines += [f'{name}{{{label}="{key}"}} {value}' for key, value in sorted(values.items())]
    return lines


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Queue depths by state, dead letters included (``state="dead"``)."""
    inbox = await request.app[INBOX].counts()
    outbox = await request.app[OUTBOX].counts()
    dead = {"inbox": inbox.get("dead", 0), "outbox": outbox.get("dead", 0)}
    lines = [
        *_gauge("bot_inbox_events", "Customer messages in the durable inbox, by state.", "state", inbox),
        *_gauge("bot_outbox_replies", "Replies in the durable outbox, by state.", "state", outbox),
        *_gauge("bot_dead_letters", "Messages and replies given up after a day of retries.", "queue", dead),
    ]
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain", charset="utf-8")
