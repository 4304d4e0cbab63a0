"""Free-text matching of a customer's answer against the options of a step."""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

from bot.diagnostics.model import Option

#: Minimum similarity (0..1) for a fuzzy match of the whole answer.
FUZZY_THRESHOLD = 0.82
_NEGATIONS = frozenset({"not", "no", "dont", "didnt", "doesnt", "isnt", "wasnt", "wont", "cant", "never", "nothing"})


def normalise(text: str) -> str:
    """Lower-case, strip accents, apostrophes and punctuation, collapse whitespace."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    plain = re.sub(r"[’'`]", "", plain)
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "last": -1}
_ORDINAL_FILLER = frozenset({"the", "one", "option", "number", "answer", "no", "nr"})


def ordinal_choice(text: str, count: int) -> int | None:
    """Return the 0-based index picked by "2", "option 2", "the second one" or "the last one".

    ``None`` when the text is not such a pick or names a position beyond ``count``.
    """
    words = [word for word in normalise(text).split() if word not in _ORDINAL_FILLER]
    if len(words) != 1:
        return None
    word = words[0]
    position = int(word) if word.isdigit() else _ORDINALS.get(word)
    if position is None or position == 0:
        return None
    index = count - 1 if position == -1 else position - 1
    return index if 0 <= index < count else None


def _phrases(option: Option) -> list[str]:
    return [p for p in (normalise(text) for text in (option.title, *option.synonyms)) if p]


def _unique(matches: list[tuple[float, int]]) -> int | None:
    """Return the index of the single best-scoring option, or ``None`` when absent or tied."""
    if not matches:
        return None
    matches.sort(reverse=True)
    best_score, best_index = matches[0]
    rivals = [index for score, index in matches if score == best_score and index != best_index]
    return None if rivals else best_index


def match_option(text: str, options: tuple[Option, ...]) -> int | None:
    """Return the 0-based index of the option a free-text answer selects, or ``None``.

    Tried in order: a pick by position ("2", "the second one"); exact match of the normalised
    text with a title or synonym; a title or synonym contained in the text as whole words
    (longest wins, and only when the text adds no negation the phrase lacks, so "not fixed"
    never selects "fixed"); then a fuzzy match of the whole text (:data:`FUZZY_THRESHOLD`).
    Ties between options count as no match.
    """
    answer = normalise(text)
    if not answer:
        return None
    picked = ordinal_choice(text, len(options))
    if picked is not None:
        return picked
    words = set(answer.split())
    exact = [index for index, option in enumerate(options) if answer in _phrases(option)]
    if len(set(exact)) == 1:
        return exact[0]
    contained: list[tuple[float, int]] = []
    fuzzy: list[tuple[float, int]] = []
    for index, option in enumerate(options):
        for phrase in _phrases(option):
            added_negation = (words - set(phrase.split())) & _NEGATIONS
            if re.search(rf"\b{re.escape(phrase)}\b", answer) and not added_negation:
                contained.append((float(len(phrase)), index))
            ratio = SequenceMatcher(None, answer, phrase).ratio()
            if ratio >= FUZZY_THRESHOLD:
                fuzzy.append((ratio, index))
    by_option: dict[int, float] = {}
    for score, index in contained:
        by_option[index] = max(score, by_option.get(index, 0.0))
    found = _unique([(score, index) for index, score in by_option.items()])
    if found is not None:
        return found
    best: dict[int, float] = {}
    for score, index in fuzzy:
        best[index] = max(score, best.get(index, 0.0))
    return _unique([(score, index) for index, score in best.items()])
