"""The agent HTTP API: the handoff desk for any front end, each agent with their own token.

``GET /api/v1/agents/me``, ``GET /api/v1/handoffs?status=``, ``GET /api/v1/handoffs/{id}``
(packet and transcript), ``POST /api/v1/handoffs/{id}/claim``, ``POST /api/v1/handoffs/{id}/messages``,
``POST /api/v1/handoffs/{id}/resolve`` and ``POST /api/v1/handoffs/{id}/hand-back``.

Every request carries ``Authorization: Bearer <the agent's own token>`` (``python -m bot agents
token ID``), and the acting agent is the token's. A body may still name ``agent_id`` (older
clients did): it must be the token's agent, or the request is refused; it never chooses who
acts. Documented in docs/api.md.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

from bot.core.text import clean_text
from bot.gateway.api import bearer_token, read_json_object
from bot.gateway.errors import ApiError
from bot.gateway.keys import AGENTS, HANDOFFS, INBOX, INBOX_WORKER, OUTBOX, OUTBOX_WORKER, SETTINGS, STORE
from bot.handoff.agents import AgentIdentity
from bot.handoff.service import AgentClose

routes = web.RouteTableDef()

STATUSES = ("open", "claimed", "resolved")
_NOT_FOUND = (404, "not_found", "No such handoff.")
_CLAIM_ERRORS = {
    "taken": (409, "already_claimed", "Another agent has claimed this handoff."),
    "resolved": (409, "already_resolved", "This handoff is resolved."),
    "not_found": _NOT_FOUND,
    "unknown_agent": (403, "agent_inactive", "This agent is not active."),
    "offered_to_another": (409, "offered_to_another", "This handoff is offered to another agent right now."),
}
_NOT_YOURS = (409, "not_yours", "Only the agent who claimed the handoff can reply.")
_REPLY_ERRORS = {
    "not_found": _NOT_FOUND,
    "resolved": _NOT_YOURS,
    "not_yours": _NOT_YOURS,
    "empty": (400, "invalid_text", "text must be a non-empty string."),
    "too_long": (400, "text_too_long", "text is too long."),
    "unknown_reply": (404, "unknown_canned_reply", "No canned reply with that id."),
    "unfilled": (409, "unfilled_placeholders", "A placeholder of this canned reply cannot be filled; complete it."),
}
_CLOSE_ERRORS = {
    "not_yours": (409, "not_yours", "Another agent holds this handoff."),
    "not_claimed": (409, "not_claimed", "Claim the handoff first."),
    "already_resolved": (409, "already_resolved", "This handoff is resolved."),
    "not_found": _NOT_FOUND,
}


#: Ids in paths: 1-12 ASCII digits ("²" passes str.isdigit() but is no number).
_ID = re.compile(r"[0-9]{1,12}")


def handoff_id_of(request: web.Request) -> int:
    """The handoff id of the path (404 when it is no id)."""
    raw = request.match_info["handoff_id"]
    if not _ID.fullmatch(raw):
        raise ApiError(*_NOT_FOUND)
    return int(raw)


_TOKEN_REFUSED = {
    "unknown": (401, "unauthorized", "Invalid token."),
    "revoked": (401, "token_revoked", "This agent token was revoked; ask for a new one."),
    "inactive": (403, "agent_inactive", "This agent is not active."),
}


async def signed_in_agent(request: web.Request) -> AgentIdentity:
    """The agent whose token the request carries (the agent API's and the console's sign-in).

    Raises:
        ApiError: 401 for a missing, unknown or revoked token; 403 when the agent is not active.
    """
    check = await asyncio.to_thread(request.app[AGENTS].check, bearer_token(request))
    if check.outcome != "agent" or check.agent is None:
        raise ApiError(*_TOKEN_REFUSED.get(check.outcome, _TOKEN_REFUSED["unknown"]))
    return check.agent


async def acting_agent(request: web.Request) -> tuple[dict[str, Any], str]:
    """The request's body (``{}`` when there is none) and the id of the token's agent.

    Raises:
        ApiError: 403 ``agent_mismatch`` when the body names another agent than the token's.
    """
    agent = await signed_in_agent(request)
    body = await read_json_object(request) if request.body_exists else {}
    if "agent_id" in body and body["agent_id"] != agent.id:
        raise ApiError(403, "agent_mismatch", "agent_id is not the agent of this token; leave it out.")
    return body, agent.id


@routes.get("/api/v1/agents/me")
async def me(request: web.Request) -> web.Response:
    """Who the token belongs to, with presence, load and what they work."""
    agent = await signed_in_agent(request)
    status = await request.app[HANDOFFS].agent_status(agent.id)
    return web.json_response(status.to_json() if status is not None else {"id": agent.id, "name": agent.name})


@routes.get("/api/v1/handoffs")
async def list_handoffs(request: web.Request) -> web.Response:
    """Handoffs, oldest first, optionally by status."""
    await signed_in_agent(request)
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise ApiError(400, "invalid_status", "status must be open, claimed or resolved.")
    queue = request.query.get("queue") or None
    if queue is not None and request.app[HANDOFFS].router.rules.queue(queue) is None:
        raise ApiError(400, "unknown_queue", "queue is not one of data/routing.yml's queues.")
    handoffs = await request.app[HANDOFFS].handoffs(status, queue=queue)
    return web.json_response({"handoffs": [h.to_json(with_packet=False) for h in handoffs]})


@routes.get("/api/v1/handoffs/{handoff_id}")
async def get_handoff(request: web.Request) -> web.Response:
    """One handoff: its packet, the transcript, the agents' notes and the customer across channels."""
    await signed_in_agent(request)
    handoffs = request.app[HANDOFFS]
    view = await handoffs.get(handoff_id_of(request))
    if view is None:
        raise ApiError(*_NOT_FOUND)
    messages = await request.app[STORE].messages_after(view.conversation_id, 0, 1000)
    notes = await handoffs.notes(view.id)
    customer_id = await handoffs.lookup.customer_of(view.conversation_id)
    customer = await handoffs.customer_view(customer_id) if customer_id else None
    return web.json_response(
        {
            **view.to_json(),
            "messages": [m.to_json() for m in messages],
            "notes": [n.to_json() for n in notes],
            "customer_view": customer,
        }
    )


@routes.post("/api/v1/handoffs/{handoff_id}/claim")
async def claim(request: web.Request) -> web.Response:
    """Take an open handoff (409 when another agent was first)."""
    _, agent_id = await acting_agent(request)
    handoff_id = handoff_id_of(request)
    outcome = await request.app[HANDOFFS].claim(handoff_id, agent_id, via="api")
    if outcome in _CLAIM_ERRORS:
        raise ApiError(*_CLAIM_ERRORS[outcome])
    return web.json_response({"id": handoff_id, "status": "claimed", "agent_id": agent_id})


@routes.post("/api/v1/handoffs/{handoff_id}/messages")
async def post_agent_message(request: web.Request) -> web.Response:
    """Send a reply to the customer, on their own channel (only the claiming agent)."""
    body, agent_id = await acting_agent(request)
    handoff_id = handoff_id_of(request)
    canned = body.get("canned_reply")
    if canned is not None:
        if not isinstance(canned, str):
            raise ApiError(400, "invalid_canned_reply", "canned_reply must be the id of a canned reply.")
        reply = await request.app[HANDOFFS].reply_canned(handoff_id, agent_id, canned, via="api")
        if reply.message is None:
            raise ApiError(*_REPLY_ERRORS[reply.outcome])
        return web.json_response(reply.message.to_json(), status=201)
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
    _, agent_id = await acting_agent(request)
    handoff_id = handoff_id_of(request)
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


def _dead_letter_id(request: web.Request) -> int:
    raw = request.match_info["item_id"]
    if not _ID.fullmatch(raw):
        raise ApiError(404, "not_found", "No such dead letter.")
    return int(raw)


@routes.get("/api/v1/dead-letters")
async def list_dead_letters(request: web.Request) -> web.Response:
    """Customer messages and replies given up after a day of retries (or refused for good by the platform)."""
    await signed_in_agent(request)
    events = await request.app[INBOX].dead_letters()
    replies = await request.app[OUTBOX].dead_letters()
    return web.json_response(
        {
            "inbox": [
                {
                    "id": e.id,
                    "platform": e.platform,
                    "conversation_id": e.conversation_id,
                    "attempts": e.attempts,
                    "error": e.error,
                }
                for e in events
            ],
            "outbox": [
                {
                    "id": r.id,
                    "platform": r.platform,
                    "conversation_id": r.conversation_id,
                    "message_cursor": r.message_id,
                    "attempts": r.attempts,
                    "error": r.error,
                }
                for r in replies
            ],
        }
    )


@routes.post("/api/v1/dead-letters/inbox/{item_id}/retry")
async def retry_dead_event(request: web.Request) -> web.Response:
    """Process a given-up customer message again (a new day of attempts)."""
    await signed_in_agent(request)
    if not await request.app[INBOX].revive(_dead_letter_id(request)):
        raise ApiError(404, "not_found", "No such dead letter.")
    request.app[INBOX_WORKER].wake()
    return web.json_response({"retried": True})


@routes.post("/api/v1/dead-letters/outbox/{item_id}/retry")
async def retry_dead_reply(request: web.Request) -> web.Response:
    """Send a given-up reply again (a new day of attempts)."""
    await signed_in_agent(request)
    if not await request.app[OUTBOX].revive(_dead_letter_id(request)):
        raise ApiError(404, "not_found", "No such dead letter.")
    request.app[OUTBOX_WORKER].wake()
    return web.json_response({"retried": True})
