"""A spaCy pipeline that tags product mentions, built from the product catalog (no model download).

The pipeline is ``spacy.blank("en")`` plus an ``entity_ruler`` whose token patterns match on
``LOWER``, so matching ignores case (Rasa's ``SpacyNLP`` lower-cases text anyway). Every pattern
has the label ``product`` and the product's SKU as its ``id`` (``ent.ent_id_``). A product
contributes its name (with and without the ``Nimbus`` brand), its aliases (without a leading
article), its SKU and model number as written, spaced and compact, and its model core
(``"ax3000"``, ``"ax 3000"``). Patterns are tokenised with ``nlp.make_doc``, so ``"NR-AX3000"``
matches however spaCy splits it. Overlapping matches keep the longest.

A pattern claimed by two products goes to the one naming it explicitly (a model core shared by
two products, ``ax3000``, belongs to the product with that alias); when that is still a tie the
pattern is dropped. A bare category word (``"switch"``, ``"extender"``) is never a pattern.

Typical use (what ``python -m bot nlp`` does)::

    path, rebuilt = ensure_pipeline(settings.paths.data_dir, settings.paths.project_root / DEFAULT_DIR)
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.catalog.normalize import CATEGORY_TERMS, GENERIC_WORDS, compact, content_tokens, model_core, normalize
from bot.core.locks import exclusive
from bot.db.demo_catalog import PRODUCTS_FILE, load_products
from bot.db.demo_types import ProductRecord

if TYPE_CHECKING:
    from spacy.language import Language

__all__ = [
    "BUILDER_VERSION",
    "DEFAULT_DIR",
    "PRODUCT_LABEL",
    "STAMP_FILE",
    "build_pipeline",
    "catalog_fingerprint",
    "ensure_pipeline",
]

_LOGGER = logging.getLogger(__name__)

BUILDER_VERSION = "1"
"""Bump when :func:`build_pipeline` changes, so saved pipelines are rebuilt."""

DEFAULT_DIR = Path("models/spacy/nimbus_catalog")
"""Where the pipeline is saved, relative to the project root (``config.yml`` names this path)."""

PRODUCT_LABEL = "product"
"""The entity label of every pattern."""

STAMP_FILE = "catalog.fingerprint"
"""File inside the saved pipeline holding the :func:`catalog_fingerprint` it was built from."""

BRAND = "nimbus"
_ARTICLES = frozenset({"the", "a", "an"})
_LETTERS_THEN_DIGIT = re.compile(r"\b([a-z]{2,})(?=\d)")
_EXPLICIT, _DERIVED = 0, 1


def _without_brand(name: str) -> str | None:
    first, _, rest = name.partition(" ")
    return rest if first.casefold() == BRAND and rest else None


def _without_article(text: str) -> str:
    first, _, rest = text.partition(" ")
    return rest if first.casefold() in _ARTICLES and rest else text


def _is_bare_generic(text: str) -> bool:
    words = content_tokens(text)
    return len(words) <= 1 and all(w in CATEGORY_TERMS or w in GENERIC_WORDS for w in words)


def _phrases(product: ProductRecord) -> Iterator[tuple[str, int]]:
    """Yield ``(text, priority)`` for every way a customer may name the product."""
    yield product.name, _EXPLICIT
    short = _without_brand(product.name)
    if short:
        yield short, _EXPLICIT
    for alias in product.aliases:
        yield _without_article(alias), _EXPLICIT
    for code in (product.sku, product.model_number):
        yield code, _EXPLICIT
        yield normalize(code), _EXPLICIT
        yield compact(code), _EXPLICIT
    core = model_core(product.model_number)
    if core:
        spaced = re.sub(r"^[a-z]+\s+", "", normalize(product.model_number), count=1)
        for variant in (core, spaced, _LETTERS_THEN_DIGIT.sub(r"\1 ", spaced)):
            yield variant, _DERIVED


def _token_keys(nlp: Language, text: str) -> set[tuple[str, ...]]:
    """Return the lower-cased token sequences of the text, however its case changes tokenisation."""
    return {tuple(tok.lower_ for tok in nlp.make_doc(variant)) for variant in (text, text.lower(), text.upper())}


def _patterns(nlp: Language, products: Sequence[ProductRecord]) -> list[dict[str, Any]]:
    owners: dict[tuple[str, ...], dict[str, int]] = {}
    for product in products:
        for text, priority in _phrases(product):
            if not text.strip() or _is_bare_generic(text):
                continue
            for key in _token_keys(nlp, text):
                claims = owners.setdefault(key, {})
                claims[product.sku] = min(priority, claims.get(product.sku, priority))
    patterns: list[dict[str, Any]] = []
    for key, claims in owners.items():
        best = min(claims.values())
        winners = [sku for sku, priority in claims.items() if priority == best]
        if len(winners) != 1:
            _LOGGER.debug("nlp.pattern_dropped pattern=%r skus=%s", " ".join(key), ",".join(sorted(winners)))
            continue
        tokens = [{"LOWER": tok} for tok in key]
        patterns.append({"label": PRODUCT_LABEL, "pattern": tokens, "id": winners[0]})
    patterns.sort(key=lambda p: (p["id"], [t["LOWER"] for t in p["pattern"]]))
    return patterns


def build_pipeline(products: Sequence[ProductRecord]) -> Language:
    """Build a blank English pipeline with an entity ruler tagging the catalog's products.

    Args:
        products: The catalog, e.g. ``load_products(settings.paths.data_dir)``.

    Returns:
        The pipeline; ``nlp("how much is the velo ax3000?").ents`` holds one ``product`` entity
        whose ``ent_id_`` is ``"NR-AX3000-EU"``.
    """
    import spacy  # importing spaCy takes seconds (thinc loads TensorFlow); only a rebuild needs it

    nlp = spacy.blank("en")
    nlp.meta["name"] = "nimbus_catalog"
    nlp.meta["description"] = "Product mentions from the Nimbus Networks catalog (entity_ruler only)."
    ruler = nlp.add_pipe("entity_ruler", config={"validate": True})
    patterns = _patterns(nlp, products)
    ruler.add_patterns(patterns)  # type: ignore[attr-defined]
    _LOGGER.info("nlp.built products=%d patterns=%d", len(products), len(patterns))
    return nlp


def catalog_fingerprint(products_file: Path) -> str:
    """Return the hash a saved pipeline is stamped with.

    Args:
        products_file: The catalog file, ``data/catalog/products.yml``.

    Returns:
        The hex SHA-256 of :data:`BUILDER_VERSION` and the file's bytes.
    """
    digest = hashlib.sha256(f"catalog-spacy-builder={BUILDER_VERSION}\n".encode())
    digest.update(products_file.read_bytes())
    return digest.hexdigest()


def _stamp(out_dir: Path) -> str | None:
    try:
        return (out_dir / STAMP_FILE).read_text().strip()
    except OSError:
        return None


def _replace_dir(built: Path, out_dir: Path) -> None:
    """Move ``built`` to ``out_dir``; an existing ``out_dir`` is renamed away first, then removed."""
    old: Path | None = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        out_dir.rename(old / out_dir.name)
    built.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def ensure_pipeline(data_dir: Path, out_dir: Path, *, force: bool = False) -> tuple[Path, bool]:
    """Save the catalog pipeline to ``out_dir`` unless it was already built from this catalog.

    The pipeline is built in a temporary folder next to ``out_dir`` and then moved into place,
    so a reader never sees a half-written pipeline. Concurrent callers wait for one build.

    Args:
        data_dir: The data folder (``settings.paths.data_dir``); reads ``catalog/products.yml``.
        out_dir: Where to save the pipeline, e.g. ``settings.paths.project_root / DEFAULT_DIR``.
        force: Rebuild even if the stamp matches.

    Returns:
        ``(out_dir, rebuilt)``.

    Raises:
        DataFileError: The catalog file is missing or malformed.
    """
    products_file = data_dir / PRODUCTS_FILE
    wanted = catalog_fingerprint(products_file)
    if not force and _stamp(out_dir) == wanted:
        return out_dir, False
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(out_dir.parent / f".{out_dir.name}.lock"):
        wanted = catalog_fingerprint(products_file)
        if not force and _stamp(out_dir) == wanted:
            return out_dir, False
        products = load_products(data_dir)
        work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
        try:
            built = work / out_dir.name
            build_pipeline(products).to_disk(built)
            (built / STAMP_FILE).write_text(wanted + "\n")
            _replace_dir(built, out_dir)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    _LOGGER.info("nlp.saved path=%s products=%d", out_dir, len(products))
    return out_dir, True
