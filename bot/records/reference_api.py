"""The reference records REST API (docs/records-api.md), served from the project database.

A company either runs this against its own database replica or implements the same
contract in front of its record system; the bot's :class:`~bot.records.http.HttpRecords`
speaks it. Run it with ``python -m bot records-api``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.records.backend import RecordsUnavailable
from bot.records.model import ServiceResult
from bot.records.sql import SqlRecords

_LOGGER = logging.getLogger(__name__)

RECORDS_KEY = web.AppKey("records", SqlRecords)
ENGINE_KEY = web.AppKey("engine", Engine)
TOKEN_KEY = web.AppKey("token", bytes)

MAX_LIMIT = 50
_MAX_ID_CHARS = 64
_MAX_EMAIL_CHARS = 320

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def _errors_and_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer-token auth on every route but /v1/health; every error is a JSON body."""
    if request.path != "/v1/health":
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        expected = request.app[TOKEN_KEY]
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            return _error(401, "unauthorized", "a valid bearer token is required")
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
    except RecordsUnavailable:
        return _error(503, "unavailable", "the record store is unavailable")


def _bad_request(message: str) -> web.Response:
    return _error(400, "bad_request", message)


def _limit(request: web.Request) -> int | web.Response:
    raw = request.query.get("limit", "5")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        return _bad_request(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def _path_value(request: web.Request, name: str) -> str | web.Response:
    value = request.match_info[name].strip()
    if not value or len(value) > _MAX_ID_CHARS:
        return _bad_request(f"{name} must be 1 to {_MAX_ID_CHARS} characters")
    return value


async def _orders(request: web.Request) -> web.Response:
    customer_id, limit = _path_value(request, "customer_id"), _limit(request)
    for problem in (customer_id, limit):
        if isinstance(problem, web.Response):
            return problem
    assert isinstance(customer_id, str) and isinstance(limit, int)
    orders = await request.app[RECORDS_KEY].recent_orders(customer_id, limit)
    return web.json_response({"orders": [order.to_dict() for order in orders]})


async def _order(request: web.Request) -> web.Response:
    customer_id, number = _path_value(request, "customer_id"), _path_value(request, "number")
    for problem in (customer_id, number):
        if isinstance(problem, web.Response):
            return problem
    assert isinstance(customer_id, str) and isinstance(number, str)
    order = await request.app[RECORDS_KEY].order(customer_id, number)
    if order is None:
        return _error(404, "not_found", "no such order for this customer")
    return web.json_response(order.to_dict())


async def _devices(request: web.Request) -> web.Response:
    customer_id = _path_value(request, "customer_id")
    if isinstance(customer_id, web.Response):
        return customer_id
    devices = await request.app[RECORDS_KEY].devices(customer_id)
    return web.json_response({"devices": [device.to_dict() for device in devices]})


async def _device(request: web.Request) -> web.Response:
    customer_id, serial = _path_value(request, "customer_id"), _path_value(request, "serial")
    for problem in (customer_id, serial):
        if isinstance(problem, web.Response):
            return problem
    assert isinstance(customer_id, str) and isinstance(serial, str)
    device = await request.app[RECORDS_KEY].device(customer_id, serial)
    if device is None:
        return _error(404, "not_found", "no such device for this customer")
    return web.json_response(device.to_dict())


async def _subscriptions(request: web.Request) -> web.Response:
    customer_id = _path_value(request, "customer_id")
    if isinstance(customer_id, web.Response):
        return customer_id
    subscriptions = await request.app[RECORDS_KEY].subscriptions(customer_id)
    return web.json_response({"subscriptions": [sub.to_dict() for sub in subscriptions]})


async def _invoices(request: web.Request) -> web.Response:
    customer_id, limit = _path_value(request, "customer_id"), _limit(request)
    for problem in (customer_id, limit):
        if isinstance(problem, web.Response):
            return problem
    assert isinstance(customer_id, str) and isinstance(limit, int)
    invoices = await request.app[RECORDS_KEY].invoices(customer_id, limit)
    return web.json_response({"invoices": [invoice.to_dict() for invoice in invoices]})


async def _customer_by_email(request: web.Request) -> web.Response:
    email = request.query.get("email", "").strip()
    if not email or "@" not in email or len(email) > _MAX_EMAIL_CHARS:
        return _bad_request("email must be an email address")
    customer_id = await request.app[RECORDS_KEY].customer_id_for_email(email)
    if customer_id is None:
        return _error(404, "not_found", "no customer with this email address")
    return web.json_response({"customer_id": customer_id})


async def _refund(request: web.Request) -> web.Response:
    customer_id, number = _path_value(request, "customer_id"), _path_value(request, "number")
    for problem in (customer_id, number):
        if isinstance(problem, web.Response):
            return problem
    assert isinstance(customer_id, str) and isinstance(number, str)
    refund = await request.app[RECORDS_KEY].refund(customer_id, number)
    if refund is None:
        return _error(404, "not_found", "no such order for this customer")
    return web.json_response(refund.to_dict())


_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_MAX_BODY_TEXT = 500


async def _change_body(request: web.Request, fields: tuple[str, ...]) -> dict[str, str] | web.Response:
    """The JSON body's ``idempotency_key`` and ``fields``, each a string; a 400 otherwise."""
    try:
        body = await request.json()
    except ValueError:
        return _bad_request("the body must be a JSON object")
    if not isinstance(body, dict):
        return _bad_request("the body must be a JSON object")
    key = body.get("idempotency_key")
    if not isinstance(key, str) or not _KEY.match(key):
        return _bad_request("idempotency_key must be 8 to 64 letters, digits, '-' or '_'")
    values = {"idempotency_key": key}
    for name in fields:
        value = body.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > _MAX_BODY_TEXT:
            return _bad_request(f"{name} must be a string of 1 to {_MAX_BODY_TEXT} characters")
        values[name] = value
    return values


def _change_handler(
    fields: tuple[str, ...],
    call: Callable[[SqlRecords, str, str | None, dict[str, str]], Awaitable[ServiceResult]],
    *,
    with_order: bool,
) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        customer_id = _path_value(request, "customer_id")
        if isinstance(customer_id, web.Response):
            return customer_id
        number: str | None = None
        if with_order:
            found = _path_value(request, "number")
            if isinstance(found, web.Response):
                return found
            number = found
        body = await _change_body(request, fields)
        if isinstance(body, web.Response):
            return body
        result = await call(request.app[RECORDS_KEY], customer_id, number, body)
        return web.json_response(result.to_dict())

    return handler


def _ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


async def _health(request: web.Request) -> web.Response:
    try:
        await asyncio.to_thread(_ping, request.app[ENGINE_KEY])
    except SQLAlchemyError:
        _LOGGER.warning("records_api.health_failed")
        return _error(503, "unavailable", "the record store is unavailable")
    return web.json_response({"status": "ok"})


def create_records_app(engine: Engine, token: str) -> web.Application:
    """The reference records API on ``engine`` (migrated schema), protected by bearer ``token``.

    Raises:
        ValueError: ``token`` is empty.
    """
    if not token:
        raise ValueError("the records API needs a bearer token (BOT_RECORDS_TOKEN)")
    app = web.Application(middlewares=[_errors_and_auth])
    app[RECORDS_KEY] = SqlRecords(engine)
    app[ENGINE_KEY] = engine
    app[TOKEN_KEY] = token.encode()
    prefix = "/v1/customers/{customer_id}"
    app.router.add_get("/v1/health", _health)
    app.router.add_get("/v1/customers", _customer_by_email)
    app.router.add_get(f"{prefix}/orders", _orders)
    app.router.add_get(prefix + "/orders/{number}", _order)
    app.router.add_get(f"{prefix}/devices", _devices)
    app.router.add_get(prefix + "/devices/{serial}", _device)
    app.router.add_get(f"{prefix}/subscriptions", _subscriptions)
    app.router.add_get(f"{prefix}/invoices", _invoices)
    order = prefix + "/orders/{number}"
    app.router.add_get(f"{order}/refund", _refund)
    app.router.add_post(
        f"{order}/cancellation",
        _change_handler((), lambda r, c, n, b: r.cancel_order(c, str(n), b["idempotency_key"]), with_order=True),
    )
    app.router.add_post(
        f"{order}/returns",
        _change_handler(
            ("reason",),
            lambda r, c, n, b: r.start_return(c, str(n), b["reason"], b["idempotency_key"]),
            with_order=True,
        ),
    )
    app.router.add_post(
        f"{order}/shipping-address",
        _change_handler(
            ("address",),
            lambda r, c, n, b: r.change_address(c, str(n), b["address"], b["idempotency_key"]),
            with_order=True,
        ),
    )
    app.router.add_post(
        f"{prefix}/contact",
        _change_handler(
            ("kind", "value"),
            lambda r, c, _n, b: r.update_contact(c, b["kind"], b["value"], b["idempotency_key"]),
            with_order=False,
        ),
    )
    app.router.add_post(
        f"{prefix}/marketing-opt-out",
        _change_handler((), lambda r, c, _n, b: r.marketing_opt_out(c, b["idempotency_key"]), with_order=False),
    )
    app.router.add_post(
        f"{prefix}/deletion-requests",
        _change_handler((), lambda r, c, _n, b: r.request_deletion(c, b["idempotency_key"]), with_order=False),
    )
    return app
