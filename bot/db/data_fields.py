"""Typed access to the fields of one data-file record, with file and line in every error."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.db.demo_types import DataFileError

_CENTS = Decimal("0.01")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class Fields:
    """Typed access to one record's fields, raising :class:`DataFileError` with file and line.

    Args:
        shown: The file's name in error messages.
        line: The record's line.
        values: The record (a :class:`LinedDict` for YAML, strings for CSV).
        label: What the record is, for messages (e.g. ``product 'NR-AX3000-EU'``).
    """

    def __init__(self, shown: str, line: int, values: Mapping[str, Any], label: str) -> None:
        self.shown = shown
        self.line = line
        self.values = values
        self.label = label

    def line_of(self, key: str | None) -> int:
        """Return the line of ``key`` (or of the record when unknown)."""
        key_lines = getattr(self.values, "key_lines", {})
        return int(key_lines.get(key, self.line)) if key is not None else self.line

    def error(self, problem: str, key: str | None = None) -> DataFileError:
        """Build an error about this record (at the line of ``key`` when given)."""
        return DataFileError(self.shown, self.line_of(key), f"{self.label} {problem}".strip())

    def only(self, allowed: set[str]) -> None:
        """Refuse keys outside ``allowed`` (catches typos such as ``compatible_wiht``)."""
        for key in self.values:
            if key not in allowed:
                raise self.error(f"has unknown field {key!r}", str(key))

    def _raw(self, key: str) -> Any:
        value = self.values.get(key)
        return None if value == "" else value

    def text(self, key: str, max_len: int | None = None) -> str:
        """Return a required, non-empty string field."""
        value = self.optional_text(key, max_len)
        if value is None:
            raise self.error(f"is missing {key!r}", key)
        return value

    def optional_text(self, key: str, max_len: int | None = None) -> str | None:
        """Return a string field, or None when absent or empty."""
        value = self._raw(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(f"{key} must be a string (quote it), got {value!r}", key)
        value = value.strip()
        if max_len is not None and len(value) > max_len:
            raise self.error(f"{key} is longer than {max_len} characters", key)
        return value or None

    def identifier(self, key: str, max_len: int) -> str:
        """Return a required identifier (a string, or an integer written without quotes)."""
        value = self._raw(key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is None or not isinstance(value, str) or not value.strip():
            raise self.error(f"needs a non-empty {key!r}", key)
        if len(value.strip()) > max_len:
            raise self.error(f"{key} is longer than {max_len} characters", key)
        return value.strip()

    def integer(self, key: str, minimum: int = 0, default: int | None = None) -> int:
        """Return an integer field of at least ``minimum``."""
        value = self._raw(key)
        if value is None and default is not None:
            return default
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(f"{key} must be an integer, got {value!r}", key)
        if value < minimum:
            raise self.error(f"{key} must be at least {minimum}, got {value}", key)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        """Return a boolean field (YAML true/false; CSV true/false)."""
        value = self._raw(key)
        if value is None:
            return default
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise self.error(f"{key} must be true or false, got {value!r}", key)
        return value

    def cents(self, key: str) -> int:
        """Return a price written as a decimal string (``"129.99"``) in integer cents."""
        value = self._raw(key)
        if isinstance(value, float):
            raise self.error(f'{key} must be a quoted decimal string such as "129.99", got {value!r}', key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise self.error(f"is missing the price {key!r}", key)
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise self.error(f"{key} is not a price: {value!r}", key) from None
        if not amount.is_finite() or amount < 0 or amount != amount.quantize(_CENTS):
            raise self.error(f"{key} must be a non-negative amount with at most 2 decimals: {value!r}", key)
        return int(amount * 100)

    def currency(self, key: str = "currency") -> str:
        """Return a three-letter currency code (default EUR)."""
        value = self.optional_text(key) or "EUR"
        if not _CURRENCY.match(value):
            raise self.error(f"{key} must be a three-letter code such as EUR, got {value!r}", key)
        return value

    def date(self, key: str) -> dt.date:
        """Return a required ``YYYY-MM-DD`` date."""
        value = self.optional_date(key)
        if value is None:
            raise self.error(f"is missing the date {key!r}", key)
        return value

    def optional_date(self, key: str) -> dt.date | None:
        """Return a ``YYYY-MM-DD`` date, or None when absent."""
        value = self.optional_text(key)
        if value is None:
            return None
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError(value)
            return dt.date.fromisoformat(value)
        except ValueError:
            raise self.error(f"{key} is not a valid YYYY-MM-DD date: {value!r}", key) from None

    def optional_datetime(self, key: str) -> dt.datetime | None:
        """Return an ISO timestamp (``2026-11-02T14:21:00``, UTC; ``Z`` or an offset allowed) as naive UTC."""
        value = self.optional_text(key)
        if value is None:
            return None
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})?", value):
                raise ValueError(value)
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise self.error(f"{key} is not a valid timestamp like 2026-11-02T14:21:00: {value!r}", key) from None
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return parsed

    def datetime(self, key: str) -> dt.datetime:
        """Return a required timestamp (see :meth:`optional_datetime`)."""
        value = self.optional_datetime(key)
        if value is None:
            raise self.error(f"is missing the timestamp {key!r}", key)
        return value

    def str_list(self, key: str, pattern: str | None = None) -> tuple[str, ...]:
        """Return a list of non-empty strings (absent means empty), each matching ``pattern``."""
        value = self._raw(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise self.error(f"{key} must be a list of non-empty strings", key)
        items = tuple(item.strip() for item in value)
        for item in items:
            if pattern is not None and not re.fullmatch(pattern, item):
                raise self.error(f"{key} has an invalid entry {item!r}", key)
        if len(set(items)) != len(items):
            raise self.error(f"{key} lists an entry twice", key)
        return items

    def mapping(self, key: str) -> dict[str, Any]:
        """Return a mapping field (absent means empty) as a plain, JSON-ready dict."""
        value = self._raw(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(f"{key} must be a mapping", key)
        plain: dict[str, Any] = _plain(value)
        return plain


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
