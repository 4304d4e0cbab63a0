"""The customer's language, for routing: what their channel says, else what their words show.

The bot itself speaks English; an agent who speaks the customer's own language is still the
better person to hand them to. A channel that knows the language (Telegram's ``language_code``,
the browser's language in the widget, ``language`` on the direct API) is believed first; a
customer writing in another language is recognised by its most common short words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Frequent short words of each language (never English words too), enough to tell a few sentences apart.
_MARKERS: dict[str, frozenset[str]] = {
    "de": frozenset(
        "ich nicht und ist das der die mit mein meine meiner meinen haben habe eine einen bitte "
        "warum wurde kann können rechnung bestellung zahlung geht funktioniert danke hallo".split()
    ),
    "fr": frozenset(
        "je ne pas est les des une mon ma mes avec pour pourquoi facture commande paiement "
        "merci bonjour fonctionne suis".split()
    ),
    "nl": frozenset("ik niet het een mijn met waarom factuur bestelling betaling werkt bedankt hallo heb kan".split()),
    "es": frozenset(
        "yo que los las una mi mis con por qué factura pedido pago funciona gracias hola tengo puedo".split()
    ),
    "pt": frozenset("eu não uma meu minha com por fatura pedido pagamento funciona obrigado olá tenho posso".split()),
    "pl": frozenset(
        "nie jest mój moja moje faktura zamówienie płatność działa dziękuję cześć mam mogę dlaczego".split()
    ),
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_CODE = re.compile(r"([a-zA-Z]{2})(?:[-_][a-zA-Z0-9]{2,8})*")
#: Marker words needed before a language is believed (one could be a name or a borrowed word).
MIN_MARKERS = 2


def language_code(value: object) -> str | None:
    """The ISO 639-1 code of a channel's language tag (``"de-AT"`` → ``"de"``), or ``None``."""
    if not isinstance(value, str):
        return None
    found = _CODE.fullmatch(value.strip())
    return found.group(1).lower() if found else None


def detect_language(texts: Iterable[str]) -> str | None:
    """The language most of the customer's marker words belong to, if at least :data:`MIN_MARKERS`."""
    counts = dict.fromkeys(_MARKERS, 0)
    for text in texts:
        for word in _WORD.findall(text.lower()):
            for code, words in _MARKERS.items():
                if word in words:
                    counts[code] += 1
    best = max(counts, key=lambda code: counts[code])
    return best if counts[best] >= MIN_MARKERS else None


def customer_language(channel_language: object, texts: Iterable[str]) -> str | None:
    """The channel's language when it names one that is not English, else the one the texts show.

    A channel set to English says little (it is many people's default), so the customer's own
    words can still show another language.
    """
    code = language_code(channel_language)
    if code is not None and code != "en":
        return code
    return detect_language(texts) or code
