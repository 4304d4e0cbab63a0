"""Reading the data files: YAML and CSV records, each with its line number.

YAML is read with a safe loader that keeps dates as strings (they are parsed strictly by
:class:`bot.db.data_fields.Fields`), rejects duplicate keys and remembers the line of
every mapping and key. Every problem becomes a :class:`~bot.db.demo_types.DataFileError`
naming the file and line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from bot.db.demo_types import DataFileError

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class LinedDict(dict[Any, Any]):
    """A YAML mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class _Loader(yaml.SafeLoader):
    """Safe loader without implicit timestamps, with duplicate-key checks and lines."""

    yaml_implicit_resolvers = {  # noqa: RUF012 - replaces the inherited table, never mutated
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_lined_mapping(self, node: yaml.MappingNode) -> LinedDict:
        """Build a :class:`LinedDict`, refusing duplicate and non-scalar keys."""
        self.flatten_mapping(node)
        result = LinedDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, bool, float)) or key is None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"unsupported mapping key {key!r}", key_node.start_mark
                )
            if key in result:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[str(key)] = key_node.start_mark.line + 1
        return result


_Loader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _Loader.construct_lined_mapping,
)


def display_path(data_dir: Path, path: Path) -> str:
    """Return how ``path`` is named in error messages: ``<data folder name>/<relative path>``.

    Args:
        data_dir: The data folder.
        path: A file inside it.

    Returns:
        For example ``data/catalog/products.yml``.
    """
    try:
        return (Path(data_dir.name) / path.relative_to(data_dir)).as_posix()
    except ValueError:
        return path.as_posix()


def _read_text(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError(shown, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(shown, None, f"cannot read file: {exc}") from None


def read_yaml_mapping(path: Path, shown: str) -> LinedDict:
    """Read a YAML file whose top level is a mapping (lines kept, duplicate keys refused).

    Raises:
        DataFileError: On a syntax error, a duplicate key or another top level.
    """
    text = _read_text(path, shown)
    try:
        document = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise DataFileError(
            shown, mark.line + 1 if mark is not None else None, f"invalid YAML: {exc.problem}"
        ) from None
    except yaml.YAMLError as exc:
        raise DataFileError(shown, None, f"invalid YAML: {exc}") from None
    if not isinstance(document, LinedDict):
        raise DataFileError(shown, 1, "expected a top-level mapping")
    return document


def read_yaml_list(path: Path, shown: str, key: str) -> list[LinedDict]:
    """Read a YAML file whose top level is ``{key: [mapping, ...]}``.

    Args:
        path: The file to read.
        shown: The file's name in error messages.
        key: The top-level key holding the list.

    Returns:
        The list's mappings, each carrying its line numbers.

    Raises:
        DataFileError: On a syntax error, a duplicate key or an unexpected structure.
    """
    text = _read_text(path, shown)
    try:
        document = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        raise DataFileError(shown, line, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise DataFileError(shown, None, f"invalid YAML: {exc}") from None
    if not isinstance(document, LinedDict) or key not in document:
        raise DataFileError(shown, 1, f"expected a top-level mapping with the key {key!r}")
    items = document[key]
    if not isinstance(items, list):
        raise DataFileError(shown, document.key_lines[key], f"{key!r} must be a list")
    for item in items:
        if not isinstance(item, LinedDict):
            raise DataFileError(shown, document.key_lines[key], f"every entry of {key!r} must be a mapping")
    return items


def read_csv_rows(path: Path, shown: str, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, row)`` for each data row of a CSV file with exactly ``columns``.

    Args:
        path: The file to read.
        shown: The file's name in error messages.
        columns: The expected header, in order.

    Yields:
        The 1-based line of the row and the row, values stripped of surrounding spaces.

    Raises:
        DataFileError: On a wrong header or a row with the wrong number of fields.
    """
    text = _read_text(path, shown)
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or [name.strip() for name in header] != list(columns):
        raise DataFileError(shown, 1, f"header must be {','.join(columns)}")
    for fields in reader:
        line = reader.line_num
        if not fields or all(not value.strip() for value in fields):
            continue
        if len(fields) != len(columns):
            raise DataFileError(shown, line, f"expected {len(columns)} fields, found {len(fields)}")
        yield line, {name: value.strip() for name, value in zip(columns, fields, strict=True)}
