"""Fuzzy product search over the catalog: model numbers, names, aliases, typos and category words.

The index is built once (:meth:`ProductIndex.from_products`) and is then read-only. Each product
contributes *phrases* (its model number, SKU, model core, name and aliases) made of normalised
tokens. A query's tokens (and adjacent tokens joined, for ``"ax 3000"``) are matched to the
vocabulary exactly or within a capped edit distance, found through a trigram index. Candidate
products come from an inverted token index, rarest tokens first, so a search never scores the
whole catalog. A phrase scores its IDF-weighted share of matched tokens times the weight of its
kind; the product keeps its best phrase, scaled by how much of the query the product explains.
A category word (``"a mesh kit"``) gives every product of that category a modest score, so the
result is ambiguous unless one product clearly stands out; a word naming a device the company
does not sell (``"iphone charger"``) halves every score not based on a model number.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.catalog.normalize import (
    CATEGORY_TERMS,
    FOREIGN_WORDS,
    GENERIC_WORDS,
    STOPWORDS,
    compact,
    content_tokens,
    digit_variant,
    edit_distance,
    model_core,
    tokens,
    trigrams,
    typo_cap,
)
from bot.catalog.results import MAX_CHOICES, Match, MatchedOn, Resolution, SearchableProduct, decide, public_kind

KIND_WEIGHTS: dict[str, float] = {
    "model_number": 1.0,
    "core": 0.9,
    "shared_core": 0.7,
    "alias": 0.95,
    "name": 0.95,
    "generic_alias": 0.72,
}
CATEGORY_SCORE = 0.54
COVERAGE_WEIGHT = 0.35
FOREIGN_PENALTY = 0.5
RARE_DF = 64
MAX_CANDIDATES = 300
MAX_FUZZY_CHECKS = 40
CATEGORY_CANDIDATES = 50
DIGIT_VARIANT_SIM = 0.95


@dataclass(frozen=True)
class _Phrase:
    product: int
    kind: str
    tokens: tuple[str, ...]


@dataclass
class _QueryToken:
    sim: float
    positions: frozenset[int]


@dataclass
class _Scored:
    score: float
    phrase: _Phrase
    fuzzy: bool
    positions: set[int] = field(default_factory=set)


def _is_generic(words: Sequence[str]) -> bool:
    return bool(words) and all(w in CATEGORY_TERMS or w in GENERIC_WORDS for w in words)


class ProductIndex:
    """A read-only search index over a product catalog."""

    def __init__(self, products: Sequence[SearchableProduct], phrases: Sequence[_Phrase]) -> None:
        """Build the lookup tables; use :meth:`from_products` instead.

        Args:
            products: The products, in catalog order.
            phrases: Every phrase of every product.
        """
        self._products = tuple(products)
        self._phrases = tuple(phrases)
        df: dict[str, set[int]] = defaultdict(set)
        for phrase in phrases:
            for tok in phrase.tokens:
                df[tok].add(phrase.product)
        total = max(len(products), 1)
        self._idf = {tok: math.log(1.0 + total / len(pids)) for tok, pids in df.items()}
        self._df = {tok: len(pids) for tok, pids in df.items()}
        self._postings: dict[str, list[int]] = {tok: sorted(pids) for tok, pids in df.items()}
        self._by_product: list[dict[str, list[int]]] = [defaultdict(list) for _ in products]
        for idx, phrase in enumerate(phrases):
            for tok in set(phrase.tokens):
                self._by_product[phrase.product][tok].append(idx)
        self._weights = [tuple(self._idf[t] for t in phrase.tokens) for phrase in phrases]
        self._grams: dict[str, list[str]] = defaultdict(list)
        for tok in df:
            if len(tok) >= 4:
                for gram in trigrams(tok):
                    self._grams[gram].append(tok)
        self._short: dict[str, list[str]] = defaultdict(list)
        for tok in df:
            if len(tok) == 3 and tok.isalpha():
                self._short["".join(sorted(tok))].append(tok)
        self._by_category: dict[str, list[int]] = defaultdict(list)
        for pid, product in enumerate(products):
            self._by_category[product.category].append(pid)

    @classmethod
    def from_products(cls, products: Iterable[SearchableProduct]) -> ProductIndex:
        """Build an index from catalog products.

        Args:
            products: The catalog, e.g. ``load_demo_data(path).products``.

        Returns:
            The index.
        """
        items = list(products)
        cores = [model_core(p.model_number) for p in items]
        core_counts: dict[str, int] = defaultdict(int)
        for core in cores:
            if core:
                core_counts[core] += 1
        phrases: list[_Phrase] = []

        def add(pid: int, kind: str, toks: Sequence[str]) -> None:
            if toks:
                phrases.append(_Phrase(pid, kind, tuple(toks)))

        for pid, product in enumerate(items):
            add(pid, "model_number", [compact(product.model_number)])
            add(pid, "model_number", [compact(product.sku)])
            core = cores[pid]
            if core:
                add(pid, "core" if core_counts[core] == 1 else "shared_core", [core])
            add(pid, "name", content_tokens(product.name))
            for alias in product.aliases:
                words = content_tokens(alias)
                add(pid, "generic_alias" if _is_generic(words) else "alias", words)
        return cls(items, phrases)

    def __len__(self) -> int:
        """Return the number of indexed products."""
        return len(self._products)

    def _vocab_matches(self, unit: str, fuzzy: bool = True) -> list[tuple[str, float]]:
        if unit in self._idf:
            return [(unit, 1.0)]
        cap = typo_cap(unit)
        if cap == 0 or not fuzzy:
            return []
        if len(unit) == 3:
            swaps = self._short.get("".join(sorted(unit)), ())
            return [(tok, 0.6) for tok in swaps if edit_distance(unit, tok, 1) <= 1]
        counts: dict[str, int] = defaultdict(int)
        for gram in trigrams(unit):
            for tok in self._grams.get(gram, ()):
                counts[tok] += 1
        needed = max(1, len(unit) - 3 * cap)
        shortlist = sorted(
            (tok for tok, shared in counts.items() if shared >= needed and abs(len(tok) - len(unit)) <= cap),
            key=lambda tok: -counts[tok],
        )[:MAX_FUZZY_CHECKS]
        found: list[tuple[str, float]] = []
        for tok in shortlist:
            dist = edit_distance(unit, tok, cap)
            if dist <= cap:
                found.append((tok, 0.9 * (1.0 - dist / max(len(tok), len(unit)))))
        return found

    def _match_query(self, raw: Sequence[str]) -> dict[str, _QueryToken]:
        units: list[tuple[str, frozenset[int], bool, float]] = []
        for i, tok in enumerate(raw):
            if tok not in STOPWORDS and tok not in FOREIGN_WORDS:
                units.append((tok, frozenset({i}), True, 1.0))
                variant = digit_variant(tok)
                if variant is not None:
                    units.append((variant, frozenset({i}), False, DIGIT_VARIANT_SIM))
            for j in (i + 1, i + 2):
                if j < len(raw):
                    joined = "".join(raw[i : j + 1])
                    coded = any(ch.isdigit() for ch in joined) and any(ch.isalpha() for ch in joined)
                    if coded or joined in self._idf:
                        units.append((joined, frozenset(range(i, j + 1)), False, 1.0))
                        variant = digit_variant(joined)
                        if variant is not None:
                            units.append((variant, frozenset(range(i, j + 1)), False, DIGIT_VARIANT_SIM))
        matched: dict[str, _QueryToken] = {}
        for unit, positions, fuzzy, factor in units:
            for tok, found_sim in self._vocab_matches(unit, fuzzy):
                sim = found_sim * factor
                old = matched.get(tok)
                if old is None or sim > old.sim:
                    matched[tok] = _QueryToken(sim, positions)
        return matched

    def _candidates(self, matched: dict[str, _QueryToken], categories: set[str]) -> set[int]:
        cands: set[int] = set()
        for tok in sorted(matched, key=lambda t: self._df[t]):
            posting = self._postings[tok]
            if len(posting) <= RARE_DF:
                cands.update(posting)
            elif not cands:
                cands.update(posting[:MAX_CANDIDATES])
        for category in sorted(categories):
            cands.update(self._by_category.get(category, ())[:CATEGORY_CANDIDATES])
        return cands

    def _score_product(self, pid: int, matched: dict[str, _QueryToken]) -> _Scored | None:
        best: _Scored | None = None
        seen: set[int] = set()
        covered: set[int] = set()
        for tok in matched:
            for idx in self._by_product[pid].get(tok, ()):
                if idx in seen:
                    continue
                seen.add(idx)
                phrase = self._phrases[idx]
                weights = self._weights[idx]
                got = 0.0
                fuzzy = False
                positions: set[int] = set()
                for ptok, weight in zip(phrase.tokens, weights, strict=True):
                    hit = matched.get(ptok)
                    if hit is not None:
                        got += weight * hit.sim
                        fuzzy = fuzzy or hit.sim < 1.0
                        positions.update(hit.positions)
                recall = got / sum(weights)
                if recall >= 0.5:
                    covered.update(positions)
                score = KIND_WEIGHTS[phrase.kind] * recall
                if best is None or score > best.score:
                    best = _Scored(score, phrase, fuzzy, positions)
        if best is not None:
            best.positions = covered | best.positions
        return best

    def search(self, query: str, limit: int = 5) -> list[Match]:
        """Rank products for a free-text query.

        Args:
            query: What the customer wrote, e.g. ``"how much is the velo router in berlin?"``.
            limit: Maximum number of matches.

        Returns:
            Up to ``limit`` matches, best first (ties in catalog order).
        """
        raw = tokens(query)
        matched = self._match_query(raw)
        if not matched:
            return []
        known: set[int] = set()
        for hit in matched.values():
            known.update(hit.positions)
        categories = {CATEGORY_TERMS[t] for t in matched if t in CATEGORY_TERMS}
        foreign = any(tok in FOREIGN_WORDS for tok in raw)
        ranked: list[tuple[float, int, MatchedOn]] = []
        for pid in self._candidates(matched, categories):
            product = self._products[pid]
            scored = self._score_product(pid, matched)
            score, kind = 0.0, "category"
            if scored is not None:
                coverage = len(scored.positions & known) / len(known)
                score = scored.score * (1.0 - COVERAGE_WEIGHT + COVERAGE_WEIGHT * coverage)
                kind = "fuzzy" if scored.fuzzy else scored.phrase.kind
                if foreign and public_kind(scored.phrase.kind) != "model_number":
                    score *= FOREIGN_PENALTY
            if product.category in categories and score < CATEGORY_SCORE:
                score, kind = CATEGORY_SCORE, "category"
            if score > 0.0:
                ranked.append((min(score, 1.0), pid, public_kind(kind)))
        ranked.sort(key=lambda item: (-item[0], item[1]))
        return [
            Match(self._products[pid].sku, self._products[pid].name, round(score, 4), kind)
            for score, pid, kind in ranked[:limit]
        ]

    def resolve(self, query: str) -> Resolution:
        """Decide whether a query names one product, a few, or none.

        Args:
            query: What the customer wrote.

        Returns:
            ``found`` with the winner, ``ambiguous`` with 2–4 close candidates, or ``not_found``.
        """
        return decide(self.search(query, limit=MAX_CHOICES + 1))
