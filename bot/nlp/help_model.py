"""The help center's own sentence encoder: MiniLM fine-tuned to tell its sections apart.

Each section is a class; its examples are its heading (alone and with the article title)
and the ways customers also ask for it (``<!-- also asked: ... -->``, docs/help-center.md).
The top blocks of all-MiniLM-L6-v2 are fine-tuned on them (:meth:`MiniLMEncoder.fine_tune`,
a cosine-softmax head), so questions phrased like customers' land nearer the right section;
the head's class directions become the sections' prototypes in :class:`bot.help.HelpIndex`.

Built by ``python -m bot train`` (and ``run``) when the help center changed: about 2 minutes
on 2 cores. The tuned blocks, the prototypes and the section vectors are kept in one file
``models/help/help-model-<fingerprint>.npz``; a running bot only loads it.
"""

from __future__ import annotations

import json
import logging
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.help import Article, HelpIndex, SearchSettings
from bot.help.articles import LINK_PATTERN
from bot.help.search import fingerprint
from bot.nlp.minilm import LAYER_KEYS, MiniLMEncoder, get_encoder

_LOGGER = logging.getLogger(__name__)

#: How the encoder is fine-tuned (part of the file's fingerprint: a change retrains).
TUNING: dict[str, Any] = {
    "layers": 4,
    "epochs": 8,
    "batch_size": 32,
    "learning_rate": 1e-4,
    "head_learning_rate": 2e-3,
    "seed": 1,
    "examples": "heading,titled,also_asked,lead",
}
PREFIX = "help-model-"


def training_examples(articles: Sequence[Article]) -> tuple[list[str], list[int]]:
    """``(texts, section index)``: every section's heading, titled heading, "also asked" phrasings and lead sentence."""
    texts: list[str] = []
    labels: list[int] = []
    index = 0
    for article in articles:
        for section in article.sections:
            lead = _lead_sentence(section.text)
            examples = (section.heading, f"{article.title}: {section.heading}", *section.also_asked)
            for text in (*examples, lead) if lead else examples:
                texts.append(text)
                labels.append(index)
            index += 1
    return texts, labels


def _lead_sentence(text: str) -> str:
    """The passage's first sentence, links reduced to their words (what the section is about, in its words)."""
    plain = LINK_PATTERN.sub(lambda match: match.group(1), text).replace("\n", " ").strip()
    first = re.split(r"(?<=[.!?])\s", plain, maxsplit=1)[0]
    return first if len(first) >= 20 else ""


def model_path(articles: Sequence[Article], cache_dir: Path) -> Path:
    """Where the tuned encoder for this content lives (or will)."""
    return cache_dir / f"{PREFIX}{fingerprint(articles, 'minilm-tuned ' + json.dumps(TUNING, sort_keys=True))}.npz"


def _read(path: Path) -> tuple[dict[int, dict[str, np.ndarray]], np.ndarray, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path) as stored:
            layers: dict[int, dict[str, np.ndarray]] = {}
            for name in stored.files:
                if name not in ("head", "vectors"):
                    block, key = name.split(".", 1)
                    layers.setdefault(int(block), {})[key] = stored[name]
            return layers, stored["head"], stored["vectors"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        _LOGGER.warning("help.model_unreadable file=%s error=%s (training again)", path.name, error)
        return None


def _train(articles: Sequence[Article], path: Path) -> tuple[dict[int, dict[str, np.ndarray]], np.ndarray, np.ndarray]:
    texts, labels = training_examples(articles)
    _LOGGER.info("help.model_training examples=%d sections=%d", len(texts), max(labels, default=-1) + 1)
    tuned = get_encoder().fine_tune(
        texts,
        labels,
        layers=int(TUNING["layers"]),
        epochs=int(TUNING["epochs"]),
        batch_size=int(TUNING["batch_size"]),
        learning_rate=float(TUNING["learning_rate"]),
        head_learning_rate=float(TUNING["head_learning_rate"]),
        seed=int(TUNING["seed"]),
    )
    vectors = HelpIndex.embed_sections(articles, MiniLMEncoder(layer_overrides=tuned.layers))
    arrays = {f"{block}.{key}": tuned.layers[block][key] for block in tuned.layers for key in LAYER_KEYS}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp.npz")
    np.savez(temporary, head=tuned.head, vectors=vectors, **arrays)
    temporary.replace(path)
    for old in path.parent.glob(f"{PREFIX}*.npz"):
        if old != path:
            old.unlink(missing_ok=True)
    _LOGGER.info("help.model_trained file=%s losses=%s", path.name, [round(x, 3) for x in tuned.losses])
    return tuned.layers, tuned.head, vectors


def ensure_help_model(articles: Sequence[Article], cache_dir: Path) -> tuple[Path, bool]:
    """Fine-tune the help encoder if this content has none yet: ``(file, trained now)``."""
    path = model_path(articles, cache_dir)
    if _read(path) is not None:
        return path, False
    _train(articles, path)
    return path, True


def load_help_index(articles: Sequence[Article], cache_dir: Path, settings: SearchSettings | None = None) -> HelpIndex:
    """The help index on the tuned encoder (trained first if missing, which takes a minute or two)."""
    path = model_path(articles, cache_dir)
    stored = _read(path)
    if stored is None:
        _LOGGER.warning("help.model_missing file=%s (training now; `python -m bot train` does it ahead)", path.name)
        stored = _train(articles, path)
    layers, head, vectors = stored
    return HelpIndex(articles, vectors, MiniLMEncoder(layer_overrides=layers), settings, prototypes=head.T)
