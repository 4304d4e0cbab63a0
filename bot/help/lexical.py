"""The lexical half of help search: BM25 over section texts, with typo-tolerant query terms.

Terms are lower-cased, accent-free word tokens, lightly stemmed, without stop words. A query
word that no section uses is replaced by the indexed word it is most likely a typo of
(one or two edits, found through a delete index as SymSpell does), so "retrun my parcle"
still meets "return" and "parcel".
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

STOP_WORDS = frozenset(
    """a an and are as at be been but by can could do does did for from had has have how i i'm im if in into is it
    its me my of on or our so that the their them then there these they this to us was we were what when where which
    who why will with would you your yours hi hello please thanks thank hey just""".split()
)
_WORD = re.compile(r"[a-z0-9]+")
#: Longest suffix first; a stem keeps at least three characters.
_SUFFIXES = ("ations", "ation", "ings", "ing", "ied", "ies", "ed", "es", "ly", "s")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ß", "ss")


def stem(word: str) -> str:
    """A light English stemmer: enough to meet "refunds"/"refunded"/"refunding" at "refund"."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if suffix in ("ied", "ies"):
                word += "y"
            break
    return word


def tokens(text: str) -> list[str]:
    """Lower-case, accent-free word tokens of ``text``."""
    return _WORD.findall(_fold(text))


def words(text: str) -> list[str]:
    """The tokens of ``text`` without stop words (not stemmed)."""
    return [w for w in tokens(text) if w not in STOP_WORDS]


def terms(text: str) -> list[str]:
    """The index terms of ``text``."""
    return [stem(w) for w in words(text)]


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance (insert, delete, substitute, swap neighbours)."""
    rows = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        rows[i][0] = i
    for j in range(len(b) + 1):
        rows[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[len(a)][len(b)]


class Speller:
    """Maps an unknown word to the indexed word it most likely misspells, or leaves it."""

    def __init__(self, vocabulary: Counter[str]) -> None:
        self.vocabulary = vocabulary
        self._by_delete: dict[str, set[str]] = {}
        for word in vocabulary:
            if len(word) >= 4:
                for key in _deletes(word) | {word}:
                    self._by_delete.setdefault(key, set()).add(word)

    def correct(self, word: str) -> str:
        """``word`` itself when indexed, too short or with no close indexed word."""
        if word in self.vocabulary or len(word) < 4 or word.isdigit():
            return word
        candidates: set[str] = set()
        for key in _deletes(word) | {word}:
            candidates |= self._by_delete.get(key, set())
        limit = 1 if len(word) < 7 else 2
        scored = [(_distance(word, c), -self.vocabulary[c], c) for c in candidates]
        best = min((s for s in scored if s[0] <= limit), default=None)
        return best[2] if best else word


class BM25:
    """Okapi BM25 over a fixed list of documents (given as term lists)."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.counts = [Counter(doc) for doc in documents]
        self.lengths = [len(doc) for doc in documents]
        self.average = (sum(self.lengths) / len(documents)) if documents else 0.0
        frequency: Counter[str] = Counter()
        for counts in self.counts:
            frequency.update(counts.keys())
        n = len(documents)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in frequency.items()}
        self.postings: dict[str, list[int]] = {}
        for i, counts in enumerate(self.counts):
            for t in counts:
                self.postings.setdefault(t, []).append(i)

    def scores(self, query: Iterable[str]) -> tuple[list[float], float]:
        """``(score per document, the best score any document could reach for this query)``.

        The ceiling (every query term present, saturated) makes scores comparable between
        queries: ``score / ceiling`` is in ``[0, 1]``. A term no document has counts in the
        ceiling at the highest idf: a question full of words the help center never uses is
        a question it does not answer.
        """
        out = [0.0] * len(self.counts)
        ceiling = 0.0
        unseen_idf = math.log(1 + (len(self.counts) + 0.5) / 0.5)
        for term in set(query):
            idf = self.idf.get(term)
            ceiling += (unseen_idf if idf is None else idf) * (self.k1 + 1)
            if idf is None:
                continue
            for i in self.postings[term]:
                tf = self.counts[i][term]
                norm = self.k1 * (1 - self.b + self.b * self.lengths[i] / (self.average or 1))
                out[i] += idf * tf * (self.k1 + 1) / (tf + norm)
        return out, ceiling
