"""Natural-language pipelines built from the business data (no Rasa imports; Rasa loads them by path)."""

from __future__ import annotations

from bot.nlp.catalog_spacy import (
    BUILDER_VERSION,
    DEFAULT_DIR,
    PRODUCT_LABEL,
    STAMP_FILE,
    build_pipeline,
    catalog_fingerprint,
    ensure_pipeline,
)

__all__ = [
    "BUILDER_VERSION",
    "DEFAULT_DIR",
    "PRODUCT_LABEL",
    "STAMP_FILE",
    "build_pipeline",
    "catalog_fingerprint",
    "ensure_pipeline",
]
