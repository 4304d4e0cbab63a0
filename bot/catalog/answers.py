"""Customer replies to product questions: price, availability, specs, compatibility and comparison.

A pure service for the dialogue's custom action: it resolves which product(s) a message is about
(clicked SKUs first, then the NLU's product mentions, then the whole message, then the product
discussed before) and words the catalog facts with the templates of ``data/texts.yml``. When the
product is unclear it asks back with buttons whose payloads re-ask the same question with a SKU::

    answers = ProductAnswers.load(settings.paths.data_dir)
    answer = answers.answer("price", "how much is the velo router?")
    answer.replies[0].text   # "The Nimbus Velo AX3000 costs €129.99."
    answer.skus              # ("NR-AX3000-EU",)
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.catalog import normalize
from bot.catalog.facts import products_by_sku
from bot.catalog.normalize import STOPWORDS, edit_distance, tokens
from bot.catalog.results import MAX_CHOICES, Match
from bot.catalog.search import ProductIndex
from bot.catalog.texts import CatalogTexts, load_catalog_texts
from bot.catalog.wording import ProductWording
from bot.db.demo_types import DemoData, ProductRecord, StoreRecord
from bot.db.seed import load_demo_data

QUESTIONS = ("price", "availability", "specs", "compatibility", "compare")
"""The questions :meth:`ProductAnswers.answer` handles; each maps to the intent ``ask_product_<question>``."""
PAIR_QUESTIONS = frozenset({"compatibility", "compare"})
MAX_SUGGESTIONS = 3
WEAK_MATCH_MIN = 0.3
PRONOUNS = frozenset({"it", "its", "this", "that", "them", "one", "same"})
QUESTION_WORDS = frozenset(
    """
    specs spec specification specifications details feature features compatible compatibility work works
    working fit fits use together compare comparison difference different better versus vs cost costs
    price prices priced expensive cheap much stock available availability shop store stores sell
    shipping ship delivery online near nearby today now city branch
    """.split()
)
"""Words of the question itself: a message made only of these (and stopwords) names no product."""
FILLER_WORDS = normalize.FILLER_WORDS | frozenset(
    "about how what and then too also there here same other another buy new get replacement spare".split()
)
"""Words of a correction or follow-up ("sorry, I meant …", "what about the other one?"): never a product's name."""
FOLLOW_UP_CUE = re.compile(
    r"^\s*(?:and|what about|how about|what of|sorry|oops|oh|wait|actually|no|nope|i meant|i mean|meant|not|or|also"
    r"|in|at|then|the|same|with)\b",
    re.IGNORECASE,
)
FOLLOW_UP_MAX_WORDS = 8
_SAME_PRODUCT = frozenset({"it", "its", "this", "that", "them", "they"})
_QUESTION_KEYWORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("compare", re.compile(r"\b(?:compare|comparison|difference|differences|versus|vs|better than)\b", re.I)),
    ("compatibility", re.compile(r"\b(?:compatible|compatibility|works? with|fits?|work together)\b", re.I)),
    ("price", re.compile(r"\b(?:how much|cost|costs|price|prices|priced|pricey|expensive|cheap|cheaper)\b", re.I)),
    ("availability", re.compile(r"\b(?:stock|available|availability|in store|pick up|pick it up)\b", re.I)),
    ("specs", re.compile(r"\b(?:specs?|specifications?|details|features|tell me about|what is the)\b", re.I)),
)
"""Words that ask a product question of their own; a follow-up without them repeats the last question."""


def reads_as_follow_up(text: str) -> bool:
    """Whether a message is short and shaped like a follow-up or a correction.

    At most :data:`FOLLOW_UP_MAX_WORDS` words, and either a cue first ("and", "what about",
    "sorry", "I meant", "no", ...) or at most four words. A message about the same product ("is
    it wifi 7?", "does it fit my raptor?") is a new question, not a follow-up: its intent says
    what it asks. Whether it names a product or a store is :meth:`ProductAnswers.names_product_or_store`.
    """
    words = text.split()
    if not words or len(words) > FOLLOW_UP_MAX_WORDS or text.lstrip().startswith("/"):
        return False
    if _SAME_PRODUCT & set(tokens(text)):
        return False
    return bool(FOLLOW_UP_CUE.match(text)) or len(words) <= 4


def question_asked(text: str) -> str | None:
    """The product question a message asks by its own words ("how much", "in stock", "specs"), if any."""
    for question, pattern in _QUESTION_KEYWORDS:
        if pattern.search(text):
            return question
    return None


_SEPARATORS = re.compile(r"\b(?:with|and|vs|versus|or|against|compared|than|to)\b|[,;/&]", re.IGNORECASE)


@dataclass(frozen=True)
class Reply:
    """One bot message.

    Attributes:
        text: The message text.
        buttons: (title, payload) pairs, e.g. ``("Nimbus Velo AX3000", '/ask_product_price{"sku":"NR-AX3000-EU"}')``.
    """

    text: str
    buttons: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ProductAnswer:
    """The answer to one product question.

    Attributes:
        replies: The messages to send, in order.
        skus: The product(s) the answer is about (to remember as the last product); empty when
            the product is still unknown.
        stores: The stores a stock answer was about (empty: every store), to remember for
            "and the trio?".
    """

    replies: tuple[Reply, ...]
    skus: tuple[str, ...] = ()
    stores: tuple[str, ...] = ()


@dataclass
class _Lookup:
    found: list[str] = field(default_factory=list)
    ambiguous: tuple[Match, ...] = ()
    weak: list[str] = field(default_factory=list)
    unknown_name: str | None = None
    names_unknown: bool = False


def payload(question: str, skus: Sequence[str]) -> str:
    """Return the button payload that re-asks a question about the given product(s).

    Args:
        question: One of :data:`QUESTIONS`.
        skus: One SKU, or two for compare and compatibility.

    Returns:
        E.g. ``/ask_product_price{"sku":"NR-AX3000-EU"}`` or ``/ask_product_compare{"sku":["A","B"]}``.
    """
    value: str | list[str] = skus[0] if len(skus) == 1 else list(skus)
    return f"/ask_product_{question}" + json.dumps({"sku": value}, separators=(",", ":"))


class ProductAnswers:
    """Answers product questions from the catalog, stores and stock."""

    def __init__(
        self,
        *,
        products: Sequence[ProductRecord],
        stores: Sequence[StoreRecord],
        wording: ProductWording,
        popular: Sequence[str],
        texts: CatalogTexts,
    ) -> None:
        """Keep the collaborators; use :meth:`from_data` or :meth:`load` instead.

        Args:
            products: The catalog.
            stores: The stores.
            wording: Renders facts as sentences.
            popular: SKUs to suggest when no product is named, most popular first.
            texts: The templates.
        """
        self._products = products_by_sku(products)
        self._index = ProductIndex.from_products(products)
        self._stores = tuple(stores)
        self._wording = wording
        self._popular = tuple(popular)
        self._texts = texts
        self._store_ids = frozenset(store.id for store in stores)
        self._store_words = {
            word: store.id
            for store in stores
            for word in tokens(f"{store.city} {store.name}")
            if len(word) >= 4 and word not in ("nimbus", "store")
        }

    @classmethod
    def from_data(cls, data: DemoData, texts: CatalogTexts) -> ProductAnswers:
        """Build the service from parsed demo data.

        Args:
            data: From :func:`bot.db.seed.load_demo_data`; orders decide the popular products.
            texts: From :func:`bot.catalog.texts.load_catalog_texts`.

        Returns:
            The service.
        """
        ordered: Counter[str] = Counter(item.sku for order in data.orders for item in order.items)
        rank = {product.sku: i for i, product in enumerate(data.products)}
        candidates = [p.sku for p in data.products if not p.is_subscription]
        popular = sorted(candidates, key=lambda sku: (-ordered[sku], rank[sku]))[:MAX_SUGGESTIONS]
        wording = ProductWording(
            texts=texts, products=products_by_sku(data.products), stores=data.stores, stock=data.stock
        )
        return cls(products=data.products, stores=data.stores, wording=wording, popular=popular, texts=texts)

    @classmethod
    def load(cls, data_dir: Path) -> ProductAnswers:
        """Read the data folder (catalog, stores, stock, orders) and ``texts.yml`` and build the service.

        Args:
            data_dir: The data folder (``settings.paths.data_dir``).

        Returns:
            The service.

        Raises:
            DataFileError: A data file is invalid.
            TextsError: The catalog texts are missing or invalid.
        """
        return cls.from_data(load_demo_data(data_dir), load_catalog_texts(data_dir / "texts.yml"))

    def answer(
        self,
        question: str,
        text: str,
        mentions: Sequence[str] = (),
        skus: Sequence[str] = (),
        last_sku: str | None = None,
        *,
        last_skus: Sequence[str] = (),
        last_stores: Sequence[str] = (),
        follow_up: bool = False,
    ) -> ProductAnswer:
        """Answer a product question.

        Args:
            question: One of :data:`QUESTIONS`.
            text: The customer's whole message.
            mentions: Product names the NLU extracted (may be empty or wrong).
            skus: SKUs chosen with a clarification button; they take precedence (a list value, as
                Rasa gives for ``{"sku":["A","B"]}``, is flattened; unknown SKUs are ignored).
            last_sku: The product discussed before, for "how much is it?".
            last_skus: The product(s) of the last answer: a pair for compatibility and comparison.
            last_stores: The stores of the last stock answer.
            follow_up: The message follows up the last product answer ("sorry, I meant with the
                Velo", "and the trio?"): a single new product replaces the one of its kind in the
                last pair, and a stock question keeps the last stores.

        Returns:
            The replies and the product(s) they are about.

        Raises:
            ValueError: ``question`` is not one of :data:`QUESTIONS`.
        """
        if question not in QUESTIONS:
            raise ValueError(f"unknown product question {question!r}; expected one of {', '.join(QUESTIONS)}")
        pair = question in PAIR_QUESTIONS
        need = 2 if pair else 1
        flat = [str(v) for sku in skus for v in (sku if isinstance(sku, list | tuple) else [sku])]
        chosen = [sku for sku in dict.fromkeys(flat) if sku in self._products][:need]
        last = last_sku if last_sku in self._products else None
        if not pair and not chosen and text:
            # The whole message first: the NLU's shorter mention ("nimbus shield") can miss the word
            # that tells two products apart ("… yearly").
            whole = self._index.resolve(text)
            if whole.status == "found" and whole.match is not None:
                chosen = [whole.match.sku]
        look = self._find(text, mentions, pair, chosen) if len(chosen) < need else _Lookup()
        stores = self._stores_named(text)
        if not stores and (follow_up or "there" in tokens(text)):
            stores = [store for store in last_stores if store in self._store_ids]
        chosen += look.found[: need - len(chosen)]
        refers_back = last is not None and any(tok in PRONOUNS for tok in tokens(text))
        if pair and follow_up and len(chosen) == 1:
            chosen = self._replace_in_pair(chosen[0], [sku for sku in last_skus if sku in self._products])
        if pair:
            if refers_back and last is not None and last not in chosen:
                chosen.insert(0, last)
                look.ambiguous = tuple(m for m in look.ambiguous if m.sku != last)
            if not chosen and not look.ambiguous and last is not None and (refers_back or not look.names_unknown):
                chosen = [last]
            return self._pair(question, chosen, look)
        if chosen:
            return self._single(question, chosen[0], stores)
        if look.ambiguous:
            if last is not None and last in {m.sku for m in look.ambiguous}:
                return self._single(question, last, stores)
            return self._clarify(question, [], look.ambiguous)
        if last is not None and (refers_back or not look.names_unknown):
            return self._single(question, last, stores)
        return self._unknown(question, look)

    def _replace_in_pair(self, new: str, last_pair: list[str]) -> list[str]:
        """The last pair with ``new`` in place of the product of its kind (else of the second)."""
        if len(last_pair) != 2 or new in last_pair:
            return [new]
        first, second = last_pair
        kind = self._products[new].category
        if self._products[first].category == kind and self._products[second].category != kind:
            return [new, second]
        return [first, new]

    def _single(self, question: str, sku: str, stores: Sequence[str] = ()) -> ProductAnswer:
        if question == "price":
            text = self._wording.price(sku)
        elif question == "availability":
            text = self._wording.availability(sku, stores)
            return ProductAnswer((Reply(text),), (sku,), tuple(stores))
        elif question == "specs":
            text = self._wording.specs(sku)
        else:
            text = self._wording.works_with(sku)
        return ProductAnswer((Reply(text),), (sku,))

    def _pair(self, question: str, chosen: list[str], look: _Lookup) -> ProductAnswer:
        if len(chosen) >= 2:
            first, second = chosen[0], chosen[1]
            if question == "compare":
                text = self._wording.comparison(first, second)
            else:
                text = self._wording.compatibility(first, second)
            return ProductAnswer((Reply(text),), (first, second))
        if look.ambiguous:
            return self._clarify(question, chosen, look.ambiguous)
        if not chosen:
            return self._unknown(question, look)
        sku = chosen[0]
        if question == "compatibility":
            return self._single(question, sku)
        category = self._products[sku].category
        others = [p.sku for p in self._products.values() if p.category == category and p.sku != sku]
        others += [other for other in self._popular if other != sku and other not in others]
        buttons = tuple((self._products[o].name, payload(question, [sku, o])) for o in others[:MAX_CHOICES])
        name = self._products[sku].name
        return ProductAnswer((Reply(self._texts.compare_pick_second.format(name=name), buttons),), (sku,))

    def _clarify(self, question: str, chosen: list[str], candidates: Sequence[Match]) -> ProductAnswer:
        buttons = tuple((m.name, payload(question, [*chosen, m.sku])) for m in candidates[:MAX_CHOICES])
        return ProductAnswer((Reply(self._texts.clarify, buttons),), tuple(chosen))

    def _unknown(self, question: str, look: _Lookup) -> ProductAnswer:
        if not look.names_unknown:
            suggestions, text = list(self._popular), self._texts.which_product
        else:
            suggestions = (look.weak + [sku for sku in self._popular if sku not in look.weak])[:MAX_SUGGESTIONS]
            name = look.unknown_name
            text = self._texts.not_found_named.format(query=name) if name else self._texts.not_found
        buttons = tuple((self._products[sku].name, payload(question, [sku])) for sku in suggestions)
        return ProductAnswer((Reply(text, buttons),))

    def _find(self, text: str, mentions: Sequence[str], pair: bool, exclude: Sequence[str]) -> _Lookup:
        """Resolve products from the mentions, then the message (split at "with", "and", ... for pairs)."""
        need = 2 - len(exclude) if pair else 1
        sources: list[tuple[Sequence[str], bool]] = [(mentions, True)] if mentions else []
        sources += [(self._segments(text), False), ([text], False)] if pair else [([text], False)]
        look = _Lookup()
        for queries, named in sources:
            for query in queries:
                self._resolve_into(look, query, [*exclude, *look.found], named)
            if len(look.found) >= need:
                break
        return look

    def _resolve_into(self, look: _Lookup, query: str, exclude: Sequence[str], named: bool) -> None:
        resolution = self._index.resolve(query)
        if resolution.status == "found" and resolution.match is not None:
            if resolution.match.sku not in exclude:
                look.found.append(resolution.match.sku)
            return
        if resolution.status == "ambiguous":
            candidates = tuple(m for m in resolution.candidates if m.sku not in exclude)
            if not look.ambiguous and len(candidates) >= 2:
                look.ambiguous = candidates
            return
        weak = [m.sku for m in self._index.search(query, MAX_SUGGESTIONS) if m.score >= WEAK_MATCH_MIN]
        look.weak += [sku for sku in weak if sku not in look.weak]
        if weak or self._unknown_words(query):
            look.names_unknown = True
            if named and look.unknown_name is None and query.strip():
                look.unknown_name = query.strip().strip("?!.").strip()

    def _unknown_words(self, query: str) -> list[str]:
        return [
            tok
            for tok in tokens(query)
            if len(tok) >= 3
            and tok not in STOPWORDS
            and tok not in QUESTION_WORDS
            and tok not in FILLER_WORDS
            and not self._store_of(tok)
        ]

    def _segments(self, text: str) -> list[str]:
        return [part for part in (p.strip() for p in _SEPARATORS.split(text)) if tokens(part)]

    def _store_of(self, word: str) -> str | None:
        if word in self._store_words:
            return self._store_words[word]
        if len(word) >= 5:
            for name, store_id in self._store_words.items():
                if edit_distance(word, name, 1) <= 1:
                    return store_id
        return None

    def names_product_or_store(self, text: str) -> bool:
        """Whether ``text`` names a product (one, or a few alike) or one of our stores ("and the mesh trio?")."""
        if self._stores_named(text):
            return True
        return self._index.resolve(text).status in ("found", "ambiguous")

    def names_one_product(self, text: str) -> bool:
        """Whether ``text`` names exactly one product of the catalog."""
        return self.product_named(text) is not None

    def product_named(self, text: str, skip_categories: Sequence[str] = ()) -> str | None:
        """The SKU of the one product ``text`` names ("it's the velo ax3000 router"), or None.

        ``skip_categories`` leaves out products of those categories (a device's owner saying "my
        raptor won't power on" is not talking about the Raptor's power supply).
        """
        resolution = self._index.resolve(text)
        if resolution.status != "found" or resolution.match is None:
            return None
        sku = resolution.match.sku
        return None if self._products[sku].category in skip_categories else sku

    def stores_named(self, text: str) -> list[str]:
        """The ids of the stores a message names ("and in munich?"), in order."""
        return self._stores_named(text)

    def _stores_named(self, text: str) -> list[str]:
        found = (self._store_of(tok) for tok in tokens(text))
        return list(dict.fromkeys(store_id for store_id in found if store_id is not None))
