"""Help-center articles: the real folder is valid; every defect is reported with its file and line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.db.seed import load_demo_data
from bot.help import HelpCenterError, load_help_center, slugify, validate_help_center
from bot.settings import PROJECT_ROOT

HELP_DIR = PROJECT_ROOT / "data" / "help"
SKUS = {"NR-AX1800-EU", "NR-AX3000-EU"}

# A valid article; line numbers on the right are used by the cases below.
VALID = """\
---
id: returns
title: Returns
tags: [send back, money back]
products: [NR-AX1800-EU]
updated: 2026-11-15
---
What this covers.

## How long do I have?

Thirty days from delivery. See [who pays](help:returns#who-pays-for-shipping).

## Who pays for shipping?

We do, for [the router](product:NR-AX1800-EU).
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(folder: Path) -> list[tuple[str, int, str]]:
    _, problems = validate_help_center(folder, SKUS)
    return [(p.file.name, p.line, p.code) for p in problems]


def test_the_demo_help_center_is_valid_and_large_enough() -> None:
    skus = {p.sku for p in load_demo_data(PROJECT_ROOT / "data").products}
    articles = load_help_center(HELP_DIR, skus)
    assert len(articles) >= 40
    assert len({a.id for a in articles}) == len(articles)
    for article in articles:
        assert 1 <= len(article.sections), article.id
        assert all(s.text for s in article.sections)


def test_a_valid_article_is_parsed_into_sections_with_ids(tmp_path: Path) -> None:
    write(tmp_path, "returns.md", VALID)
    [article] = load_help_center(tmp_path, SKUS)
    assert article.title == "Returns"
    assert article.tags == ("send back", "money back")
    assert article.updated == dt.date(2026, 11, 15)
    assert article.intro == "What this covers."
    assert [s.id for s in article.sections] == ["returns#how-long-do-i-have", "returns#who-pays-for-shipping"]
    assert [s.line for s in article.sections] == [10, 14]
    assert article.sections[1].text == "We do, for [the router](product:NR-AX1800-EU)."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (VALID.replace("---\nid", "id", 1), ("returns.md", 1, "no_front_matter")),
        (VALID.replace("updated: 2026-11-15\n---", "updated: 2026-11-15"), ("returns.md", 1, "unclosed_front_matter")),
        (VALID.replace("tags: [send back, money back]", "tags: [send back"), ("returns.md", 5, "bad_yaml")),
        (VALID.replace("title: Returns\n", ""), ("returns.md", 1, "missing_field")),
        (VALID.replace("id: returns", "id: other"), ("returns.md", 2, "id_not_file_name")),
        (VALID.replace("id: returns", "id: Returns_Policy"), ("returns.md", 2, "bad_id")),
        (VALID.replace("updated: 2026-11-15", "updated: last week"), ("returns.md", 6, "bad_date")),
        (VALID.replace("tags: [send back, money back]", "tags: returns"), ("returns.md", 4, "bad_tags")),
        (VALID.replace("products: [NR-AX1800-EU]", "products: [NO-SUCH]"), ("returns.md", 1, "unknown_product")),
        (VALID.replace("updated: 2026-11-15", "updated: 2026-11-15\nauthor: me"), ("returns.md", 7, "unknown_field")),
        (VALID.replace("product:NR-AX1800-EU", "product:NR-NOPE"), ("returns.md", 16, "unknown_product")),
        (VALID.replace("help:returns#who-pays", "help:nowhere#who-pays"), ("returns.md", 12, "unknown_article")),
        (
            VALID.replace("help:returns#who-pays-for-shipping", "help:returns#nope"),
            ("returns.md", 12, "unknown_section"),
        ),
        (VALID.replace("## Who pays for shipping?", "## How long do I have?"), ("returns.md", 14, "duplicate_section")),
        (
            VALID.replace("Thirty days from delivery. See [who pays](help:returns#who-pays-for-shipping).", ""),
            ("returns.md", 10, "empty_section"),
        ),
        (VALID.split("## How long")[0], ("returns.md", 8, "no_sections")),
    ],
)
def test_each_defect_is_reported_with_its_line(tmp_path: Path, text: str, expected: tuple[str, int, str]) -> None:
    write(tmp_path, "returns.md", text)
    assert expected in problems_of(tmp_path)
    with pytest.raises(HelpCenterError) as raised:
        load_help_center(tmp_path, SKUS)
    assert f"returns.md:{expected[1]}:" in str(raised.value)


def test_a_duplicate_id_in_a_sub_folder_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "returns.md", VALID)
    (tmp_path / "old").mkdir()
    write(tmp_path / "old", "returns.md", VALID)
    assert ("returns.md", 2, "duplicate_id") in problems_of(tmp_path)


def test_unreadable_files_and_a_missing_folder_are_reported(tmp_path: Path) -> None:
    (tmp_path / "broken.md").write_bytes(b"---\n\xff\xfe\n")
    assert ("broken.md", 1, "unreadable") in problems_of(tmp_path)
    assert problems_of(tmp_path / "missing") == [("missing", 1, "missing_folder")]


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    write(tmp_path, "returns.md", VALID.replace("updated: 2026-11-15", "updated: soon").replace("id: returns", "id: x"))
    codes = {code for _, _, code in problems_of(tmp_path)}
    assert {"bad_date", "id_not_file_name"} <= codes


def test_slugs_are_lower_case_with_single_hyphens() -> None:
    assert slugify("Who pays for return shipping?") == "who-pays-for-return-shipping"
    assert slugify("  Klarna / PayPal — refunds!  ") == "klarna-paypal-refunds"


def test_also_asked_phrasings_are_read_for_search_and_kept_out_of_the_answer(tmp_path: Path) -> None:
    text = VALID.replace(
        "## How long do I have?\n", "## How long do I have?\n<!-- also asked: return window | is 3 weeks too late -->\n"
    )
    write(tmp_path, "returns.md", text)
    [article] = load_help_center(tmp_path, SKUS)
    section = article.sections[0]
    assert section.also_asked == ("return window", "is 3 weeks too late")
    assert "also asked" not in section.text and section.text.startswith("Thirty days")


@pytest.mark.parametrize(
    "line", ["<!-- also asked: return window | | too late -->", "<!-- also asked: return window | too late"]
)
def test_a_broken_also_asked_line_is_reported(tmp_path: Path, line: str) -> None:
    write(tmp_path, "returns.md", VALID.replace("## How long do I have?\n", f"## How long do I have?\n{line}\n"))
    assert ("returns.md", 11, "bad_also_asked") in problems_of(tmp_path)
