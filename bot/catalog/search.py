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

Words a customer rules out (``"the trio, not the duo"``) are left out of the query, and a product
they name on their own is dropped. Filler words of corrections (``"sorry, I meant ..."``) are
ignored, and ``"one"`` only completes an alias (``"the gaming one"``). When exactly one product
explains every word of the query and its name holds the word its strongest rival lacks
(``"outdoor"``, ``"yearly"``, ``"5 port"``), it wins over a shorter or more popular name matched
by part of the query. ``"regular"`` (``"plain"``, ...) demotes a variant whose name extends another
close candidate's (the Mesh Duo BE5000 next to the Mesh Duo).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field

from bot.catalog.normalize import (
    BASE_VARIANT_WORDS,
    CATEGORY_TERMS,
    FILLER_WORDS,
    FOREIGN_WORDS,
    GENERIC_WORDS,
    STOPWORDS,
    compact,
    content_tokens,
    digit_variant,
    edit_distance,
    model_core,
    negated_positions,
    tokens,
    trigrams,
    typo_cap,
)
from bot.catalog.results import (
    AMBIGUOUS_MIN,
    MAX_CHOICES,
    Match,
    MatchedOn,
    Resolution,
    SearchableProduct,
    decide,
    public_kind,
)

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
UNIQUE_SCORE = 0.8
UNIQUE_LEAD = 0.1
DISTINCT_DF = 4
VARIANT_PENALTY = 0.8
SOFT_WORDS = frozenset({"one", "ones"})
"""Words that complete an alias ("the gaming one") but are never a word the product must explain."""
LABEL_KINDS = frozenset({"name", "model_number", "core", "shared_core"})


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
        self._labels: list[set[str]] = [set() for _ in products]
        self._names: list[frozenset[str]] = [frozenset() for _ in products]
        for phrase in phrases:
            if phrase.kind in LABEL_KINDS:
                self._labels[phrase.product].update(phrase.tokens)
            if phrase.kind == "name":
                self._names[phrase.product] = frozenset(phrase.tokens)

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

    def _match_query(self, raw: Sequence[str], skip: set[int]) -> dict[str, _QueryToken]:
        units: list[tuple[str, frozenset[int], bool, float]] = []
        for i, tok in enumerate(raw):
            if i in skip:
                continue
            if tok not in STOPWORDS and tok not in FOREIGN_WORDS and (tok not in FILLER_WORDS or tok in SOFT_WORDS):
                units.append((tok, frozenset({i}), True, 1.0))
                variant = digit_variant(tok)
                if variant is not None:
                    units.append((variant, frozenset({i}), False, DIGIT_VARIANT_SIM))
            for j in (i + 1, i + 2):
                if j < len(raw) and not skip.intersection(range(i, j + 1)):
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
        negated = negated_positions(raw)
        ruled_out = self._named_alone([raw[i] for i in sorted(negated)]) if negated else None
        ranked = [item for item in self._rank(raw, negated) if item[1] != ruled_out]
        return [self._match(item) for item in ranked[:limit]]

    def _match(self, item: tuple[float, int, MatchedOn]) -> Match:
        score, pid, kind = item
        return Match(self._products[pid].sku, self._products[pid].name, round(score, 4), kind)

    def _named_alone(self, words: Sequence[str]) -> int | None:
        """The product the words name on their own, if they clearly name one."""
        ranked = self._rank(words, set())
        resolution = decide([self._match(item) for item in ranked[: MAX_CHOICES + 1]])
        return ranked[0][1] if resolution.status == "found" else None

    def _rank(self, raw: Sequence[str], skip: set[int]) -> list[tuple[float, int, MatchedOn]]:
        matched = self._match_query(raw, skip)
        if not matched:
            return []
        known: set[int] = set()
        for hit in matched.values():
            known.update(hit.positions)
        known -= {i for i, tok in enumerate(raw) if tok in SOFT_WORDS}
        if not known:
            return []
        categories = {CATEGORY_TERMS[t] for t in matched if t in CATEGORY_TERMS}
        foreign = any(tok in FOREIGN_WORDS for tok in raw)
        scores: dict[int, tuple[float, MatchedOn]] = {}
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
                scores[pid] = (min(score, 1.0), public_kind(kind))
        if not foreign:
            self._favour_explaining(scores, matched, known)
        if BASE_VARIANT_WORDS.intersection(raw):
            self._demote_variants(scores)
        ranked = [(score, pid, kind) for pid, (score, kind) in scores.items()]
        ranked.sort(key=lambda item: (-item[0], item[1]))
        return ranked

    def _favour_explaining(
        self, scores: dict[int, tuple[float, MatchedOn]], matched: dict[str, _QueryToken], known: set[int]
    ) -> None:
        """Let the one product explaining every query word win when its name alone has a distinctive one.

        The product explains the words by its name and aliases or, when several do, alone by its
        name and model number ("the pro one": the AX6000 Pro, not the "pro power supply"). A word
        its strongest rival lacks must be in its name and rare, not a category word ("the outdoor
        one", "shield yearly", "the 5 port one"), unless its name extends the rival's ("av1000
        wifi kit": the AV1000 Wi-Fi Kit, not the AV1000 Kit).
        """
        explaining = [pid for pid in scores if self._covered(self._by_product[pid], matched) >= known]
        by_label = [pid for pid in explaining if self._covered(self._labels[pid], matched) >= known]
        vocabulary: Sequence[Container[str]]
        if len(explaining) == 1:
            winner, vocabulary = explaining[0], self._by_product
        elif len(by_label) == 1 and not any(self._says_all(pid, matched) for pid in explaining if pid != by_label[0]):
            winner, vocabulary = by_label[0], self._labels
        else:
            return
        rivals = sorted(((score, pid) for pid, (score, _) in scores.items() if pid != winner), reverse=True)
        runner_up, rival = rivals[0] if rivals else (0.0, None)
        rival_covers = self._covered(vocabulary[rival], matched) if rival is not None else set()
        extends = rival is not None and self._names[rival] < self._names[winner]
        if any(
            hit.sim >= DIGIT_VARIANT_SIM
            and (extends or self._is_distinct(tok, len(known)))
            and tok in self._labels[winner]
            and not hit.positions <= rival_covers
            for tok, hit in matched.items()
        ):
            score, kind = scores[winner]
            scores[winner] = (min(1.0, max(score, UNIQUE_SCORE, runner_up + UNIQUE_LEAD)), kind)

    def _says_all(self, pid: int, matched: dict[str, _QueryToken]) -> bool:
        """Whether one of the product's phrases is all matched, but for its soft words ("the wifi 7 one")."""
        phrases = {idx for tok in matched for idx in self._by_product[pid].get(tok, ())}
        return any(set(self._phrases[idx].tokens) - SOFT_WORDS <= matched.keys() for idx in phrases)

    def _is_distinct(self, tok: str, known: int) -> bool:
        """A rare word that is not a category word; a bare number only next to another known word."""
        return (
            (known > 1 or any(ch.isalpha() for ch in tok))
            and tok not in CATEGORY_TERMS
            and tok not in GENERIC_WORDS
            and self._df[tok] <= DISTINCT_DF
        )

    @staticmethod
    def _covered(vocabulary: Container[str], matched: dict[str, _QueryToken]) -> set[int]:
        return {pos for tok, hit in matched.items() if tok in vocabulary for pos in hit.positions}

    def _demote_variants(self, scores: dict[int, tuple[float, MatchedOn]]) -> None:
        """Demote a product whose name extends another close candidate's ("regular mesh duo")."""
        close = [pid for pid, (score, _) in scores.items() if score >= AMBIGUOUS_MIN]
        for pid in close:
            if any(self._names[other] and self._names[other] < self._names[pid] for other in close):
                score, kind = scores[pid]
                scores[pid] = (score * VARIANT_PENALTY, kind)

    def resolve(self, query: str) -> Resolution:
        """Decide whether a query names one product, a few, or none.

        Args:
            query: What the customer wrote.

        Returns:
            ``found`` with the winner, ``ambiguous`` with 2–4 close candidates, or ``not_found``.
        """
        return decide(self.search(query, limit=MAX_CHOICES + 1))
