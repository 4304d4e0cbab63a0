"""Search results (matches and resolutions) and the rule that turns ranked matches into a resolution."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

FOUND_MIN = 0.75
FOUND_GAP = 0.08
LONE_FOUND_MIN = 0.6
AMBIGUOUS_MIN = 0.45
AMBIGUOUS_SPREAD = 0.2
MAX_CHOICES = 4

MatchedOn = Literal["model_number", "alias", "name", "category", "fuzzy"]
ResolutionStatus = Literal["found", "ambiguous", "not_found"]


class SearchableProduct(Protocol):
    """What the index needs from a product (e.g. :class:`bot.db.demo_types.ProductRecord`)."""

    @property
    def sku(self) -> str:
        """Unique stock-keeping unit."""

    @property
    def name(self) -> str:
        """Display name."""

    @property
    def category(self) -> str:
        """Catalog category."""

    @property
    def model_number(self) -> str:
        """Model number printed on the label."""

    @property
    def aliases(self) -> Sequence[str]:
        """Informal names customers use."""


@dataclass(frozen=True)
class Match:
    """One search hit.

    Attributes:
        sku: The product's SKU.
        name: The product's display name.
        score: Confidence between 0 and 1.
        matched_on: What matched: model_number, alias, name, category or fuzzy (a typo).
    """

    sku: str
    name: str
    score: float
    matched_on: MatchedOn


@dataclass(frozen=True)
class Resolution:
    """The outcome of resolving a query to one product.

    Attributes:
        status: ``found`` (one clear winner), ``ambiguous`` (2–4 close candidates) or ``not_found``.
        match: The winner when found, else None.
        candidates: The close candidates when ambiguous (for a clarifying question), else empty.
    """

    status: ResolutionStatus
    match: Match | None = None
    candidates: tuple[Match, ...] = ()


def decide(results: Sequence[Match]) -> Resolution:
    """Turn ranked matches into a resolution.

    Args:
        results: Matches best first, at least ``MAX_CHOICES + 1`` when available.

    Returns:
        ``found`` when the top match is confident and clearly ahead (or alone and fairly
        confident), ``ambiguous`` with 2–4 matches close to the top, else ``not_found``.
    """
    if not results or results[0].score < AMBIGUOUS_MIN:
        return Resolution("not_found")
    top = results[0]
    second = results[1].score if len(results) > 1 else 0.0
    if top.score >= FOUND_MIN and top.score - second >= FOUND_GAP:
        return Resolution("found", match=top)
    close = tuple(m for m in results if m.score >= max(top.score - AMBIGUOUS_SPREAD, AMBIGUOUS_MIN))
    if len(close) >= 2:
        return Resolution("ambiguous", candidates=close[:MAX_CHOICES])
    return Resolution("found", match=top) if top.score >= LONE_FOUND_MIN else Resolution("not_found")


def public_kind(kind: str) -> MatchedOn:
    """Map an internal phrase kind to what :class:`Match` reports.

    Args:
        kind: The phrase kind (``core``, ``generic_alias``, ...).

    Returns:
        The public ``matched_on`` value.
    """
    if kind in ("model_number", "core", "shared_core"):
        return "model_number"
    if kind in ("alias", "generic_alias"):
        return "alias"
    if kind == "name":
        return "name"
    if kind == "fuzzy":
        return "fuzzy"
    return "category"
