"""Parse guide files into :class:`DiagnosticTree` objects, keeping YAML line numbers.

Parsing uses :func:`yaml.compose` so every node, option and reference remembers the
line it came from (``node.start_mark``); problems are collected, never raised one by one.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.core.problems import Problem
from bot.diagnostics.model import DEVICE_CATEGORIES, STEP_KINDS, TERMINAL_KINDS, DiagnosticTree, Node, Option
from bot.diagnostics.validator import check_collection, check_tree

GUIDE_SUFFIXES = (".yml", ".yaml")
_TOP_KEYS = ("id", "title", "intent", "start", "applies_to", "intro", "nodes")
_NODE_KEYS = ("kind", "text", "options", "ask_device")
_OPTION_KEYS = ("title", "next", "synonyms", "mentions", "value")
_TRUE = ("true", "yes", "on")


class GuideError(ValueError):
    """One or more guide files are invalid; ``problems`` lists every defect found."""

    def __init__(self, problems: list[Problem]) -> None:
        """Keep the problems and build a message listing them all."""
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Parser:
    """Turns one composed YAML document into a tree, collecting problems on the way."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, line: int, code: str, message: str) -> None:
        self.problems.append(Problem(self.path, line, code, message))

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node] | None:
        """Return a mapping's entries by key; report non-mappings, unknown and duplicate keys."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(_line(node), "not_a_mapping", f"{what} must be a mapping")
            return None
        entries: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in entries:
                code = "duplicate_id" if what == "nodes" else "duplicate_key"
                self.problem(_line(key_node), code, f"duplicate {'node id' if what == 'nodes' else 'key'} '{key}'")
                continue
            if allowed and key not in allowed:
                self.problem(_line(key_node), "unknown_key", f"unknown key '{key}' in {what}")
                continue
            entries[key] = value_node
        return entries

    def text(self, entries: dict[str, yaml.Node], key: str) -> tuple[str, int | None]:
        """Return a scalar's stripped text and line (``("", None)`` when absent or not a scalar)."""
        node = entries.get(key)
        if node is None:
            return "", None
        if not isinstance(node, yaml.ScalarNode):
            self.problem(_line(node), "not_a_string", f"'{key}' must be a string")
            return "", _line(node)
        if node.tag == "tag:yaml.org,2002:null":
            return "", _line(node)
        return str(node.value).strip(), _line(node)

    def strings(self, node: yaml.Node | None, key: str) -> tuple[str, ...]:
        if node is None:
            return ()
        if not isinstance(node, yaml.SequenceNode) or not all(isinstance(i, yaml.ScalarNode) for i in node.value):
            self.problem(_line(node), "not_a_list", f"'{key}' must be a list of strings")
            return ()
        return tuple(str(item.value).strip() for item in node.value if str(item.value).strip())

    def option(self, node: yaml.Node, node_id: str) -> Option | None:
        entries = self.mapping(node, f"an option of node '{node_id}'", _OPTION_KEYS)
        if entries is None:
            return None
        title, _ = self.text(entries, "title")
        if not title:
            self.problem(_line(node), "missing_title", f"an option of node '{node_id}' has no title")
        target, next_line = self.text(entries, "next")
        if not target:
            self.problem(_line(node), "missing_next", f"option '{title}' of node '{node_id}' has no 'next'")
        value, _ = self.text(entries, "value")
        return Option(
            title=title,
            next=target,
            synonyms=self.strings(entries.get("synonyms"), "synonyms"),
            value=value or None,
            line=_line(node),
            next_line=next_line or _line(node),
            mentions=self.strings(entries.get("mentions"), "mentions"),
        )

    def node(self, node_id: str, key_line: int, value: yaml.Node) -> Node | None:
        entries = self.mapping(value, f"node '{node_id}'", _NODE_KEYS)
        if entries is None:
            return None
        kind, kind_line = self.text(entries, "kind")
        if kind not in STEP_KINDS + TERMINAL_KINDS:
            shown = f"'{kind}'" if kind else "missing"
            self.problem(kind_line or key_line, "unknown_kind", f"node '{node_id}': kind is {shown}")
        text, text_line = self.text(entries, "text")
        if not text:
            self.problem(text_line or key_line, "missing_text", f"node '{node_id}' has no text")
        options: list[Option] = []
        options_node = entries.get("options")
        if isinstance(options_node, yaml.SequenceNode):
            options = [o for o in (self.option(item, node_id) for item in options_node.value) if o is not None]
        elif options_node is not None:
            self.problem(_line(options_node), "not_a_list", f"node '{node_id}': 'options' must be a list")
        self.check_options(node_id, kind, key_line, options)
        ask_device, _ = self.text(entries, "ask_device")
        node = Node(node_id, kind, text, tuple(options), ask_device.lower() in _TRUE, key_line)
        if node.ask_device:
            for option in options:
                if (option.value or option.title.lower()) not in DEVICE_CATEGORIES:
                    self.problem(option.line, "unknown_category", f"option '{option.title}' is not a device category")
        return node

    def check_options(self, node_id: str, kind: str, line: int, options: list[Option]) -> None:
        if kind in STEP_KINDS and not options:
            self.problem(line, "no_options", f"{kind} node '{node_id}' has no options")
        if kind in TERMINAL_KINDS and options:
            self.problem(line, "terminal_with_options", f"{kind} node '{node_id}' must not have options")
        seen: set[str] = set()
        for option in options:
            if option.mentions and kind != "question":
                # An opening message can describe a situation, not report a step it has not been shown.
                message = f"node '{node_id}': only a question's options can have mentions"
                self.problem(option.line, "mentions_not_on_question", message)
            if option.title and option.title.lower() in seen:
                self.problem(option.line, "duplicate_option", f"node '{node_id}': duplicate option '{option.title}'")
            seen.add(option.title.lower())

    def tree(self, root: yaml.Node) -> DiagnosticTree | None:
        top = self.mapping(root, "a guide", _TOP_KEYS)
        if top is None:
            return None
        values: dict[str, tuple[str, int]] = {}
        for key in ("id", "title", "intent", "start"):
            value, value_line = self.text(top, key)
            values[key] = (value, value_line or _line(root))
            if not value:
                code = "missing_start" if key == "start" else "missing_field"
                self.problem(value_line or _line(root), code, f"guide has no '{key}'")
        intro, _ = self.text(top, "intro")
        applies_to = self.strings(top.get("applies_to"), "applies_to")
        for category in applies_to:
            if category not in DEVICE_CATEGORIES:
                self.problem(_line(top["applies_to"]), "unknown_category", f"unknown category '{category}'")
        nodes: dict[str, Node] = {}
        nodes_node = top.get("nodes")
        entries = self.mapping(nodes_node, "nodes", ()) if nodes_node is not None else None
        if nodes_node is None:
            self.problem(_line(root), "missing_field", "guide has no 'nodes'")
        key_lines: dict[str, int] = {}
        if entries and nodes_node is not None:
            key_lines = {str(key.value): _line(key) for key, _ in reversed(nodes_node.value)}
        for node_id, body in (entries or {}).items():
            parsed = self.node(node_id, key_lines[node_id], body)
            if parsed is not None:
                nodes[node_id] = parsed
        return DiagnosticTree(
            id=values["id"][0],
            title=values["title"][0],
            intent=values["intent"][0],
            start=values["start"][0],
            nodes=nodes,
            applies_to=applies_to,
            intro=intro,
            path=self.path,
            line=_line(root),
            id_line=values["id"][1],
            intent_line=values["intent"][1],
            start_line=values["start"][1],
        )


def parse_guide(path: Path) -> tuple[DiagnosticTree | None, list[Problem]]:
    """Parse one guide file and run the per-guide checks.

    Returns:
        The tree (``None`` if the file is unreadable or not a mapping) and every problem found.
    """
    parser = _Parser(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except OSError as exc:
        return None, [Problem(path, 1, "unreadable", f"cannot read: {exc.strerror}")]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        return None, [Problem(path, line, "invalid_yaml", f"invalid YAML: {exc.problem}")]
    if root is None:
        return None, [Problem(path, 1, "empty_file", "file is empty")]
    tree = parser.tree(root)
    problems = parser.problems
    if tree is not None:
        problems += check_tree(tree)
    return tree, sorted(problems, key=lambda p: (p.line, p.code))


def _guide_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in GUIDE_SUFFIXES)


def validate_guides(folder: Path) -> list[Problem]:
    """Check every guide file in ``folder``; return all problems (empty when all is well).

    Usable by ``python -m bot validate``.
    """
    if not folder.is_dir():
        return [Problem(folder, 1, "missing_folder", "guide folder does not exist")]
    problems: list[Problem] = []
    trees: list[DiagnosticTree] = []
    for path in _guide_files(folder):
        tree, found = parse_guide(path)
        problems += found
        if tree is not None:
            trees.append(tree)
    return problems + check_collection(trees)


def load_guide(path: Path) -> DiagnosticTree:
    """Load one guide.

    Raises:
        GuideError: the file has any problem.
    """
    tree, problems = parse_guide(path)
    if problems or tree is None:
        raise GuideError(problems)
    return tree


def load_guides(folder: Path) -> dict[str, DiagnosticTree]:
    """Load every guide of ``folder``, keyed by guide id.

    Raises:
        GuideError: any guide has a problem (all problems of all files are listed).
    """
    problems = validate_guides(folder)
    if problems:
        raise GuideError(problems)
    return {tree.id: tree for tree in (load_guide(path) for path in _guide_files(folder))}
