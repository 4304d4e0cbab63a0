"""Help search: hybrid lexical (BM25) and semantic (sentence embeddings) retrieval over sections.

The index holds every section of every article. A question is scored against each section
as ``semantic_weight * cosine + (1 - semantic_weight) * bm25 / ceiling`` (both in [0, 1]):
the cosine of the question's embedding and the section's (the best of its heading and its
passage), and the BM25 score over the section's words plus its article's title and tags,
relative to the best score the question could reach. The best section is answered when its
score reaches ``answer_threshold`` and it leads the second best by ``answer_margin`` (two
close sections mean the question is ambiguous: wrong answers are mostly of that kind); else
from ``suggest_threshold`` the two likeliest articles are offered, and below that a person.
The numbers come from ``data/help/search.yml``, calibrated by ``bench/help_retrieval.py``.

The bot runs on the fine-tuned encoder of ``bot/nlp/help_model.py``, which keeps the section
vectors in its model file; :meth:`HelpIndex.build` indexes with any encoder (the pretrained
one, say), caching the vectors per content in the same way.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import yaml

from bot.help.articles import Article, Section
from bot.help.lexical import BM25, STOP_WORDS, Speller, stem, tokens, words

logger = logging.getLogger(__name__)

INDEX_VERSION = "1"


class Encoder(Protocol):
    """Turns texts into L2-normalised vectors (``bot.nlp.minilm.MiniLMEncoder`` is one)."""

    def encode(self, texts: Iterable[str], batch_size: int = 64) -> np.ndarray:
        """One row per text."""
        ...


@dataclass(frozen=True)
class SearchSettings:
    """How confident the search must be (``data/help/search.yml``)."""

    semantic_weight: float = 0.6
    answer_threshold: float = 0.5  # at or above (and clear of the runner-up): answer with the best section
    answer_margin: float = 0.0  # how far the best section must lead the second best to be answered
    suggest_threshold: float = 0.35  # at or above (and not answered): offer the two likeliest articles

    @classmethod
    def load(cls, path: Path) -> SearchSettings:
        """The file's values; defaults for a missing file.

        Raises:
            ValueError: the file is not a mapping of numbers in [0, 1] with suggest <= answer.
        """
        if not path.is_file():
            return cls()
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise ValueError(f"{path}: unreadable ({error})") from error
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping")
        known = {"semantic_weight", "answer_threshold", "answer_margin", "suggest_threshold"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
        values = {}
        for key, value in data.items():
            if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{path}: {key} must be a number between 0 and 1")
            values[key] = float(value)
        settings = cls(**values)
        if settings.suggest_threshold > settings.answer_threshold:
            raise ValueError(f"{path}: suggest_threshold must not exceed answer_threshold")
        return settings


@dataclass(frozen=True)
class Hit:
    """One section and how well it matches the question."""

    section: Section
    article: Article
    score: float
    semantic: float
    lexical: float


@dataclass(frozen=True)
class SearchResult:
    """What the search found: ``decision`` is ``answer``, ``suggest`` or ``none``."""

    decision: str
    hits: tuple[Hit, ...]

    @property
    def best(self) -> Hit | None:
        """The best-scoring section, if any."""
        return self.hits[0] if self.hits else None

    def articles(self, limit: int = 2) -> list[Article]:
        """The ``limit`` likeliest distinct articles, best first."""
        seen: dict[str, Article] = {}
        for hit in self.hits:
            seen.setdefault(hit.article.id, hit.article)
            if len(seen) == limit:
                break
        return list(seen.values())


def section_texts(article: Article, section: Section) -> list[str]:
    """What is embedded for a section: its heading (with the title), its passage, and each way it is also asked."""
    return [f"{article.title}: {section.heading}", f"{section.heading}\n{section.text}", *section.also_asked]


def fingerprint(articles: Sequence[Article], encoder_name: str) -> str:
    """Changes whenever a section text, heading, phrasing, title or the encoder changes."""
    digest = hashlib.sha256(f"{INDEX_VERSION}|{encoder_name}".encode())
    for article in articles:
        for section in article.sections:
            for text in section_texts(article, section):
                digest.update(text.encode() + b"\0")
            digest.update(b"\1")
    return digest.hexdigest()[:16]


class HelpIndex:
    """Every section of the help center, searchable by a customer's question."""

    def __init__(
        self,
        articles: Sequence[Article],
        embeddings: np.ndarray,
        encoder: Encoder,
        settings: SearchSettings | None = None,
        prototypes: np.ndarray | None = None,
    ) -> None:
        """Index ``articles``.

        ``embeddings``: the rows of :func:`section_texts` for every section, in order;
        ``prototypes``: optionally one learned direction per section (a fine-tuned encoder's
        class head, ``bot/nlp/help_model.py``), averaged with the best row's cosine.
        """
        self.articles = {a.id: a for a in articles}
        self.sections: list[tuple[Article, Section]] = [(a, s) for a in articles for s in a.sections]
        counts = [len(section_texts(a, s)) for a, s in self.sections]
        if embeddings.shape[0] != sum(counts):
            raise ValueError("the embeddings do not match the sections (rebuild the help index)")
        self.vectors = embeddings
        #: The first row of each section's vectors (rows of one section are contiguous).
        self.starts = np.cumsum([0, *counts[:-1]]).astype(np.intp)
        if prototypes is not None and prototypes.shape[0] != len(self.sections):
            raise ValueError("the prototypes do not match the sections (rebuild the help model)")
        self.prototypes = prototypes
        self.encoder = encoder
        self.settings = settings or SearchSettings()
        documents = []
        vocabulary: Counter[str] = Counter()
        for article, section in self.sections:
            raw = words(
                " ".join([section.heading, section.heading, article.title, " ".join(article.tags), section.text])
            )
            vocabulary.update(raw)
            documents.append([stem(w) for w in raw])
        self.speller = Speller(vocabulary)
        self.bm25 = BM25(documents)

    @staticmethod
    def embed_sections(articles: Sequence[Article], encoder: Encoder) -> np.ndarray:
        """The vectors of every section's texts (:func:`section_texts`), section after section."""
        texts = [
            text for article in articles for section in article.sections for text in section_texts(article, section)
        ]
        return encoder.encode(texts)

    @classmethod
    def build(
        cls,
        articles: Sequence[Article],
        encoder: Encoder,
        cache_dir: Path,
        *,
        encoder_name: str = "all-MiniLM-L6-v2",
        settings: SearchSettings | None = None,
    ) -> HelpIndex:
        """The index, with section embeddings from ``cache_dir`` when the content is unchanged."""
        path = cache_path(articles, cache_dir, encoder_name)
        embeddings = None
        if path.is_file():
            try:
                with np.load(path) as stored:
                    embeddings = stored["embeddings"]
            except (OSError, ValueError, KeyError) as error:
                logger.warning("help.index_unreadable path=%s error=%s (re-encoding)", path.name, error)
        rows = sum(len(section_texts(a, s)) for a in articles for s in a.sections)
        if embeddings is None or embeddings.shape[0] != rows:
            embeddings = cls.embed_sections(articles, encoder)
            cache_dir.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp.npz")
            np.savez(temporary, embeddings=embeddings)
            temporary.replace(path)
            for old in cache_dir.glob("help-index-*.npz"):
                if old != path:
                    old.unlink(missing_ok=True)
            logger.info("help.index_built vectors=%d file=%s", embeddings.shape[0], path.name)
        return cls(articles, embeddings, encoder, settings)

    def correct(self, question: str) -> str:
        """``question`` (lower case) with words the help center never uses replaced by their likely spelling."""
        return " ".join(w if w in STOP_WORDS else self.speller.correct(w) for w in tokens(question))

    def search(self, question: str, limit: int = 5) -> SearchResult:
        """The best sections for ``question`` and what to do with them."""
        corrected = self.correct(question)
        query_terms = [stem(w) for w in words(corrected)]
        if not query_terms or not self.sections:
            return SearchResult("none", ())
        lexical, ceiling = self.bm25.scores(query_terms)
        lexical_scores = np.asarray(lexical, np.float32) / (ceiling or 1.0)
        vector = self.encoder.encode([corrected])[0]
        semantic = np.maximum.reduceat(self.vectors @ vector, self.starts)
        if self.prototypes is not None:
            semantic = (semantic + self.prototypes @ vector) / 2
        weight = self.settings.semantic_weight
        scores = weight * semantic + (1 - weight) * lexical_scores
        order = np.argsort(-scores)[:limit]
        hits = tuple(
            Hit(
                section=self.sections[i][1],
                article=self.sections[i][0],
                score=float(scores[i]),
                semantic=float(semantic[i]),
                lexical=float(lexical_scores[i]),
            )
            for i in order
        )
        top = hits[0].score
        lead = top - (hits[1].score if len(hits) > 1 else 0.0)
        if top >= self.settings.answer_threshold and lead >= self.settings.answer_margin:
            decision = "answer"
        elif top >= self.settings.suggest_threshold:
            decision = "suggest"
        else:
            decision = "none"
        return SearchResult(decision, hits)


def cache_path(articles: Sequence[Article], cache_dir: Path, encoder_name: str = "all-MiniLM-L6-v2") -> Path:
    """Where the section embeddings of this content are kept."""
    return cache_dir / f"help-index-{fingerprint(articles, encoder_name)}.npz"
