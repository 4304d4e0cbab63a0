"""The follow-up part of the direct API (integration token ``BOT_API_TOKEN``; docs/api.md, docs/notifications.md).

* ``POST /api/v1/orders/{number}/status``: the company's system reports that an order shipped,
  was delivered or had its refund issued; the order changes and the customer, if they opted in,
  gets one update in their linked chat.
* ``GET`` / ``PUT /api/v1/customers/{customer_id}/notifications``: a customer's order-update
  settings (the company's site sets them for a signed-in customer).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from aiohttp import web

from bot.gateway.api import read_json_object, require_token
from bot.gateway.errors import ApiError
from bot.gateway.keys import NOTIFICATION_PREFERENCES, ORDER_NOTIFICATIONS, ORDER_STATUS, SETTINGS
from bot.notifications.preferences import (
    PreferenceError,
    Preferences,
    QuietHours,
    UnknownCustomer,
    check_timezone,
    parse_time,
)
from bot.records.status import MAX_CARRIER, MAX_TRACKING, ORDER_EVENTS, StatusRefused

_LOGGER = logging.getLogger(__name__)

routes = web.RouteTableDef()

#: An order number as a path segment: an optional '#' and 1-20 letters, digits or '-'.
_ORDER = re.compile(r"#?[A-Za-z0-9-]{1,20}")
#: A customer id as a path segment.
_CUSTOMER = re.compile(r"[A-Za-z0-9_-]{1,32}")
_UNKNOWN_ORDER = (404, "unknown_order", "No order with that number.")
_UNKNOWN_CUSTOMER = (404, "unknown_customer", "No customer with that id.")


def _utc(moment: dt.datetime | None) -> str | None:
    return moment.replace(tzinfo=dt.timezone.utc).isoformat().replace("+00:00", "Z") if moment else None


def _optional_text(body: dict[str, Any], key: str, limit: int) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value.strip()) > limit:
        raise ApiError(400, f"invalid_{key}", f"{key} must be a string of at most {limit} characters.")
    return value.strip() or None


@routes.post("/api/v1/orders/{number}/status")
async def post_order_status(request: web.Request) -> web.Response:
    """Apply a reported status change and notify the customer once."""
    require_token(request, request.app[SETTINGS].gateway.api_token)
    number = request.match_info["number"]
    body = await read_json_object(request)
    status = body.get("status")
    if not isinstance(status, str) or status not in ORDER_EVENTS:
        raise ApiError(400, "unknown_status", f"status must be one of {', '.join(ORDER_EVENTS)}.")
    carrier = _optional_text(body, "carrier", MAX_CARRIER)
    tracking = _optional_text(body, "tracking_number", MAX_TRACKING)
    if not _ORDER.fullmatch(number):
        raise ApiError(*_UNKNOWN_ORDER)
    try:
        change = await request.app[ORDER_STATUS].apply(number, status, carrier=carrier, tracking_number=tracking)
    except StatusRefused as refused:
        if refused.reason == "unknown_order":
            raise ApiError(*_UNKNOWN_ORDER) from None
        raise ApiError(
            409, "impossible_transition", f"The order is {refused.current} and cannot become {status}."
        ) from None
    recorded = await request.app[ORDER_NOTIFICATIONS].order_changed(change)
    _LOGGER.info("orders.status_reported event=%s changed=%s notification=%s", status, change.changed, recorded.outcome)
    return web.json_response(
        {
            "order_number": change.order_number,
            "status": status,
            "changed": change.changed,
            "notification": {"outcome": recorded.outcome, "due_at": _utc(recorded.due_at)},
        }
    )


def _customer_id(request: web.Request) -> str:
    raw = request.match_info["customer_id"]
    if not _CUSTOMER.fullmatch(raw):
        raise ApiError(*_UNKNOWN_CUSTOMER)
    return raw


@routes.get("/api/v1/customers/{customer_id}/notifications")
async def get_notification_settings(request: web.Request) -> web.Response:
    """A customer's order-update settings (all off when never set)."""
    require_token(request, request.app[SETTINGS].gateway.api_token)
    try:
        preferences = await request.app[NOTIFICATION_PREFERENCES].get(_customer_id(request))
    except UnknownCustomer:
        raise ApiError(*_UNKNOWN_CUSTOMER) from None
    return web.json_response(preferences.to_json())


def parse_preferences(customer_id: str, body: dict[str, Any]) -> Preferences:
    """A ``PUT`` body as settings: ``order_updates`` (required), ``quiet_hours``, ``timezone``.

    Raises:
        ApiError: 400 saying which field is wrong.
    """
    order_updates = body.get("order_updates")
    if not isinstance(order_updates, bool):
        raise ApiError(400, "invalid_order_updates", "order_updates must be true or false.")
    try:
        timezone = check_timezone(body.get("timezone", "UTC"))
        quiet = body.get("quiet_hours")
        quiet_hours = None
        if quiet is not None:
            if not isinstance(quiet, dict) or set(quiet) != {"start", "end"}:
                raise PreferenceError('quiet_hours must be null or {"start": "HH:MM", "end": "HH:MM"}')
            quiet_hours = QuietHours(
                parse_time(quiet["start"], "quiet_hours.start"), parse_time(quiet["end"], "quiet_hours.end")
            )
    except PreferenceError as exc:
        raise ApiError(400, "invalid_settings", f"{exc}.") from None
    return Preferences(customer_id, order_updates, quiet_hours, timezone)


@routes.put("/api/v1/customers/{customer_id}/notifications")
async def put_notification_settings(request: web.Request) -> web.Response:
    """Set a customer's order-update settings (the whole of them: a missing field takes its default)."""
    require_token(request, request.app[SETTINGS].gateway.api_token)
    customer_id = _customer_id(request)
    preferences = parse_preferences(customer_id, await read_json_object(request))
    try:
        stored = await request.app[NOTIFICATION_PREFERENCES].put(preferences)
    except UnknownCustomer:
        raise ApiError(*_UNKNOWN_CUSTOMER) from None
    _LOGGER.info("notifications.settings_changed order_updates=%s", stored.order_updates)
    return web.json_response(stored.to_json())
