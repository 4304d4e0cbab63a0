"""The agent HTTP API (bearer agent token): the handoff desk for any front end.

``GET /api/v1/handoffs?status=``, ``GET /api/v1/handoffs/{id}`` (packet and transcript),
``POST /api/v1/handoffs/{id}/claim``, ``POST /api/v1/handoffs/{id}/messages``,
``POST /api/v1/handoffs/{id}/resolve`` and ``POST /api/v1/handoffs/{id}/hand-back``. The
acting agent is named in the body as ``agent_id``. Documented in docs/api.md.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.core.text import clean_text
from bot.gateway.api import read_json_object, require_token
from bot.gateway.errors import ApiError
from bot.gateway.keys import HANDOFFS, SETTINGS, STORE
from bot.handoff.service import AgentClose

routes = web.RouteTableDef()

STATUSES = ("open", "claimed", "resolved")
_NOT_FOUND = (404, "not_found", "No such handoff.")
_CLAIM_ERRORS = {
    "taken": (409, "already_claimed", "Another agent has claimed this handoff."),
    "resolved": (409, "already_resolved", "This handoff is resolved."),
    "not_found": _NOT_FOUND,
    "unknown_agent": (403, "unknown_agent", "agent_id is not an active agent."),
}
_NOT_YOURS = (409, "not_yours", "Only the agent who claimed the handoff can reply.")
_REPLY_ERRORS = {
    "not_found": _NOT_FOUND,
    "resolved": _NOT_YOURS,
    "not_yours": _NOT_YOURS,
    "empty": (400, "invalid_text", "text must be a non-empty string."),
    "too_long": (400, "text_too_long", "text is too long."),
}
_CLOSE_ERRORS = {
    "not_yours": (409, "not_yours", "Another agent holds this handoff."),
    "not_claimed": (409, "not_claimed", "Claim the handoff first."),
    "already_resolved": (409, "already_resolved", "This handoff is resolved."),
    "not_found": _NOT_FOUND,
}


def _handoff_id(request: web.Request) -> int:
    raw = request.match_info["handoff_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise ApiError(*_NOT_FOUND)
    return int(raw)


def _require_agent_token(request: web.Request) -> None:
    require_token(request, request.app[SETTINGS].gateway.agent_token)


async def _agent_body(request: web.Request) -> tuple[dict[str, Any], str]:
    _require_agent_token(request)
    body = await read_json_object(request)
    agent_id = body.get("agent_id")
    if not isinstance(agent_id, str) or not agent_id.strip() or len(agent_id) > 32:
        raise ApiError(400, "invalid_agent_id", "agent_id must be the id of an agent.")
    return body, agent_id.strip()


@routes.get("/api/v1/handoffs")
async def list_handoffs(request: web.Request) -> web.Response:
    """Handoffs, oldest first, optionally by status."""
    _require_agent_token(request)
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise ApiError(400, "invalid_status", "status must be open, claimed or resolved.")
    handoffs = await request.app[HANDOFFS].handoffs(status)
    return web.json_response({"handoffs": [h.to_json(with_packet=False) for h in handoffs]})


@routes.get("/api/v1/handoffs/{handoff_id}")
async def get_handoff(request: web.Request) -> web.Response:
    """One handoff: its packet and the conversation's full transcript."""
    _require_agent_token(request)
    view = await request.app[HANDOFFS].get(_handoff_id(request))
    if view is None:
        raise ApiError(*_NOT_FOUND)
    messages = await request.app[STORE].messages_after(view.conversation_id, 0, 1000)
    return web.json_response({**view.to_json(), "messages": [m.to_json() for m in messages]})


@routes.post("/api/v1/handoffs/{handoff_id}/claim")
async def claim(request: web.Request) -> web.Response:
    """Take an open handoff (409 when another agent was first)."""
    _, agent_id = await _agent_body(request)
    handoff_id = _handoff_id(request)
    outcome = await request.app[HANDOFFS].claim(handoff_id, agent_id, via="api")
    if outcome in _CLAIM_ERRORS:
        raise ApiError(*_CLAIM_ERRORS[outcome])
    return web.json_response({"id": handoff_id, "status": "claimed", "agent_id": agent_id})


@routes.post("/api/v1/handoffs/{handoff_id}/messages")
async def post_agent_message(request: web.Request) -> web.Response:
    """Send a reply to the customer, on their own channel (only the claiming agent)."""
    body, agent_id = await _agent_body(request)
    handoff_id = _handoff_id(request)
    text = body.get("text")
    if not isinstance(text, str) or not clean_text(text):
        raise ApiError(*_REPLY_ERRORS["empty"])
    if len(clean_text(text)) > request.app[SETTINGS].limits.max_message_chars:
        raise ApiError(*_REPLY_ERRORS["too_long"])
    reply = await request.app[HANDOFFS].reply(handoff_id, agent_id, text, via="api")
    if reply.message is None:
        raise ApiError(*_REPLY_ERRORS[reply.outcome])
    return web.json_response(reply.message.to_json(), status=201)


async def _close(request: web.Request, how: AgentClose) -> web.Response:
    _, agent_id = await _agent_body(request)
    handoff_id = _handoff_id(request)
    closing = await request.app[HANDOFFS].close(handoff_id, agent_id, how, via="api")
    if closing.outcome in _CLOSE_ERRORS:
        raise ApiError(*_CLOSE_ERRORS[closing.outcome])
    replies = [r.to_json() for r in closing.bot_replies]
    return web.json_response({"id": handoff_id, "status": "resolved", "bot_replies": replies})


@routes.post("/api/v1/handoffs/{handoff_id}/resolve")
async def resolve(request: web.Request) -> web.Response:
    """Close the handoff; the bot takes the conversation back and asks for a CSAT score."""
    return await _close(request, "resolved")


@routes.post("/api/v1/handoffs/{handoff_id}/hand-back")
async def hand_back(request: web.Request) -> web.Response:
    """Close the handoff mid-troubleshooting; the bot resumes the guide where it stopped."""
    return await _close(request, "handed_back")
