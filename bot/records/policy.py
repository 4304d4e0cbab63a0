"""The shop's self-service rules (``data/records/policy.yml``): return window, fees, refund times.

The SQL records backend decides with them (can this order be returned? how much comes
back, by when?) and the actions word their replies with the same figures, so the bot and
the help center never disagree with the rules the record system applies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.db.data_fields import Fields
from bot.db.data_files import read_yaml_mapping

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
    fields = Fields(shown, document.line or 1, document, "policy")
    fields.only(_KEYS)
    refund_days: dict[str, RefundTime] = {}
    for method, value in fields.mapping("refund_days").items():
        if not isinstance(value, dict) or not isinstance(value.get("text"), str) or not _positive(value.get("days")):
            raise fields.error(f"refund_days.{method} needs text (words) and days (a whole number)", "refund_days")
        refund_days[str(method)] = RefundTime(text=value["text"], days=int(value["days"]))
    if not refund_days:
        raise fields.error("refund_days must name at least one payment method", "refund_days")
    names = {str(k): str(v) for k, v in fields.mapping("payment_method_names").items()}
    missing = sorted(set(refund_days) - set(names))
    if missing:
        raise fields.error(f"payment_method_names lacks {', '.join(missing)}", "payment_method_names")
    reasons = {str(k): str(v) for k, v in fields.mapping("return_reasons").items()}
    free_reasons = frozenset(fields.str_list("free_return_reasons"))
    if not free_reasons <= set(reasons):
        raise fields.error("free_return_reasons must be codes listed in return_reasons", "free_return_reasons")
    label = fields.text("return_label_url")
    if "{rma}" not in label:
        raise fields.error("return_label_url must contain {rma}", "return_label_url")
    return Policy(
        return_window_days=fields.integer("return_window_days", minimum=1),
        free_return_countries=frozenset(code.upper() for code in fields.str_list("free_return_countries")),
        return_shipping_fee_cents=fields.cents("return_shipping_fee"),
        free_return_reasons=free_reasons,
        return_reasons=reasons,
        return_label_url=label,
        return_processing_days=fields.integer("return_processing_days", minimum=1),
        refund_days=refund_days,
        payment_method_names=names,
        deletion_days=fields.integer("deletion_days", minimum=1),
    )


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
