"""The agent API's desk tools: presence, offers, notes, canned replies, tags, transfer, search.

``GET /api/v1/agents``, ``PUT /api/v1/agents/me/presence``, ``POST /api/v1/agents/me/heartbeat``,
``GET /api/v1/offers``, ``POST /api/v1/handoffs/{id}/decline``, ``POST /api/v1/handoffs/{id}/notes``,
``PUT /api/v1/handoffs/{id}/tags``, ``POST /api/v1/handoffs/{id}/transfer``,
``GET /api/v1/canned-replies``, ``GET /api/v1/conversations`` (search), ``GET /api/v1/customers/{id}``
and ``GET /api/v1/escalations``. The agent is the bearer token's, as in :mod:`bot.gateway.agent_api`;
documented in docs/api.md.
"""

from __future__ import annotations

import datetime as dt
import re

from aiohttp import web

from bot.gateway.agent_api import acting_agent, handoff_id_of, signed_in_agent
from bot.gateway.api import read_json_object
from bot.gateway.errors import ApiError
from bot.gateway.keys import HANDOFFS, SETTINGS
from bot.handoff.events import Presence
from bot.handoff.lookup import ConversationQuery
from bot.handoff.router import PRESENCES

routes = web.RouteTableDef()

_NOT_FOUND = (404, "not_found", "No such handoff.")
_NOTE_ERRORS = {
    "not_found": _NOT_FOUND,
    "resolved": (409, "already_resolved", "This handoff is resolved."),
    "empty": (400, "invalid_text", "text must be a non-empty string."),
    "too_long": (400, "text_too_long", "text is too long."),
}
_TRANSFER_ERRORS = {
    "not_found": _NOT_FOUND,
    "not_yours": (409, "not_yours", "Only the agent who holds the handoff can transfer it."),
    "resolved": (409, "already_resolved", "This handoff is resolved."),
    "unknown_agent": (404, "unknown_agent", "No active agent with that id."),
    "agent_unavailable": (409, "agent_unavailable", "That agent is offline or at capacity."),
    "unknown_queue": (400, "unknown_queue", "queue is not one of data/routing.yml's queues."),
    "same_agent": (400, "same_agent", "You already hold this handoff."),
}
_CUSTOMER_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_CHANNELS = ("web", "direct", "telegram", "slack")


@routes.get("/api/v1/agents")
async def list_agents(request: web.Request) -> web.Response:
    """Every active agent with presence, load and capacity (for transfers)."""
    await signed_in_agent(request)
    agents = await request.app[HANDOFFS].agents()
    return web.json_response({"agents": [a.to_json() for a in agents]})


@routes.put("/api/v1/agents/me/presence")
async def set_presence(request: web.Request) -> web.Response:
    """Go online, away or offline; the console then keeps a heartbeat."""
    body, agent_id = await acting_agent(request)
    status = body.get("status")
    if status not in PRESENCES:
        raise ApiError(400, "invalid_presence", "status must be online, away or offline.")
    presence: Presence = status
    found = await request.app[HANDOFFS].set_presence(agent_id, presence, via="api")
    if found is None:
        raise ApiError(403, "agent_inactive", "This agent is not active.")
    return web.json_response(found.to_json())


@routes.post("/api/v1/agents/me/heartbeat")
async def heartbeat(request: web.Request) -> web.Response:
    """The console is still open (every 20 s; 90 s of silence takes the agent offline)."""
    agent = await signed_in_agent(request)
    found = await request.app[HANDOFFS].heartbeat(agent.id)
    if found is None:
        raise ApiError(403, "agent_inactive", "This agent is not active.")
    return web.json_response(found.to_json())


@routes.get("/api/v1/offers")
async def offers(request: web.Request) -> web.Response:
    """Handoffs offered to the signed-in agent now."""
    agent = await signed_in_agent(request)
    found = await request.app[HANDOFFS].offers(agent.id)
    return web.json_response({"offers": [view.to_json(with_packet=False) for view in found]})


@routes.post("/api/v1/handoffs/{handoff_id}/decline")
async def decline(request: web.Request) -> web.Response:
    """Let an offer pass to the next agent (or the queue's team)."""
    _, agent_id = await acting_agent(request)
    handoff_id = handoff_id_of(request)
    outcome = await request.app[HANDOFFS].decline(handoff_id, agent_id, via="api")
    if outcome == "not_found":
        raise ApiError(*_NOT_FOUND)
    if outcome == "not_offered":
        raise ApiError(409, "not_offered", "This handoff is not offered to you.")
    view = await request.app[HANDOFFS].get(handoff_id)
    return web.json_response({"id": handoff_id, "stage": view.stage if view else None})


@routes.post("/api/v1/handoffs/{handoff_id}/notes")
async def add_note(request: web.Request) -> web.Response:
    """An internal note (agents only; never sent to the customer)."""
    body, agent_id = await acting_agent(request)
    text = body.get("text")
    if not isinstance(text, str):
        raise ApiError(*_NOTE_ERRORS["empty"])
    if len(text) > request.app[SETTINGS].limits.max_message_chars:
        raise ApiError(*_NOTE_ERRORS["too_long"])
    result = await request.app[HANDOFFS].add_note(handoff_id_of(request), agent_id, text, via="api")
    if result.note is None:
        raise ApiError(*_NOTE_ERRORS[result.outcome])
    return web.json_response(result.note.to_json(), status=201)


@routes.put("/api/v1/handoffs/{handoff_id}/tags")
async def set_tags(request: web.Request) -> web.Response:
    """Replace the handoff's tags."""
    body, agent_id = await acting_agent(request)
    tags = body.get("tags")
    if not isinstance(tags, list):
        raise ApiError(400, "invalid_tags", "tags must be a list of words.")
    result = await request.app[HANDOFFS].set_tags(handoff_id_of(request), agent_id, tags)
    if result.outcome == "not_found":
        raise ApiError(*_NOT_FOUND)
    if result.outcome == "invalid":
        raise ApiError(400, "invalid_tags", "tags: at most 10 words of a-z, 0-9, _ and -, 30 characters each.")
    return web.json_response({"tags": list(result.tags)})


@routes.post("/api/v1/handoffs/{handoff_id}/transfer")
async def transfer(request: web.Request) -> web.Response:
    """Pass the handoff to another agent (``agent_id``) or a queue (``queue``), with an optional note."""
    agent_id = (await signed_in_agent(request)).id
    body = await read_json_object(request)
    handoff_id = handoff_id_of(request)
    # The target: ``to_agent`` (or ``agent_id``, which here names the agent handed to, never who acts).
    to_agent, to_queue, note = body.get("to_agent", body.get("agent_id")), body.get("queue"), body.get("note")
    if (to_agent is None) == (to_queue is None):
        raise ApiError(400, "invalid_transfer", "Give exactly one of to_agent or queue.")
    if (to_agent is not None and not isinstance(to_agent, str)) or (
        to_queue is not None and not isinstance(to_queue, str)
    ):
        raise ApiError(400, "invalid_transfer", "to_agent and queue must be strings.")
    if note is not None and not isinstance(note, str):
        raise ApiError(400, "invalid_note", "note must be a string.")
    result = await request.app[HANDOFFS].transfer(
        handoff_id, agent_id, to_agent=to_agent, to_queue=to_queue, note=note, via="api"
    )
    if result.outcome != "transferred":
        raise ApiError(*_TRANSFER_ERRORS[result.outcome])
    view = await request.app[HANDOFFS].get(handoff_id)
    return web.json_response(
        {
            "id": handoff_id,
            "status": view.status if view else None,
            "agent_id": view.agent_id if view else None,
            "queue": result.queue,
            "stage": view.stage if view else None,
        }
    )


@routes.get("/api/v1/canned-replies")
async def canned_replies(request: web.Request) -> web.Response:
    """The canned replies; filled from a handoff's packet with ``?handoff_id=``."""
    agent = await signed_in_agent(request)
    raw = request.query.get("handoff_id")
    handoff_id = None
    if raw is not None:
        if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
            raise ApiError(400, "invalid_handoff_id", "handoff_id must be a number.")
        handoff_id = int(raw)
        if await request.app[HANDOFFS].get(handoff_id) is None:
            raise ApiError(*_NOT_FOUND)
    replies = await request.app[HANDOFFS].canned_replies(handoff_id, agent.id)
    return web.json_response({"replies": [r.to_json() for r in replies]})


def _date(request: web.Request, name: str) -> dt.date | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "invalid_date", f"{name} must be a date (YYYY-MM-DD).") from None


@routes.get("/api/v1/conversations")
async def search(request: web.Request) -> web.Response:
    """Conversations by customer (id, name or email), order number, channel, dates and text."""
    await signed_in_agent(request)
    texts = {
        name: (request.query.get(name) or "").strip()[:200] or None for name in ("customer", "order", "channel", "text")
    }
    if texts["channel"] is not None and texts["channel"] not in _CHANNELS:
        raise ApiError(400, "invalid_channel", f"channel must be one of {', '.join(_CHANNELS)}.")
    query = ConversationQuery(
        customer=texts["customer"],
        order=texts["order"],
        channel=texts["channel"],
        since=_date(request, "since"),
        until=_date(request, "until"),
        text=texts["text"],
    )
    if query.empty():
        raise ApiError(400, "no_filter", "Give at least one of customer, order, channel, since, until or text.")
    return web.json_response({"conversations": await request.app[HANDOFFS].search(query)})


@routes.get("/api/v1/customers/{customer_id}")
async def customer(request: web.Request) -> web.Response:
    """One customer across channels: 30 days of conversations, open requests, orders and devices."""
    await signed_in_agent(request)
    customer_id = request.match_info["customer_id"]
    found = await request.app[HANDOFFS].customer_view(customer_id) if _CUSTOMER_ID.fullmatch(customer_id) else None
    if found is None:
        raise ApiError(404, "not_found", "No such customer.")
    return web.json_response(found)


@routes.get("/api/v1/escalations")
async def escalations(request: web.Request) -> web.Response:
    """Handoffs escalated and still waiting for an agent."""
    await signed_in_agent(request)
    found = await request.app[HANDOFFS].handoffs("open", escalated=True)
    return web.json_response({"handoffs": [view.to_json(with_packet=False) for view in found]})
