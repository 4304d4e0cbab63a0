"""Check that every guide can actually start: its intent is in the domain and a rule starts it.

A guide whose intent the dialogue model does not know would validate on its own and never
run; this catches that in ``python -m bot validate`` (which reads the Rasa files as plain YAML).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from bot.core.problems import Problem
from bot.diagnostics.model import DiagnosticTree

START_ACTION = "action_diagnostic_start"


def _load(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}  # `rasa data validate` reports unreadable Rasa files itself


def _started_intents(rules: Any) -> set[str]:
    started: set[str] = set()
    for rule in rules.get("rules") or [] if isinstance(rules, dict) else []:
        steps = rule.get("steps") or [] if isinstance(rule, dict) else []
        for first, second in itertools.pairwise(steps):
            if isinstance(first, dict) and isinstance(second, dict) and second.get("action") == START_ACTION:
                if first.get("intent"):
                    started.add(str(first["intent"]))
    return started


def check_wiring(guides: Iterable[DiagnosticTree], domain_file: Path, rules_file: Path) -> list[Problem]:
    """Return a problem for each guide whose intent is not in the domain or not started by a rule."""
    domain = _load(domain_file)
    intents = {
        str(next(iter(item))) if isinstance(item, dict) else str(item)
        for item in (domain.get("intents") or [] if isinstance(domain, dict) else [])
    }
    started = _started_intents(_load(rules_file))
    problems: list[Problem] = []
    for tree in guides:
        if tree.intent not in intents:
            message = f"intent '{tree.intent}' of guide '{tree.id}' is not in {domain_file.name}"
            problems.append(Problem(tree.path, tree.intent_line, "intent_not_in_domain", message))
        elif tree.intent not in started:
            message = f"no rule in {rules_file.name} starts guide '{tree.id}' ({tree.intent} -> {START_ACTION})"
            problems.append(Problem(tree.path, tree.intent_line, "guide_never_starts", message))
    return problems
