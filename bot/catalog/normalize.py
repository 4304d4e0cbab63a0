"""Text normalisation for product search: tokens, compact forms, trigrams, capped edit distance."""

from __future__ import annotations

import re
import unicodedata

STOPWORDS = frozenset(
    """
    a an the my your our this that these those it its is are was were been am do does did
    i me we you he she they them of in on at to for from with by about and or but if so as
    how what which who where when why much many price cost costs there here any some
    can could would should will please hi hello hey need want looking buy get got have has
    still available stock know tell show
    """.split()
)
"""Function words and question words that never identify a product."""

GENERIC_WORDS = frozenset({"kit", "system", "systems", "set", "pack", "device", "devices", "product", "products"})
"""Words that, next to a category word, still name a whole category rather than one product."""

CATEGORY_TERMS: dict[str, str] = {
    "router": "router",
    "routers": "router",
    "mesh": "mesh",
    "extender": "extender",
    "extenders": "extender",
    "repeater": "extender",
    "repeaters": "extender",
    "adapter": "adapter",
    "adapters": "adapter",
    "powerline": "powerline",
    "switch": "switch",
    "switches": "switch",
}
"""Query words that name a catalog category."""

FOREIGN_WORDS = frozenset(
    {
        "iphone",
        "ipad",
        "android",
        "samsung",
        "xbox",
        "playstation",
        "ps5",
        "ps4",
        "nintendo",
        "macbook",
        "laptop",
        "phone",
        "tv",
        "printer",
        "car",
        "apple",
    }
)
"""Words naming devices or brands the company does not sell (a modifier that rules a product out)."""

FILLER_WORDS = frozenset(
    """
    sorry oops whoops oh wait actually meant mean no nope not wrong instead rather one ones
    regular normal standard basic plain
    """.split()
)
"""Words of a correction or an ellipsis ("sorry, I meant the outdoor one") that never name a product."""

BASE_VARIANT_WORDS = frozenset({"regular", "normal", "standard", "basic", "plain"})
"""Words asking for the variant without a suffix ("the regular mesh duo", not the Mesh Duo BE5000)."""

_NEGATIONS = (("not",), ("instead", "of"), ("rather", "than"))
_DETERMINERS = frozenset({"the", "a", "an", "my", "this", "that", "your"})

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_WIFI = re.compile(r"\bwi[\s-]?fi\b")
_PREFIX = re.compile(r"^[a-z]+[-\s]+(?=[a-z]*\d)")


def normalize(text: str) -> str:
    """Lower-case, strip accents and replace punctuation by single spaces.

    Args:
        text: Any user or catalog text.

    Returns:
        The normalised text, e.g. ``"NR-AX3000!"`` gives ``"nr ax3000"``.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", _WIFI.sub("wifi", ascii_text)).strip()


def tokens(text: str) -> list[str]:
    """Split text into normalised tokens (stopwords kept).

    Args:
        text: Any user or catalog text.

    Returns:
        The tokens in order.
    """
    return normalize(text).split()


def content_tokens(text: str) -> list[str]:
    """Split text into normalised tokens without stopwords.

    Args:
        text: Any user or catalog text.

    Returns:
        The tokens in order, stopwords removed.
    """
    return [tok for tok in tokens(text) if tok not in STOPWORDS]


def compact(text: str) -> str:
    """Return the text with everything but letters and digits removed.

    Args:
        text: A model number or other code.

    Returns:
        E.g. ``"nrax3000"`` for ``"NR-AX3000"``.
    """
    return normalize(text).replace(" ", "")


def model_core(model_number: str) -> str | None:
    """Return a model number without its letter-only family prefix.

    Args:
        model_number: E.g. ``"NR-AX3000"``.

    Returns:
        The compact core (``"ax3000"``), or None when there is no such prefix.
    """
    text = normalize(model_number)
    stripped = _PREFIX.sub("", text, count=1)
    return stripped.replace(" ", "") if stripped != text else None


def trigrams(token: str) -> set[str]:
    """Return the character trigrams of a token padded with ``#``.

    Args:
        token: A normalised token.

    Returns:
        The set of trigrams.
    """
    padded = f"#{token}#"
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def typo_cap(token: str) -> int:
    """Return how many edits a token of this length may contain and still match.

    Args:
        token: A normalised token.

    Returns:
        0 for tokens up to 2 characters, 1 for codes with digits or up to 7
        characters, else 2 (3-character tokens only match
        a swap of two neighbouring letters, see :func:`edit_distance`).
    """
    if len(token) <= 2:
        return 0
    if any(ch.isdigit() for ch in token):
        return 1
    return 1 if len(token) <= 7 else 2


def digit_variant(token: str) -> str | None:
    """Return a model-number token with the letter ``o`` read as the digit zero.

    Args:
        token: A normalised token.

    Returns:
        E.g. ``"be7200"`` for ``"be72oo"``, or None when the token has no digit or no ``o``.
    """
    if "o" in token and any(ch.isdigit() for ch in token):
        return token.replace("o", "0")
    return None


def edit_distance(a: str, b: str, cap: int) -> int:
    """Return the Damerau-Levenshtein (optimal string alignment) distance, capped.

    Args:
        a: First string.
        b: Second string.
        cap: Stop early and return ``cap + 1`` once the distance must exceed this.

    Returns:
        The distance, or ``cap + 1`` when it is larger than ``cap``.
    """
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > cap:
            return cap + 1
        prev2, prev = prev, cur
    return prev[-1] if prev[-1] <= cap else cap + 1


def negated_positions(words: list[str]) -> set[int]:
    """Return the positions of the words a customer rules out ("the trio, not the duo").

    Args:
        words: The query's tokens, from :func:`tokens`.

    Returns:
        The positions of the words after "not", "instead of" or "rather than" (and an article), up
        to the next stopword or filler word; e.g. ``{4}`` for ``"the trio not the duo"``.
    """
    negated: set[int] = set()
    for i in range(len(words)):
        cue = next((cue for cue in _NEGATIONS if tuple(words[i : i + len(cue)]) == cue), None)
        if cue is None:
            continue
        j = i + len(cue)
        while j < len(words) and words[j] in _DETERMINERS:
            j += 1
        while j < len(words) and words[j] not in STOPWORDS and words[j] not in FILLER_WORDS:
            negated.add(j)
            j += 1
    return negated
