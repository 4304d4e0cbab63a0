"""Graph checks on parsed guides: references, start, reachability and loops without exit.

Structural checks (kinds, texts, titles, duplicate ids) happen while parsing, in
:mod:`bot.diagnostics.loader`; everything here works on :class:`DiagnosticTree` objects.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.core.problems import Problem
from bot.diagnostics.model import RESERVED_TARGETS, DiagnosticTree


def _edges(tree: DiagnosticTree) -> dict[str, list[str]]:
    """Node id to the ids it leads to, ignoring unknown targets."""
    known = set(tree.nodes) | set(RESERVED_TARGETS)
    return {
        node_id: [o.next for o in node.options if o.next in known and not node.is_terminal]
        for node_id, node in tree.nodes.items()
    }


def _reachable(starts: Iterable[str], edges: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(edges.get(current, ()))
    return seen


def _check_references(tree: DiagnosticTree) -> list[Problem]:
    problems: list[Problem] = []
    if tree.start and tree.start not in tree.nodes:
        problems.append(
            Problem(tree.path, tree.start_line, "missing_start", f"start node '{tree.start}' is not defined")
        )
    for node in tree.nodes.values():
        for option in node.options:
            if option.next and option.next not in tree.nodes and option.next not in RESERVED_TARGETS:
                message = f"node '{node.id}', option '{option.title}': unknown node '{option.next}'"
                problems.append(Problem(tree.path, option.next_line, "unknown_reference", message))
    return problems


def _check_graph(tree: DiagnosticTree) -> list[Problem]:
    if tree.start not in tree.nodes:
        return []
    edges = _edges(tree)
    reachable = _reachable([tree.start], edges)
    problems = [
        Problem(tree.path, node.line, "unreachable", f"node '{node.id}' cannot be reached from '{tree.start}'")
        for node in tree.nodes.values()
        if node.id not in reachable
    ]
    reverse: dict[str, list[str]] = {}
    for source, targets in edges.items():
        for target in targets:
            reverse.setdefault(target, []).append(source)
    exits = [node_id for node_id in tree.nodes if tree.nodes[node_id].is_terminal] + list(RESERVED_TARGETS)
    can_finish = _reachable(exits, reverse)
    stuck = [node for node in tree.nodes.values() if node.id in reachable and node.id not in can_finish]
    loops = [node for node in stuck if node.options and any(o.next in reachable for o in node.options)]
    if loops:
        first = min(loops, key=lambda node: node.line)
        names = ", ".join(node.id for node in loops)
        message = f"loop with no exit: neither resolved nor handoff can be reached from {names}"
        problems.append(Problem(tree.path, first.line, "loop_without_exit", message))
    return problems


def check_tree(tree: DiagnosticTree) -> list[Problem]:
    """Return the graph problems of one parsed guide.

    Reports unknown node references, an undefined start node, nodes unreachable from the
    start, and loops from which neither ``resolved`` nor ``handoff`` can be reached.
    """
    return _check_references(tree) + _check_graph(tree)


def check_collection(trees: Iterable[DiagnosticTree]) -> list[Problem]:
    """Return problems across guides: duplicate guide ids and intents started by two guides."""
    problems: list[Problem] = []
    ids: dict[str, DiagnosticTree] = {}
    intents: dict[str, DiagnosticTree] = {}
    for tree in trees:
        if tree.id and tree.id in ids:
            message = f"guide id '{tree.id}' is already used by {ids[tree.id].path.name}"
            problems.append(Problem(tree.path, tree.id_line, "duplicate_id", message))
        ids.setdefault(tree.id, tree)
        if tree.intent and tree.intent in intents:
            message = f"intent '{tree.intent}' already starts {intents[tree.intent].path.name}"
            problems.append(Problem(tree.path, tree.intent_line, "duplicate_intent", message))
        intents.setdefault(tree.intent, tree)
    return problems
