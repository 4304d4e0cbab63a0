"""Handoff triggers as data: ``data/handoff.yml`` (see the comments in that file)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.yamlfile import read_yaml

DEFAULT_PATH = Path("data") / "handoff.yml"


class HandoffConfigError(ValueError):
    """``handoff.yml`` is missing, malformed or has an invalid value."""


@dataclass(frozen=True)
class FrustrationRules:
    """How frustration is read from a message (bot/handoff/frustration.py)."""

    phrases: tuple[str, ...] = ()
    shouting_min_words: int = 3
    shouting_upper_ratio: float = 0.7
    rephrase_repeats: int = 3
    rephrase_overlap: float = 0.6


@dataclass(frozen=True)
class HandoffConfig:
    """When the bot hands a conversation to a person without being asked."""

    low_confidence_handoff_after: int = 2
    frustration: FrustrationRules = FrustrationRules()
    clarify_titles: Mapping[str, str] = field(default_factory=dict)


def _int(data: Mapping[str, Any], key: str, default: int, minimum: int, where: str) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise HandoffConfigError(f"{where}: {key} must be an integer >= {minimum}, not {value!r}")
    return value


def _ratio(data: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise HandoffConfigError(f"{where}: {key} must be a number in (0, 1], not {value!r}")
    return float(value)


def parse_handoff_config(document: Any, where: str = "handoff.yml") -> HandoffConfig:
    """Validate a parsed ``handoff.yml``.

    Raises:
        HandoffConfigError: with ``where`` and the offending key.
    """
    if not isinstance(document, dict):
        raise HandoffConfigError(f"{where}: expected a mapping at the top level")
    after = _int(document, "low_confidence_handoff_after", 2, 1, where)
    section = document.get("frustration") or {}
    if not isinstance(section, dict):
        raise HandoffConfigError(f"{where}: frustration must be a mapping")
    phrases = section.get("phrases") or []
    if not isinstance(phrases, list) or not all(isinstance(p, str) and p.strip() for p in phrases):
        raise HandoffConfigError(f"{where}: frustration.phrases must be a list of non-empty strings")
    rules = FrustrationRules(
        phrases=tuple(p.strip().lower() for p in phrases),
        shouting_min_words=_int(section, "shouting_min_words", 3, 1, where),
        shouting_upper_ratio=_ratio(section, "shouting_upper_ratio", 0.7, where),
        rephrase_repeats=_int(section, "rephrase_repeats", 3, 2, where),
        rephrase_overlap=_ratio(section, "rephrase_overlap", 0.6, where),
    )
    titles = document.get("clarify_titles") or {}
    if not isinstance(titles, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in titles.items()
    ):
        raise HandoffConfigError(f"{where}: clarify_titles must map intent names to button titles")
    if "request_human" not in titles:
        raise HandoffConfigError(f"{where}: clarify_titles needs a title for request_human (the person button)")
    return HandoffConfig(low_confidence_handoff_after=after, frustration=rules, clarify_titles=dict(titles))


def load_handoff_config(path: Path = DEFAULT_PATH) -> HandoffConfig:
    """Read and validate ``handoff.yml``.

    Raises:
        HandoffConfigError: the file cannot be read, is not YAML, or a value is invalid.
    """
    return parse_handoff_config(read_yaml(path, HandoffConfigError), str(path))
