"""The agent HTTP API (bearer agent token): the handoff desk for any front end.

``GET /api/v1/handoffs?status=``, ``GET /api/v1/handoffs/{id}`` (packet and transcript),
``POST /api/v1/handoffs/{id}/claim``, ``POST /api/v1/handoffs/{id}/messages``,
``POST /api/v1/handoffs/{id}/resolve`` and ``POST /api/v1/handoffs/{id}/hand-back``. The
acting agent is named in the body as ``agent_id``. Documented in docs/api.md.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.gateway.api import read_json_object, require_token
from bot.gateway.errors import ApiError
from bot.gateway.keys import CONVERSATIONS, DESK, SETTINGS, STORE
from bot.gateway.validation import clean_text

routes = web.RouteTableDef()

STATUSES = ("open", "claimed", "resolved")
#: What the bot is told when an agent ends a handoff (intents of the dialogue model).
RESOLVED_INTENT = "handoff_resolved"
HANDED_BACK_INTENT = "handoff_handed_back"
_CLAIM_ERRORS = {
    "taken": (409, "already_claimed", "Another agent has claimed this handoff."),
    "resolved": (409, "already_resolved", "This handoff is resolved."),
    "not_found": (404, "not_found", "No such handoff."),
    "unknown_agent": (403, "unknown_agent", "agent_id is not an active agent."),
}
_CLOSE_ERRORS = {
    "not_yours": (409, "not_yours", "Another agent holds this handoff."),
    "not_claimed": (409, "not_claimed", "Claim the handoff first."),
    "already_resolved": (409, "already_resolved", "This handoff is resolved."),
    "not_found": (404, "not_found", "No such handoff."),
}


def _handoff_id(request: web.Request) -> int:
    raw = request.match_info["handoff_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise ApiError(404, "not_found", "No such handoff.")
    return int(raw)


async def _agent_body(request: web.Request) -> tuple[dict[str, Any], str]:
    require_token(request, request.app[SETTINGS].agent_token)
    body = await read_json_object(request)
    agent_id = body.get("agent_id")
    if not isinstance(agent_id, str) or not agent_id.strip() or len(agent_id) > 32:
        raise ApiError(400, "invalid_agent_id", "agent_id must be the id of an agent.")
    return body, agent_id.strip()


@routes.get("/api/v1/handoffs")
async def list_handoffs(request: web.Request) -> web.Response:
    """Handoffs, oldest first, optionally by status."""
    require_token(request, request.app[SETTINGS].agent_token)
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise ApiError(400, "invalid_status", "status must be open, claimed or resolved.")
    handoffs = await request.app[DESK].handoffs(status)
    return web.json_response({"handoffs": [h.to_json(with_packet=False) for h in handoffs]})


@routes.get("/api/v1/handoffs/{handoff_id}")
async def get_handoff(request: web.Request) -> web.Response:
    """One handoff: its packet and the conversation's full transcript."""
    require_token(request, request.app[SETTINGS].agent_token)
    view = await request.app[DESK].get(_handoff_id(request))
    if view is None:
        raise ApiError(404, "not_found", "No such handoff.")
    messages = await request.app[STORE].messages_after(view.conversation_id, 0, 1000)
    return web.json_response({**view.to_json(), "messages": [m.to_json() for m in messages]})


@routes.post("/api/v1/handoffs/{handoff_id}/claim")
async def claim(request: web.Request) -> web.Response:
    """Take an open handoff (409 when another agent was first)."""
    _, agent_id = await _agent_body(request)
    handoff_id = _handoff_id(request)
    outcome = await request.app[DESK].claim(handoff_id, agent_id)
    if outcome in _CLAIM_ERRORS:
        raise ApiError(*_CLAIM_ERRORS[outcome])
    if outcome == "claimed":
        await request.app[CONVERSATIONS].handoff_events.claimed(handoff_id, agent_id)
    return web.json_response({"id": handoff_id, "status": "claimed", "agent_id": agent_id})


@routes.post("/api/v1/handoffs/{handoff_id}/messages")
async def post_agent_message(request: web.Request) -> web.Response:
    """Send a reply to the customer, on their own channel (only the claiming agent)."""
    body, agent_id = await _agent_body(request)
    handoff_id = _handoff_id(request)
    text = body.get("text")
    if not isinstance(text, str) or not clean_text(text):
        raise ApiError(400, "invalid_text", "text must be a non-empty string.")
    text = clean_text(text)
    if len(text) > request.app[SETTINGS].max_message_chars:
        raise ApiError(400, "text_too_long", "text is too long.")
    desk = request.app[DESK]
    status, holder = await desk.holder(handoff_id)
    if status is None:
        raise ApiError(404, "not_found", "No such handoff.")
    if status != "claimed" or holder != agent_id:
        raise ApiError(409, "not_yours", "Only the agent who claimed the handoff can reply.")
    view = await desk.get(handoff_id)
    assert view is not None
    stored = await request.app[CONVERSATIONS].agent_message(handoff_id, agent_id, view.conversation_id, text)
    return web.json_response(stored.to_json(), status=201)


async def _close(request: web.Request, intent: str, how: str) -> web.Response:
    _, agent_id = await _agent_body(request)
    handoff_id = _handoff_id(request)
    desk = request.app[DESK]
    outcome = await desk.resolve(handoff_id, agent_id)
    if outcome in _CLOSE_ERRORS:
        raise ApiError(*_CLOSE_ERRORS[outcome])
    view = await desk.get(handoff_id)
    assert view is not None
    conversations = request.app[CONVERSATIONS]
    await conversations.handoff_events.closed(handoff_id, agent_id, how)
    replies = await conversations.bot_turn(view.conversation_id, intent)
    return web.json_response({"id": handoff_id, "status": "resolved", "bot_replies": [r.to_json() for r in replies]})


@routes.post("/api/v1/handoffs/{handoff_id}/resolve")
async def resolve(request: web.Request) -> web.Response:
    """Close the handoff; the bot takes the conversation back and asks for a CSAT score."""
    return await _close(request, RESOLVED_INTENT, "resolved")


@routes.post("/api/v1/handoffs/{handoff_id}/hand-back")
async def hand_back(request: web.Request) -> web.Response:
    """Close the handoff mid-troubleshooting; the bot resumes the guide where it stopped."""
    return await _close(request, HANDED_BACK_INTENT, "handed_back")
