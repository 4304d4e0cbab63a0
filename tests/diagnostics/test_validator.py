"""The guide validator reports every problem with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.diagnostics import GuideError, Problem, load_guide, load_guides, validate_guides
from bot.settings import PROJECT_ROOT

GUIDES_DIR = PROJECT_ROOT / "data" / "diagnostics"

# A valid guide; line numbers are given on the right for the cases below.
VALID = """\
id: mini
title: Mini guide
intent: problem_mini
start: first
nodes:
  first:
    kind: instruction
    text: Unplug it for 30 seconds.
    options:
      - title: That fixed it
        next: resolved
      - title: Done, still broken
        next: second
  second:
    kind: question
    text: Is the LED orange?
    options:
      - title: "Yes"
        next: done
      - title: "No"
        next: handoff
  done:
    kind: resolved
    text: Great.
"""
#   1 id / 4 start / 6 first / 11 next: resolved / 13 next: second / 14 second / 15 kind
#   16 text / 18 title Yes / 19 next: done / 20 title No / 22 done


def _problems(tmp_path: Path, text: str, name: str = "broken.yml") -> list[Problem]:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return validate_guides(tmp_path)


def _found(problems: list[Problem]) -> set[tuple[str, str, int]]:
    return {(problem.file.name, problem.code, problem.line) for problem in problems}


def test_real_guides_validate_clean() -> None:
    assert validate_guides(GUIDES_DIR) == []
    assert len(load_guides(GUIDES_DIR)) == 6


def test_valid_mini_guide(tmp_path: Path) -> None:
    assert _problems(tmp_path, VALID) == []
    tree = load_guide(tmp_path / "broken.yml")
    assert tree.start == "first"
    assert tree.nodes["second"].line == 14
    assert tree.nodes["second"].options[0].next_line == 19


@pytest.mark.parametrize(
    ("old", "new", "code", "line"),
    [
        ("next: done", "next: gone", "unknown_reference", 19),
        ("    kind: question\n", "    kind: quiz\n", "unknown_kind", 15),
        ("    text: Is the LED orange?\n", '    text: ""\n', "missing_text", 16),
        ("    text: Is the LED orange?\n", "", "missing_text", 14),
        ("    text: Is the LED orange?\n", "    text: null\n", "missing_text", 16),
        ('      - title: "No"\n', "      - synonyms: [nope]\n", "missing_title", 20),
        ("start: first\n", "", "missing_start", 1),
        ("start: first\n", "start: nowhere\n", "missing_start", 4),
        ("start: first\n", "start: second\n", "unreachable", 6),
        ("nodes:\n", "nodes:\n  second:\n    kind: resolved\n    text: Twice.\n", "duplicate_id", 14 + 3),
        ("        next: handoff\n", "        next: handoff\n    colour: red\n", "unknown_key", 22),
    ],
    ids=[
        "unknown_reference",
        "unknown_kind",
        "empty_text",
        "missing_text",
        "null_text",
        "missing_title",
        "missing_start",
        "undefined_start",
        "unreachable",
        "duplicate_id",
        "unknown_key",
    ],
)
def test_each_error_kind_is_reported_with_file_and_line(
    tmp_path: Path, old: str, new: str, code: str, line: int
) -> None:
    assert old in VALID
    problems = _problems(tmp_path, VALID.replace(old, new, 1))
    assert ("broken.yml", code, line) in _found(problems), [str(p) for p in problems]
    assert any(str(problem).startswith(f"{tmp_path / 'broken.yml'}:{line}: ") for problem in problems)


def test_loop_without_exit(tmp_path: Path) -> None:
    text = VALID.replace("next: resolved", "next: second").replace("next: done", "next: first")
    text = text.replace("next: handoff", "next: first")
    problems = _problems(tmp_path, text)
    assert ("broken.yml", "loop_without_exit", 6) in _found(problems)
    loop = next(problem for problem in problems if problem.code == "loop_without_exit")
    assert "first" in loop.message and "second" in loop.message
    # The resolved node is now unreachable, too: all problems are reported at once.
    assert ("broken.yml", "unreachable", 22) in _found(problems)


def test_loop_with_an_exit_is_fine(tmp_path: Path) -> None:
    assert _problems(tmp_path, VALID.replace("next: done", "next: first")) != []  # 'done' unreachable
    text = VALID.replace("next: done", "next: first") + "\n  extra:\n    kind: handoff\n    text: Bye.\n"
    text = text.replace("next: resolved", "next: done").replace("next: handoff", "next: extra")
    assert _problems(tmp_path, text) == []


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    text = VALID.replace("next: done", "next: gone").replace("    kind: question\n", "    kind: quiz\n")
    text = text.replace('      - title: "No"\n', "      - synonyms: [nope]\n")
    found = _found(_problems(tmp_path, text))
    assert {
        ("broken.yml", "unknown_reference", 19),
        ("broken.yml", "unknown_kind", 15),
        ("broken.yml", "missing_title", 20),
    } <= found
    with pytest.raises(GuideError) as caught:
        load_guide(tmp_path / "broken.yml")
    assert len(caught.value.problems) >= 3
    assert "broken.yml:19:" in str(caught.value)


def test_invalid_yaml_reports_the_line(tmp_path: Path) -> None:
    problems = _problems(tmp_path, VALID.replace("    text: Great.\n", "    text: [Great.\n"))
    assert [(p.file.name, p.code) for p in problems] == [("broken.yml", "invalid_yaml")]
    assert problems[0].line >= 23


def test_step_without_options(tmp_path: Path) -> None:
    text = VALID.replace('    options:\n      - title: "Yes"', '    opts:\n      - title: "Yes"')
    assert ("broken.yml", "no_options", 14) in _found(_problems(tmp_path, text))


def test_unknown_device_category(tmp_path: Path) -> None:
    text = VALID.replace("id: mini\n", "id: mini\napplies_to: [router, toaster]\n")
    assert ("broken.yml", "unknown_category", 2) in _found(_problems(tmp_path, text))


def test_duplicate_guide_id_and_intent_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(VALID, encoding="utf-8")
    problems = _problems(tmp_path, VALID, name="b.yml")
    assert _found(problems) == {("b.yml", "duplicate_id", 1), ("b.yml", "duplicate_intent", 3)}


def test_missing_folder(tmp_path: Path) -> None:
    assert [p.code for p in validate_guides(tmp_path / "absent")] == ["missing_folder"]


def test_every_guide_is_wired_into_the_dialogue(tmp_path: Path) -> None:
    from bot.diagnostics.wiring import check_wiring

    guides = list(load_guides(PROJECT_ROOT / "data" / "diagnostics").values())
    assert check_wiring(guides, PROJECT_ROOT / "domain.yml", PROJECT_ROOT / "data" / "rules.yml") == []

    rules = (PROJECT_ROOT / "data" / "rules.yml").read_text(encoding="utf-8")
    unstarted = tmp_path / "rules.yml"
    unstarted.write_text(rules.replace("  - intent: problem_login\n  - action: action_diagnostic_start\n", ""))
    problems = check_wiring(guides, PROJECT_ROOT / "domain.yml", unstarted)
    assert [(p.code, p.file.name) for p in problems] == [("guide_never_starts", "login.yml")]
    assert problems[0].line == 4  # the `intent:` line of login.yml

    domain = tmp_path / "domain.yml"
    domain.write_text((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8").replace("  - problem_login\n", ""))
    problems = check_wiring(guides, domain, PROJECT_ROOT / "data" / "rules.yml")
    assert [p.code for p in problems] == ["intent_not_in_domain"] and "problem_login" in str(problems[0])
