"""The shop's self-service rules (``data/records/policy.yml``): return window, fees, refund times.

The SQL records backend decides with them (can this order be returned? how much comes
back, by when?) and the actions word their replies with the same figures, so the bot and
the help center never disagree with the rules the record system applies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from bot.db.data_files import LinedDict, read_yaml_mapping
from bot.db.demo_types import DataFileError

POLICY_FILE = Path("records/policy.yml")
_KEYS = {
    "return_window_days",
    "free_return_countries",
    "return_shipping_fee",
    "free_return_reasons",
    "return_reasons",
    "return_label_url",
    "return_processing_days",
    "refund_days",
    "payment_method_names",
    "deletion_days",
}


@dataclass(frozen=True)
class RefundTime:
    """How long a refund by one payment method takes: the words and the working days."""

    text: str
    days: int


@dataclass(frozen=True)
class Policy:
    """The rules for returns, refunds and account deletion."""

    return_window_days: int
    free_return_countries: frozenset[str]
    return_shipping_fee_cents: int
    free_return_reasons: frozenset[str]
    return_reasons: dict[str, str]
    return_label_url: str
    return_processing_days: int
    refund_days: dict[str, RefundTime]
    payment_method_names: dict[str, str]
    deletion_days: int

    def refund_time(self, method: str | None) -> RefundTime:
        """The refund time of ``method`` (an unknown method takes the slowest known one)."""
        if method in self.refund_days:
            return self.refund_days[str(method)]
        return max(self.refund_days.values(), key=lambda time: time.days)

    def method_name(self, method: str | None) -> str:
        """``paypal`` -> ``PayPal``; an unknown method is "your payment method"."""
        return self.payment_method_names.get(str(method), "your payment method")

    def return_deadline(self, delivered_on: dt.date) -> dt.date:
        """The last day a return can be started for an order delivered on ``delivered_on``."""
        return delivered_on + dt.timedelta(days=self.return_window_days)

    def return_fee_cents(self, country: str | None, reason: str) -> int:
        """Return shipping taken off the refund: none from free countries or for faulty/wrong items."""
        if reason in self.free_return_reasons or (country or "").upper() in self.free_return_countries:
            return 0
        return self.return_shipping_fee_cents

    def label_url(self, rma: str) -> str:
        """The return label's address (relative ones are on the gateway)."""
        return self.return_label_url.format(rma=rma)


def add_working_days(start: dt.date, days: int) -> dt.date:
    """``start`` plus ``days`` working days (Monday to Friday)."""
    current = start
    left = days
    while left > 0:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def load_policy(data_dir: Path) -> Policy:
    """Read and check ``records/policy.yml`` under ``data_dir``.

    Raises:
        DataFileError: With the file and line of the first problem.
    """
    shown = str(POLICY_FILE)
    document = read_yaml_mapping(data_dir / POLICY_FILE, shown)
    reader = _Reader(shown, document)
    for key in document:
        if key not in _KEYS:
            raise reader.error(key, f"unknown setting {key!r}")
    refund_days: dict[str, RefundTime] = {}
    for method, value in reader.mapping("refund_days").items():
        if not isinstance(value, dict) or not isinstance(value.get("text"), str) or not _positive(value.get("days")):
            raise reader.error("refund_days", f"refund_days.{method} needs text (words) and days (a whole number)")
        refund_days[str(method)] = RefundTime(text=value["text"], days=int(value["days"]))
    if not refund_days:
        raise reader.error("refund_days", "refund_days must name at least one payment method")
    names = {str(k): str(v) for k, v in reader.mapping("payment_method_names").items()}
    missing = sorted(set(refund_days) - set(names))
    if missing:
        raise reader.error("payment_method_names", f"payment_method_names lacks {', '.join(missing)}")
    reasons = {str(k): str(v) for k, v in reader.mapping("return_reasons").items()}
    free_reasons = frozenset(reader.strings("free_return_reasons"))
    if not free_reasons <= set(reasons):
        raise reader.error("free_return_reasons", "free_return_reasons must be codes listed in return_reasons")
    label = reader.text("return_label_url")
    if "{rma}" not in label:
        raise reader.error("return_label_url", "return_label_url must contain {rma}")
    return Policy(
        return_window_days=reader.whole("return_window_days"),
        free_return_countries=frozenset(code.upper() for code in reader.strings("free_return_countries")),
        return_shipping_fee_cents=reader.cents("return_shipping_fee"),
        free_return_reasons=free_reasons,
        return_reasons=reasons,
        return_label_url=label,
        return_processing_days=reader.whole("return_processing_days"),
        refund_days=refund_days,
        payment_method_names=names,
        deletion_days=reader.whole("deletion_days"),
    )


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class _Reader:
    def __init__(self, shown: str, document: LinedDict) -> None:
        self.shown = shown
        self.document = document

    def error(self, key: str, message: str) -> DataFileError:
        return DataFileError(self.shown, self.document.key_lines.get(key, 1), message)

    def value(self, key: str) -> Any:
        if key not in self.document:
            raise DataFileError(self.shown, 1, f"missing setting {key!r}")
        return self.document[key]

    def whole(self, key: str) -> int:
        value = self.value(key)
        if not _positive(value):
            raise self.error(key, f"{key} must be a whole number above 0, got {value!r}")
        return int(value)

    def text(self, key: str) -> str:
        value = self.value(key)
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"{key} must be text")
        return value

    def strings(self, key: str) -> list[str]:
        value = self.value(key)
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise self.error(key, f"{key} must be a list of words")
        return list(value)

    def mapping(self, key: str) -> dict[Any, Any]:
        value = self.value(key)
        if not isinstance(value, dict):
            raise self.error(key, f"{key} must be a mapping")
        return dict(value)

    def cents(self, key: str) -> int:
        value = self.value(key)
        try:
            amount = Decimal(str(value)) if isinstance(value, str) else None
        except InvalidOperation:
            amount = None
        if amount is None or amount < 0 or amount != amount.quantize(Decimal("0.01")):
            raise self.error(key, f'{key} must be a quoted amount such as "5.95", got {value!r}')
        return int(amount * 100)
