"""The command line (bot/__main__.py): `python -m bot validate` on good and broken data."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_validate_command_accepts_the_shipped_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bot.__main__ import main

    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    assert main(["validate"]) == 0


def test_validate_command_reports_a_broken_guide_with_file_and_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from bot.__main__ import main

    data = tmp_path / "data"
    shutil.copytree(Path("data"), data, ignore=shutil.ignore_patterns("nlu"))
    (data / "diagnostics" / "zz_broken.yml").write_text(
        "id: broken\ntitle: Broken\nintent: problem_broken\nstart: first\nnodes:\n"
        "  first:\n    kind: question\n    text: Is it on?\n    options:\n"
        "      - title: Yes\n        next: nowhere\n      - title: No\n        next: handoff\n"
    )
    monkeypatch.setenv("BOT_DATA_DIR", str(data))
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    assert main(["validate"]) == 1
    err = capsys.readouterr().err
    assert "zz_broken.yml:11" in err and "nowhere" in err
