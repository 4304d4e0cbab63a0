"""Troubleshooting guides: YAML decision trees, their validator and a pure dialogue engine."""

from __future__ import annotations

from bot.core.problems import Problem
from bot.diagnostics.engine import DiagnosticSession, SessionError, Step, StepOutcome
from bot.diagnostics.loader import GuideError, load_guide, load_guides, validate_guides
from bot.diagnostics.model import DiagnosticTree, Node, Option

__all__ = [
    "DiagnosticSession",
    "DiagnosticTree",
    "GuideError",
    "Node",
    "Option",
    "Problem",
    "SessionError",
    "Step",
    "StepOutcome",
    "load_guide",
    "load_guides",
    "validate_guides",
]
