"""What looks like a customer's personal data in a message, so that it never leaves the tracker store.

Used by the training candidates (:mod:`bot.analytics.candidates`): a message in which
:func:`personal_data_kind` finds something is left out whole, not rewritten, because what
the patterns miss (a name next to an address) would travel with what they caught. The
patterns err on the side of leaving a message out: "prices 199 249 299" counts as a phone
number. Names and street addresses are not recognised.
"""

from __future__ import annotations

import re

EMAIL = "email address"
PHONE = "phone number"
ORDER_OR_CODE = "order number or code"
SERIAL = "serial number"
REFERENCE = "reference number"

_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]{2,}")
# Device serials as the NLU's regex feature knows them (data/nlu/orders.yml): NX-R12-AB34CD.
_SERIAL = re.compile(r"\b[Nn][A-Za-z]-[A-Za-z0-9]{2,3}-[A-Za-z0-9]{6}\b")
# Dates are not personal, but would read as long numbers: masked first.
_DATE = re.compile(
    r"\b\d{4}[-./](?:0?[1-9]|1[0-2])[-./](?:0?[1-9]|[12]\d|3[01])\b"
    r"|\b(?:0?[1-9]|[12]\d|3[01])[-./](?:0?[1-9]|1[0-2])[-./]\d{4}\b"
)
# Six digits or more, possibly written with spaces, dashes, dots, slashes or brackets between.
_DIGIT_RUN = re.compile(r"\+?\(?\d(?:[ ()./-]{0,2}\d){5,}")
# Words: one with letters and six digits or more is a tracking number, an RMA or ticket reference.
_WORD = re.compile(r"\S+")


def personal_data_kind(text: str) -> str | None:
    """What personal data ``text`` seems to hold (:data:`EMAIL`, :data:`PHONE`...), or None.

    Six digits alone are an order number or a one-time code (both are six digits here); seven
    or more, or a leading ``+``, a phone number (or a card, an account: left out all the same).
    """
    if _EMAIL.search(text):
        return EMAIL
    if _SERIAL.search(text):
        return SERIAL
    undated = _DATE.sub(" ", text)
    for word in _WORD.findall(undated):
        if any(ch.isalpha() for ch in word) and sum(ch.isdigit() for ch in word) >= 6:
            return REFERENCE
    run = _DIGIT_RUN.search(undated)
    if run is None:
        return None
    digits = sum(ch.isdigit() for ch in run.group())
    return ORDER_OR_CODE if digits == 6 and not run.group().startswith("+") else PHONE
