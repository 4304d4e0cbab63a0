"""The help center: articles in ``data/help/`` (docs/help-center.md) and search over their sections."""

from __future__ import annotations

from bot.help.articles import (
    Article,
    HelpCenterError,
    Problem,
    Section,
    load_help_center,
    slugify,
    validate_help_center,
)
from bot.help.search import Encoder, HelpIndex, Hit, SearchResult, SearchSettings

__all__ = [
    "Article",
    "Encoder",
    "HelpCenterError",
    "HelpIndex",
    "Hit",
    "Problem",
    "SearchResult",
    "SearchSettings",
    "Section",
    "load_help_center",
    "slugify",
    "validate_help_center",
]
