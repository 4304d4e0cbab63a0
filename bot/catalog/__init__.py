"""Product catalog search and structured product facts (no prose; wording lives in data files)."""

from bot.catalog.results import Match, Resolution
from bot.catalog.search import ProductIndex

__all__ = ["Match", "ProductIndex", "Resolution"]
