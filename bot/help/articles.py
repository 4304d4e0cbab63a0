"""Help-center articles: Markdown files with front matter in ``data/help/`` (docs/help-center.md).

:func:`parse_article` reads one file and reports every defect with its line;
:func:`validate_help_center` checks a whole folder (ids, links, product SKUs);
:func:`load_help_center` returns the articles or raises :class:`HelpCenterError`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.core.problems import Problem

ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
#: ``[text](help:<id>)``, ``[text](help:<id>#<section>)`` and ``[text](product:<SKU>)``.
LINK_PATTERN = re.compile(r"\[([^\]]*)\]\((help|product):([^)\s]*)\)")
#: ``<!-- also asked: how many days to send it back | return window -->``: how customers ask for a section.
ALSO_ASKED = re.compile(r"^\s*<!--\s*also asked:(.*)-->\s*$")
FIELDS = ("id", "title", "tags", "products", "updated")


class HelpCenterError(ValueError):
    """The help center has defects; ``problems`` lists each with its file and line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Link:
    """A ``help:`` or ``product:`` link written in an article."""

    kind: str  # "help" or "product"
    target: str
    line: int


@dataclass(frozen=True)
class Section:
    """One ``## `` section: the passage the bot answers with."""

    id: str  # "<article id>#<slug>"
    article_id: str
    heading: str
    text: str
    line: int
    also_asked: tuple[str, ...] = ()  # other ways customers ask for this section (search only, never shown)


@dataclass(frozen=True)
class Article:
    """One help-center article."""

    id: str
    title: str
    tags: tuple[str, ...]
    products: tuple[str, ...]
    updated: dt.date
    intro: str
    sections: tuple[Section, ...]
    path: Path
    links: tuple[Link, ...] = ()


def slugify(heading: str) -> str:
    """The section id part of a heading: lower case, other runs of characters -> ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


def _front_matter(lines: list[str], path: Path) -> tuple[dict[str, Any], dict[str, int], int, list[Problem]]:
    """``(fields, line of each field, index of the first body line, problems)``."""
    if not lines or lines[0].strip() != "---":
        return {}, {}, 0, [Problem(path, 1, "no_front_matter", "the file must start with a '---' front matter block")]
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        return {}, {}, 0, [Problem(path, 1, "unclosed_front_matter", "the front matter has no closing '---' line")]
    try:
        data = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        return {}, {}, end + 1, [Problem(path, line, "bad_yaml", f"the front matter is not valid YAML: {error}")]
    if not isinstance(data, dict):
        return {}, {}, end + 1, [Problem(path, 2, "bad_front_matter", "the front matter must be a mapping of fields")]
    where: dict[str, int] = {}
    for i in range(1, end):
        match = re.match(r"^([A-Za-z_][\w-]*)\s*:", lines[i])
        if match:
            where.setdefault(match.group(1), i + 1)
    return data, where, end + 1, []


def _check_fields(data: dict[str, Any], where: dict[str, int], path: Path) -> list[Problem]:
    problems = []

    def bad(field: str, code: str, message: str) -> None:
        problems.append(Problem(path, where.get(field, 1), code, message))

    for field in FIELDS:
        if field not in data:
            bad(field, "missing_field", f"the front matter has no '{field}'")
    for field in sorted(set(data) - set(FIELDS)):
        bad(field, "unknown_field", f"unknown front matter field '{field}' (known: {', '.join(FIELDS)})")
    article_id = data.get("id")
    if "id" in data and (not isinstance(article_id, str) or not ID_PATTERN.match(article_id)):
        bad("id", "bad_id", "'id' must be lower-case letters, digits and single hyphens")
    elif isinstance(article_id, str) and article_id != path.stem:
        bad("id", "id_not_file_name", f"'id' is {article_id!r} but the file is {path.name!r}")
    if "title" in data and (not isinstance(data["title"], str) or not data["title"].strip()):
        bad("title", "bad_title", "'title' must be a non-empty text")
    for field in ("tags", "products"):
        value = data.get(field)
        if field in data and (not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value)):
            bad(field, f"bad_{field}", f"'{field}' must be a list of texts ([] for none)")
    if "updated" in data and _date(data["updated"]) is None:
        bad("updated", "bad_date", "'updated' must be a date written YYYY-MM-DD")
    return problems


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _sections(
    article_id: str, body: list[str], first_line: int, path: Path
) -> tuple[str, list[Section], list[Problem]]:
    """Split the body at ``## `` headings (``###`` and deeper stay inside a section)."""
    problems: list[Problem] = []
    intro: list[str] = []
    parts: list[tuple[str, int, list[str]]] = []
    for offset, raw in enumerate(body):
        if raw.startswith("## "):
            parts.append((raw[3:].strip(), first_line + offset, []))
        elif parts:
            parts[-1][2].append(raw)
        else:
            intro.append(raw)
    sections: list[Section] = []
    seen: dict[str, int] = {}
    for heading, line, text_lines in parts:
        slug = slugify(heading)
        also_asked: list[str] = []
        kept: list[str] = []
        for offset, raw in enumerate(text_lines, start=1):
            match = ALSO_ASKED.match(raw)
            if match:
                phrasings = [p.strip() for p in match.group(1).split("|")]
                if not all(phrasings):
                    problems.append(Problem(path, line + offset, "bad_also_asked", "an 'also asked' phrasing is empty"))
                also_asked += [p for p in phrasings if p]
            elif raw.lstrip().startswith("<!--") and "also asked" in raw and "-->" not in raw:
                problems.append(
                    Problem(
                        path, line + offset, "bad_also_asked", "an 'also asked' comment must end on its line with -->"
                    )
                )
            else:
                kept.append(raw)
        text = "\n".join(kept).strip()
        if not slug:
            problems.append(Problem(path, line, "empty_heading", "a section heading has no letters or digits"))
            continue
        if slug in seen:
            problems.append(
                Problem(
                    path, line, "duplicate_section", f"section '{heading}' repeats the heading of line {seen[slug]}"
                )
            )
            continue
        seen[slug] = line
        if not text:
            problems.append(Problem(path, line, "empty_section", f"section '{heading}' has no text"))
            continue
        sections.append(Section(f"{article_id}#{slug}", article_id, heading, text, line, tuple(also_asked)))
    if not parts:
        problems.append(Problem(path, first_line, "no_sections", "the article has no '## ' section"))
    return "\n".join(intro).strip(), sections, problems


def _links(body: list[str], first_line: int) -> Iterator[Link]:
    for offset, line in enumerate(body):
        for match in LINK_PATTERN.finditer(line):
            yield Link(match.group(2), match.group(3), first_line + offset)


def parse_article(path: Path) -> tuple[Article | None, list[Problem]]:
    """One article file: ``(article or None, its own problems)``; links are checked by the folder."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        return None, [Problem(path, 1, "unreadable", f"cannot read the file as UTF-8: {error}")]
    data, where, body_start, problems = _front_matter(lines, path)
    if problems:
        return None, problems
    problems = _check_fields(data, where, path)
    article_id = str(data.get("id") or path.stem)
    body = lines[body_start:]
    intro, sections, section_problems = _sections(article_id, body, body_start + 1, path)
    problems += section_problems
    if problems:
        return None, problems
    updated = _date(data["updated"])
    assert updated is not None  # checked by _check_fields
    article = Article(
        id=article_id,
        title=data["title"].strip(),
        tags=tuple(t.strip() for t in data["tags"]),
        products=tuple(p.strip() for p in data["products"]),
        updated=updated,
        intro=intro,
        sections=tuple(sections),
        path=path,
        links=tuple(_links(body, body_start + 1)),
    )
    return article, []


def article_files(folder: Path) -> list[Path]:
    """Every ``*.md`` below ``folder`` (sub-folders too), in a stable order; README files excluded."""
    return sorted(p for p in folder.rglob("*.md") if p.name.lower() != "readme.md")


def validate_help_center(folder: Path, known_skus: Iterable[str] | None = None) -> tuple[list[Article], list[Problem]]:
    """Parse every article of ``folder`` and check what spans files.

    Returns the articles that parsed and every problem: duplicate ids, ``help:`` links to
    unknown articles or sections, ``product:`` links and ``products`` entries that name no
    catalog SKU (when ``known_skus`` is given).
    """
    if not folder.is_dir():
        return [], [Problem(folder, 1, "missing_folder", "the help-center folder does not exist")]
    articles: list[Article] = []
    problems: list[Problem] = []
    first_file: dict[str, Path] = {}
    for path in article_files(folder):
        article, found = parse_article(path)
        problems += found
        if article is None:
            continue
        if article.id in first_file:
            problems.append(
                Problem(path, 2, "duplicate_id", f"article id {article.id!r} is also used by {first_file[article.id]}")
            )
            continue
        first_file[article.id] = path
        articles.append(article)
    if not articles and not problems:
        problems.append(Problem(folder, 1, "empty", "the help center has no articles"))
    problems += _check_references(articles, None if known_skus is None else set(known_skus))
    return articles, problems


def _check_references(articles: list[Article], skus: set[str] | None) -> list[Problem]:
    by_id = {a.id: a for a in articles}
    problems = []
    for article in articles:
        if skus is not None:
            for sku in article.products:
                if sku not in skus:
                    problems.append(
                        Problem(article.path, 1, "unknown_product", f"'products' names unknown SKU {sku!r}")
                    )
        for link in article.links:
            if link.kind == "product":
                if skus is not None and link.target not in skus:
                    problems.append(
                        Problem(article.path, link.line, "unknown_product", f"link to unknown product {link.target!r}")
                    )
                continue
            target_id, _, slug = link.target.partition("#")
            target = by_id.get(target_id)
            if target is None:
                problems.append(
                    Problem(article.path, link.line, "unknown_article", f"link to unknown article {target_id!r}")
                )
            elif slug and f"{target_id}#{slug}" not in {s.id for s in target.sections}:
                problems.append(
                    Problem(article.path, link.line, "unknown_section", f"link to unknown section {link.target!r}")
                )
    return problems


def load_help_center(folder: Path, known_skus: Iterable[str] | None = None) -> list[Article]:
    """Every article of ``folder``.

    Raises:
        HelpCenterError: any file has a defect (all of them are listed).
    """
    articles, problems = validate_help_center(folder, known_skus)
    if problems:
        raise HelpCenterError(problems)
    return articles
