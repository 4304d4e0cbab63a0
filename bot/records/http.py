"""Customer records from an external system over HTTP (the contract in docs/records-api.md).

Latency is bounded. Each attempt has a total timeout of ``timeout_s`` (at most 3 s); 5xx
answers, connection errors and timeouts are retried ``retries`` times after an exponential
backoff (``backoff_s``, then twice that, ...); and the whole call, retries included, never
takes longer than ``deadline_s`` (default 2.5 s): each attempt's timeout is cut to the time
left, and no retry starts without at least 50 ms left. Example: ``timeout_s=1``,
``retries=2``, ``backoff_s=0.2`` would take 1 + 0.2 + 1 + 0.4 + 1 = 3.6 s; the deadline stops
it after the second attempt (2.2 s). With the default ``timeout_s=2.5`` there is one attempt.
While the circuit breaker is open, calls fail at once. So the bot answers within 4 s even
with the dialogue's own work on top (measured end to end: tests/e2e/test_records.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.records.backend import RecordsUnavailable, clamp_limit, normalise_order_number
from bot.records.breaker import CircuitBreaker
from bot.records.model import DeviceInfo, InvoiceInfo, OrderInfo, RefundInfo, ServiceResult, SubscriptionInfo

_LOGGER = logging.getLogger(__name__)

#: Per-attempt timeout ceiling (seconds), the contract with the record system.
MAX_TIMEOUT_S = 3.0
#: Default ceiling on one call, retries and backoff included (seconds).
DEFAULT_DEADLINE_S = 2.5
#: A retry is not started with less time than this left before the deadline.
_MIN_ATTEMPT_S = 0.05


class _Retryable(Exception):
    """An attempt failed in a way worth retrying (5xx, connection error, timeout)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _segment(value: str) -> str:
    return quote(value, safe="")


class HttpRecords:
    """A :class:`~bot.records.backend.RecordsBackend` calling the records REST API with aiohttp."""

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout_s: float = 2.5,
        retries: int = 2,
        backoff_s: float = 0.2,
        breaker: CircuitBreaker | None = None,
        *,
        deadline_s: float = DEFAULT_DEADLINE_S,
    ) -> None:
        """Configure the client; no connection is made until the first call.

        Args:
            base_url: The API root, e.g. ``https://records.internal`` (``/v1/...`` is appended).
            token: Bearer token sent in the ``Authorization`` header.
            timeout_s: Total timeout of one attempt, above 0 and at most 3 s.
            retries: Extra attempts after a 5xx, a connection error or a timeout.
            backoff_s: Wait before the first retry; doubled before each further one.
            breaker: Circuit breaker (default: 5 failed calls open it for 30 s).
            deadline_s: Ceiling on one call, retries and backoff included.
        """
        if not 0 < timeout_s <= MAX_TIMEOUT_S:
            raise ValueError(f"timeout_s must be above 0 and at most {MAX_TIMEOUT_S}")
        if retries < 0 or backoff_s < 0 or deadline_s <= 0:
            raise ValueError("retries and backoff_s must not be negative, deadline_s must be positive")
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.deadline_s = deadline_s
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self._session: aiohttp.ClientSession | None = None

    @property
    def worst_case_s(self) -> float:
        """The longest one call can take (before event-loop scheduling jitter)."""
        tries = self.retries + 1
        backoff = sum(self.backoff_s * 2**i for i in range(self.retries))
        return min(self.deadline_s, tries * self.timeout_s + backoff)

    async def close(self) -> None:
        """Close the HTTP session (a later call opens a new one)."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers)
        return self._session

    async def _get(self, kind: str, path: str, params: dict[str, str] | None = None) -> Any | None:
        """GET ``path``: the JSON body, None on 404; raises RecordsUnavailable otherwise."""
        return await self._call(kind, "GET", path, params, None)

    async def _post(self, kind: str, path: str, body: dict[str, Any]) -> Any | None:
        """POST ``body`` to ``path`` (safe to retry: every change carries its idempotency key)."""
        return await self._call(kind, "POST", path, None, body)

    async def _call(
        self, kind: str, method: str, path: str, params: dict[str, str] | None, payload: dict[str, Any] | None
    ) -> Any | None:
        self.breaker.before_call()
        succeeded = False
        try:
            body = await self._with_retries(kind, method, path, params, payload)
            succeeded = True
            return body
        finally:
            if succeeded:
                self.breaker.record_success()
            else:
                self.breaker.record_failure()

    async def _with_retries(
        self, kind: str, method: str, path: str, params: dict[str, str] | None, payload: dict[str, Any] | None
    ) -> Any | None:
        deadline = time.monotonic() + self.deadline_s
        attempt = 0
        while True:
            left = deadline - time.monotonic()
            try:
                return await self._attempt(method, path, params, payload, min(self.timeout_s, left))
            except _Retryable as exc:
                delay = self.backoff_s * 2**attempt
                attempt += 1
                left = deadline - time.monotonic() - delay
                if attempt > self.retries or left < _MIN_ATTEMPT_S:
                    _LOGGER.warning("records.http_unavailable kind=%s attempts=%d reason=%s", kind, attempt, exc.reason)
                    raise RecordsUnavailable("the record system did not answer") from None
                _LOGGER.info("records.http_retry kind=%s attempt=%d reason=%s", kind, attempt, exc.reason)
                await asyncio.sleep(delay)

    async def _attempt(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        payload: dict[str, Any] | None,
        timeout_s: float,
    ) -> Any | None:
        url = f"{self._base_url}{path}"
        try:
            async with self._client().request(
                method,
                url,
                params=params,
                json=payload,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
                allow_redirects=False,
            ) as response:
                if response.status >= 500:
                    raise _Retryable(f"status_{response.status}")
                if response.status == 404:
                    return None
                if response.status != 200:
                    _LOGGER.warning("records.http_rejected status=%d", response.status)
                    raise RecordsUnavailable(f"the record system refused the request (HTTP {response.status})")
                try:
                    return await response.json()
                except (ValueError, aiohttp.ContentTypeError):
                    _LOGGER.warning("records.http_bad_body")
                    raise RecordsUnavailable("the record system sent an unreadable answer") from None
        except asyncio.TimeoutError:
            raise _Retryable("timeout") from None
        except aiohttp.ClientError as exc:
            raise _Retryable(type(exc).__name__) from None

    def _customer(self, customer_id: str) -> str:
        return f"/v1/customers/{_segment(customer_id)}"

    async def order(self, customer_id: str, number: str) -> OrderInfo | None:
        """The customer's order, or None (404)."""
        wanted = normalise_order_number(number)
        if not wanted:
            return None
        body = await self._get("order", f"{self._customer(customer_id)}/orders/{_segment(wanted)}")
        return _parse(OrderInfo.from_dict, body) if body is not None else None

    async def recent_orders(self, customer_id: str, limit: int = 5) -> list[OrderInfo]:
        """The customer's newest orders first."""
        params = {"limit": str(clamp_limit(limit))}
        body = await self._get("orders", f"{self._customer(customer_id)}/orders", params)
        return _parse_list(OrderInfo.from_dict, body, "orders")

    async def devices(self, customer_id: str) -> list[DeviceInfo]:
        """The customer's devices."""
        body = await self._get("devices", f"{self._customer(customer_id)}/devices")
        return _parse_list(DeviceInfo.from_dict, body, "devices")

    async def device(self, customer_id: str, serial: str) -> DeviceInfo | None:
        """The customer's device by serial, or None (404)."""
        wanted = serial.strip()
        if not wanted:
            return None
        body = await self._get("device", f"{self._customer(customer_id)}/devices/{_segment(wanted)}")
        return _parse(DeviceInfo.from_dict, body) if body is not None else None

    async def subscriptions(self, customer_id: str) -> list[SubscriptionInfo]:
        """The customer's subscriptions."""
        body = await self._get("subscriptions", f"{self._customer(customer_id)}/subscriptions")
        return _parse_list(SubscriptionInfo.from_dict, body, "subscriptions")

    async def invoices(self, customer_id: str, limit: int = 5) -> list[InvoiceInfo]:
        """The customer's newest invoices first."""
        params = {"limit": str(clamp_limit(limit))}
        body = await self._get("invoices", f"{self._customer(customer_id)}/invoices", params)
        return _parse_list(InvoiceInfo.from_dict, body, "invoices")

    async def customer_id_for_email(self, email: str) -> str | None:
        """The customer id for ``email``, or None (404). The address goes in the query, never in a log."""
        wanted = email.strip()
        if not wanted:
            return None
        body = await self._get("customer", "/v1/customers", {"email": wanted})
        if body is None:
            return None
        customer_id = body.get("customer_id") if isinstance(body, dict) else None
        if not isinstance(customer_id, str) or not customer_id:
            _LOGGER.warning("records.http_bad_body kind=customer")
            raise RecordsUnavailable("the record system sent an unreadable answer")
        return customer_id

    # -- self-service changes (POST, each with its idempotency key) ---------------------------

    def _order_path(self, customer_id: str, number: str) -> str:
        wanted = normalise_order_number(number)
        return f"{self._customer(customer_id)}/orders/{_segment(wanted or '-')}"

    async def _change(self, kind: str, path: str, body: dict[str, Any]) -> ServiceResult:
        answer = await self._post(kind, path, body)
        if answer is None:  # 404: no such customer
            return ServiceResult(kind, "refused", "not_found")
        result: ServiceResult = _parse(ServiceResult.from_dict, answer)
        return result

    async def refund(self, customer_id: str, number: str) -> RefundInfo | None:
        """The order's refund, or None (404)."""
        if not normalise_order_number(number):
            return None
        body = await self._get("refund", f"{self._order_path(customer_id, number)}/refund")
        return _parse(RefundInfo.from_dict, body) if body is not None else None

    async def cancel_order(self, customer_id: str, number: str, key: str) -> ServiceResult:
        """POST .../orders/{number}/cancellation."""
        path = f"{self._order_path(customer_id, number)}/cancellation"
        return await self._change("cancel_order", path, {"idempotency_key": key})

    async def start_return(self, customer_id: str, number: str, reason: str, key: str) -> ServiceResult:
        """POST .../orders/{number}/returns."""
        path = f"{self._order_path(customer_id, number)}/returns"
        return await self._change("start_return", path, {"reason": reason, "idempotency_key": key})

    async def change_address(self, customer_id: str, number: str, address: str, key: str) -> ServiceResult:
        """POST .../orders/{number}/shipping-address."""
        path = f"{self._order_path(customer_id, number)}/shipping-address"
        return await self._change("change_address", path, {"address": address, "idempotency_key": key})

    async def update_contact(self, customer_id: str, kind: str, value: str, key: str) -> ServiceResult:
        """POST .../contact."""
        path = f"{self._customer(customer_id)}/contact"
        return await self._change("update_contact", path, {"kind": kind, "value": value, "idempotency_key": key})

    async def marketing_opt_out(self, customer_id: str, key: str) -> ServiceResult:
        """POST .../marketing-opt-out."""
        path = f"{self._customer(customer_id)}/marketing-opt-out"
        return await self._change("marketing_opt_out", path, {"idempotency_key": key})

    async def request_deletion(self, customer_id: str, key: str) -> ServiceResult:
        """POST .../deletion-requests."""
        path = f"{self._customer(customer_id)}/deletion-requests"
        return await self._change("account_deletion", path, {"idempotency_key": key})


def _parse(reader: Any, body: Any) -> Any:
    try:
        return reader(body)
    except (KeyError, TypeError, ValueError, AttributeError):
        _LOGGER.warning("records.http_bad_body")
        raise RecordsUnavailable("the record system sent an unreadable answer") from None


def _parse_list(reader: Any, body: Any, key: str) -> list[Any]:
    if body is None:
        return []
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        _LOGGER.warning("records.http_bad_body kind=%s", key)
        raise RecordsUnavailable("the record system sent an unreadable answer")
    return [_parse(reader, item) for item in items]
