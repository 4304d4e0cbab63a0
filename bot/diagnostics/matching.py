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
    return [p for p in (normalise(text) for text in (option.title, *option.phrases)) if p]


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
    text with a title, synonym or mention; a title, synonym or mention contained in the text as whole words
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


#: Words that may stand between a negation and what it negates ("not *the* router").
_DETERMINERS = frozenset({"the", "a", "an", "my", "our", "your", "this", "that", "any"})


def _negated(before: str) -> bool:
    """Whether the text just before a phrase negates it ("it's not the", "no")."""
    words = before.split()
    while words and words[-1] in _DETERMINERS:
        words.pop()
    return bool(words) and words[-1] in _NEGATIONS


def statements(text: str) -> str:
    """The text without its questions: a sentence ending in "?" is dropped.

    "My wifi keeps dropping. How much is the Mesh Trio?" names a product it asks about, not
    the customer's device.
    """
    return " ".join(part for part in re.split(r"(?<=[.!?;])\s+", text) if not part.rstrip().endswith("?"))


def mentioned_option(text: str, options: tuple[Option, ...]) -> int | None:
    """Return the 0-based index of the one option whose ``mentions`` the text names, or ``None``.

    Meant for a customer's opening message ("my Velo AX3000 keeps dropping the wifi"): only
    the options' mentions count, never their titles or plain synonyms, because a lone word such
    as "router" describes a problem loosely ("my router won't turn on" may be the provider's
    box). A mention inside a longer one is ignored ("ax3000" in "reach ax3000"), and so is a
    negated one ("not the velo"). Two options named, or none, is ``None``.
    """
    said = normalise(text)
    hits: list[tuple[int, int, int, bool]] = []  # start, end, option index, negated
    for index, option in enumerate(options):
        for phrase in {normalise(mention) for mention in option.mentions} - {""}:
            for found in re.finditer(rf"\b{re.escape(phrase)}\b", said):
                hits.append((found.start(), found.end(), index, _negated(said[: found.start()])))
    named = {
        index
        for start, end, index, negated in hits
        if not negated and not any(s <= start and end <= e and e - s > end - start for s, e, _, _ in hits)
    }
    return named.pop() if len(named) == 1 else None


#: Phrases that mark a message as taking back the previous answer ("sorry, I meant a mesh kit").
_CORRECTION_CUES = (
    "sorry",
    "oops",
    "whoops",
    "my bad",
    "i meant",
    "meant",
    "i mean",
    "actually",
    "wait",
    "hold on",
    "i misread",
    "misread",
    "misclicked",
    "mis clicked",
    "wrong button",
    "wrong one",
    "wrong answer",
    "my mistake",
    "mistake",
    "correction",
    "scratch that",
    "i misspoke",
    "typo",
)
_CUE_PATTERN = re.compile(r"\b(?:" + "|".join(re.escape(cue) for cue in _CORRECTION_CUES) + r")\b")
#: Words left at the front once the cue is gone ("oh wait, no, ..."), dropped before matching.
_LEADING_FILLER = frozenset({"oh", "ah", "um", "uh", "er", "no", "nope", "ok", "okay", "well", "so", "hmm", "i", "and"})


#: "no, a mesh kit": a leading "no" followed by an answer.
_LEADING_NO = re.compile(r"^(?:no|nope|nah)\s+\S")


def has_correction_cue(text: str) -> bool:
    """Whether the text reads as taking back an earlier answer ("sorry, I meant ...", "no, a mesh kit")."""
    said = normalise(text)
    return _CUE_PATTERN.search(said) is not None or _LEADING_NO.match(said) is not None


def match_correction(text: str, options: tuple[Option, ...], chosen: int | None) -> int | None:
    """Return the option a correction picks instead of ``chosen`` (0-based), or ``None``.

    A correction has a cue ("sorry, I meant ...", "oh wait, I misread", a leading "no") or
    negates the answer taken back ("it's not a router, it's a mesh kit"). The cue, that
    negated answer and the filler before the new answer ("oh", "no") are dropped; the rest is
    matched like an answer (:func:`match_option`) against the other options.
    """
    rest = _CUE_PATTERN.sub(" ", normalise(text))
    cued = has_correction_cue(text)
    if chosen is not None:
        negations = "|".join(sorted(_NEGATIONS))
        determiners = "|".join(sorted(_DETERMINERS))
        for phrase in sorted(_phrases(options[chosen]), key=len, reverse=True):
            withdrawn = rf"\b(?:{negations})\s+(?:(?:{determiners})\s+)?{re.escape(phrase)}\b"
            rest, count = re.subn(withdrawn, " ", rest)
            cued = cued or count > 0
    words = rest.split()
    while words and words[0] in _LEADING_FILLER:
        words.pop(0)
    if not cued or not words:
        return None
    rest = " ".join(words)
    picked = ordinal_choice(rest, len(options))
    if picked is not None:
        return picked if picked != chosen else None
    others = [index for index in range(len(options)) if index != chosen]
    found = match_option(rest, tuple(options[index] for index in others))
    return others[found] if found is not None else None
