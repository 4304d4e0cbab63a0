"""Training candidates: the customer messages the bot did not understand, grouped by meaning, as Rasa NLU YAML.

``python -m bot nlu-candidates --since 30d > candidates.yml`` (docs/analytics.md, "Training
candidates") reads the period's messages from Rasa's tracker store (:func:`read_missed`:
intent ``nlu_fallback``, or a confidence under the FallbackClassifier's threshold), leaves out
button payloads and whatever looks like personal data, counts each text once however it is
capitalised (:func:`select`), groups the texts by the cosine similarity of their sentence
vectors (:func:`group`; the encoder is passed in) and writes one ``candidate_<n>`` intent per
group, most frequent first (:func:`render_nlu_yaml`). The analytics tables never hold a
customer's words; this reads them from the tracker store, read-only, and keeps nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.analytics.missed import read_missed
from bot.analytics.personal_data import personal_data_kind

Encoder = Callable[[Sequence[str]], np.ndarray]
"""Texts -> one vector per row (``MiniLMEncoder.encode`` is one); rows are L2-normalised here."""

DEFAULT_SIMILARITY = 0.6
_BLOCK = 1024  # rows of the similarity matrix computed at a time
_COMMENT_CHARS = 80
# Rasa reads "[text](entity)", "[text]{...}" and "[text][...]" in an example as an annotation.
_ANNOTATION = re.compile(r"\](?=[({\[])")


@dataclass(frozen=True)
class Selection:
    """The texts worth grouping, and what was left out.

    Attributes:
        texts: Each text once (compared case-insensitively), in its most frequent spelling;
            most frequent first.
        counts: How many messages each text stands for.
        messages: The messages not understood that came in.
        buttons: Of these, button payloads (``/intent``), left out.
        personal: Of these, left out because they seemed to hold personal data, by kind.
    """

    texts: tuple[str, ...]
    counts: tuple[int, ...]
    messages: int
    buttons: int = 0
    personal: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CandidateGroup:
    """Texts alike in meaning: a candidate intent.

    ``examples[0]`` is the group's centre (the text most of the others resemble); the rest
    follow by how many messages they stand for, then by how close they are to the centre.
    """

    examples: tuple[str, ...]
    counts: tuple[int, ...]

    @property
    def messages(self) -> int:
        """The messages the group stands for (a text sent three times counts three)."""
        return sum(self.counts)


@dataclass(frozen=True)
class TopGroup:
    """A group as the dashboard would show it: its size and a few of its texts."""

    messages: int
    examples: tuple[str, ...]


LEXICAL_DIMENSIONS = 4096


def lexical_encoder(texts: Sequence[str]) -> np.ndarray:
    """Character-trigram vectors (hashed, L2-normalised): groups spellings and word forms, not meanings.

    For the dashboard, which must not load the sentence encoder into the gateway; the CLI
    (``python -m bot nlu-candidates``) groups by meaning with MiniLM.
    """
    vectors = np.zeros((len(texts), LEXICAL_DIMENSIONS), dtype=np.float32)
    for row, text in enumerate(texts):
        padded = f"  {' '.join(text.lower().split())}  "
        for i in range(len(padded) - 2):
            digest = hashlib.blake2b(padded[i : i + 3].encode("utf-8"), digest_size=4).digest()
            vectors[row, int.from_bytes(digest, "little") % LEXICAL_DIMENSIONS] += 1.0
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def clean(text: str) -> str:
    """One line: whitespace collapsed, control characters and stray surrogates removed."""
    kept = "".join(
        ch for ch in text if ch.isspace() or (unicodedata.category(ch) not in ("Cc", "Cs") and ch != "\ufeff")
    )
    return " ".join(kept.split())


def select(texts: Iterable[str]) -> Selection:
    """Leave out button payloads and personal data; count each text once, whatever its capitals."""
    messages = buttons = 0
    personal: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for raw in texts:
        messages += 1
        text = clean(raw)
        if text.startswith("/"):
            buttons += 1
            continue
        kind = personal_data_kind(text)
        if kind is not None:
            personal[kind] += 1
            continue
        if text:
            spellings.setdefault(text.casefold(), Counter())[text] += 1
    ranked = sorted(
        ((spelling.most_common(1)[0][0], sum(spelling.values())) for spelling in spellings.values()),
        key=lambda pair: (-pair[1], pair[0].casefold(), pair[0]),
    )
    return Selection(
        texts=tuple(text for text, _ in ranked),
        counts=tuple(count for _, count in ranked),
        messages=messages,
        buttons=buttons,
        personal=dict(sorted(personal.items())),
    )


def group(
    texts: Sequence[str], counts: Sequence[int], encoder: Encoder, *, threshold: float = DEFAULT_SIMILARITY
) -> list[CandidateGroup]:
    """Group texts whose vectors are alike (cosine >= ``threshold``); the groups, most messages first.

    Greedy centre clustering: the text with the most messages among its unassigned
    neighbours (itself included) becomes a centre and takes those neighbours; repeat until
    every text has a group. Each member is at least ``threshold`` alike to its centre, a real
    message. The encoder is called once, with every text; the neighbours are found a block of
    rows at a time, so memory grows with the pairs that are alike, not with all pairs.
    """
    if len(texts) != len(counts):
        raise ValueError("group needs one count per text")
    if not texts:
        return []
    vectors = np.asarray(encoder(list(texts)), dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise ValueError(f"the encoder gave {vectors.shape} for {len(texts)} texts")
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    weight = np.asarray(counts, dtype=np.int64)
    neighbours, similarity = _neighbours(unit, threshold)
    mass = np.array([weight[n].sum() for n in neighbours], dtype=np.int64)
    assigned = np.zeros(len(texts), dtype=bool)
    groups: list[CandidateGroup] = []
    while not assigned.all():
        open_ = np.flatnonzero(~assigned)
        if (mass[open_] == weight[open_]).all():  # nothing left has an unassigned neighbour
            groups += [CandidateGroup((texts[i],), (int(weight[i]),)) for i in open_]
            break
        # The most mass; then the text with the most messages; then the earlier (texts come most frequent first).
        centre = int(open_[np.lexsort((open_, -weight[open_], -mass[open_]))[0]])
        free = ~assigned[neighbours[centre]]
        members, closeness = neighbours[centre][free], similarity[centre][free]
        assigned[members] = True
        for member in members:
            mass[neighbours[member]] -= weight[member]
        near = {int(m): float(c) for m, c in zip(members, closeness, strict=True)}
        others = sorted((m for m in near if m != centre), key=lambda m: (-weight[m], -near[m], texts[m]))
        order = [centre, *others]
        groups.append(CandidateGroup(tuple(texts[i] for i in order), tuple(int(weight[i]) for i in order)))
    return sorted(groups, key=lambda g: (-g.messages, -len(g.examples), g.examples[0]))


def _neighbours(unit: np.ndarray, threshold: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """For each row: the rows at least ``threshold`` alike (itself included) and their similarities."""
    neighbours: list[np.ndarray] = []
    similarity: list[np.ndarray] = []
    for start in range(0, len(unit), _BLOCK):
        block = unit[start : start + _BLOCK] @ unit.T
        rows = np.arange(len(block))
        block[rows, rows + start] = 1.0  # itself, even when its vector is zero
        for row in block:
            found = np.flatnonzero(row >= threshold)
            neighbours.append(found)
            similarity.append(row[found])
    return neighbours, similarity


@dataclass(frozen=True)
class Candidates:
    """The period's candidates: what was selected, and the groups kept (largest first)."""

    selection: Selection
    groups: tuple[CandidateGroup, ...]
    found: int  # groups found, before --min-group and --max-groups

    def summary(self, similarity: float) -> str:
        """One line: what came in, what was left out, how many groups."""
        s = self.selection
        left_out = [f"{s.buttons} button payload{'' if s.buttons == 1 else 's'}"]
        if s.personal:
            kinds = ", ".join(f"{count} {kind}" for kind, count in s.personal.items())
            left_out.append(f"{sum(s.personal.values())} with personal data ({kinds})")
        return (
            f"{s.messages} message{'' if s.messages == 1 else 's'} not understood; left out "
            f"{' and '.join(left_out)}; {len(s.texts)} different texts in {self.found} groups "
            f"(similarity >= {similarity:.2f}); {len(self.groups)} kept"
        )


def find_candidates(
    texts: Iterable[str],
    encoder: Encoder,
    *,
    similarity: float = DEFAULT_SIMILARITY,
    min_group: int = 2,
    max_groups: int = 30,
) -> Candidates:
    """Select the texts worth grouping, group them, keep the largest groups."""
    selection = select(texts)
    groups = group(selection.texts, selection.counts, encoder, threshold=similarity)
    return Candidates(selection, tuple(keep(groups, min_group=min_group, max_groups=max_groups)), len(groups))


def top_candidates(
    tracker_url: str,
    since: dt.datetime,
    until: dt.datetime,
    encoder: Encoder,
    *,
    fallback_threshold: float,
    similarity: float = DEFAULT_SIMILARITY,
    min_group: int = 2,
    limit: int = 5,
    examples: int = 3,
) -> list[TopGroup]:
    """The largest groups of messages not understood in [since, until), with a few texts each (for the dashboard).

    ``fallback_threshold`` is :func:`bot.analytics.missed.fallback_threshold` of Rasa's
    ``config.yml``; the encoder (``MiniLMEncoder.encode``) is the caller's to load. Reads
    Rasa's tracker store and encodes every text: seconds, not milliseconds (run it in a
    worker thread).
    """
    missed = read_missed(tracker_url, since, until, fallback_threshold)
    found = find_candidates(
        (m.text for m in missed), encoder, similarity=similarity, min_group=min_group, max_groups=limit
    )
    return top_groups(found.groups, limit, examples)


def keep(groups: Sequence[CandidateGroup], *, min_group: int = 2, max_groups: int = 30) -> list[CandidateGroup]:
    """The ``max_groups`` largest groups of at least ``min_group`` messages (``groups`` come largest first)."""
    return [g for g in groups if g.messages >= min_group][: max(max_groups, 0)]


def top_groups(groups: Sequence[CandidateGroup], limit: int = 5, examples: int = 3) -> list[TopGroup]:
    """The first ``limit`` groups with their size and first ``examples`` texts (for the dashboard)."""
    return [TopGroup(g.messages, g.examples[:examples]) for g in groups[:limit]]


def render_nlu_yaml(groups: Sequence[CandidateGroup], *, max_examples: int = 20, header: Sequence[str] = ()) -> str:
    """Rasa NLU training data (``version: "3.1"``): one ``candidate_<n>`` intent per group, in order.

    ``header`` lines become comments at the top. Each intent carries its size and centre in a
    comment, and up to ``max_examples`` of its texts; an example's "](" / "]{" / "][" get a
    space so that Rasa does not read them as an entity annotation.
    """
    lines = [f"# {clean(line)}".rstrip() for line in header]
    lines.append('version: "3.1"')
    if not groups:
        lines.append("nlu: []")
    else:
        lines.append("nlu:")
    for number, candidate in enumerate(groups, start=1):
        size = f"{candidate.messages} message{'' if candidate.messages == 1 else 's'}"
        lines.append(f"- intent: candidate_{number}  # {size}, e.g. {_quoted(candidate.examples[0])}")
        lines.append("  examples: |")
        lines += [f"    - {_ANNOTATION.sub('] ', clean(text))}" for text in candidate.examples[: max(max_examples, 1)]]
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    text = clean(text)
    if len(text) > _COMMENT_CHARS:
        text = text[: _COMMENT_CHARS - 1].rstrip() + "…"
    return json.dumps(text, ensure_ascii=False)
