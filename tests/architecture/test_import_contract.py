"""The layer map of docs/architecture.md holds: every room of bot/ is on it, and an import up the map fails."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import tomli

from bot.settings import PROJECT_ROOT
from tests.services import require

LINT_IMPORTS = PROJECT_ROOT / ".venv-tools" / "bin" / "lint-imports"


def _contracts() -> list[dict]:
    config = tomli.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["importlinter"]["contracts"]


def _bot_layers() -> list[str]:
    [contract] = [c for c in _contracts() if c.get("containers") == ["bot"]]
    return contract["layers"]


def _rooms_on_the_map() -> set[str]:
    return {room.strip() for line in _bot_layers() for room in line.replace(":", "|").split("|")}


def _rooms_of_bot() -> set[str]:
    bot = PROJECT_ROOT / "bot"
    packages = {p.name for p in bot.iterdir() if (p / "__init__.py").exists()}
    modules = {p.stem for p in bot.glob("*.py") if p.name != "__init__.py"}
    return packages | modules


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    require(LINT_IMPORTS.exists(), f"import-linter is not installed at {LINT_IMPORTS} (run `make tools`)")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env={"PYTHONPATH": str(root)}, capture_output=True, text=True
    )


def test_every_room_of_bot_is_on_the_map() -> None:
    assert _rooms_of_bot() == _rooms_on_the_map()


def test_no_import_is_excused() -> None:
    assert all("ignore_imports" not in contract for contract in _contracts())


@pytest.fixture(scope="module")
def copy_of_the_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layers")
    for package in ("bot", "actions", "rasa_components"):
        shutil.copytree(PROJECT_ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_code_keeps_the_contract(copy_of_the_code: Path) -> None:
    result = _lint_imports(copy_of_the_code)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("bot/core/text.py", "import bot.gateway.app", "bot.core is not allowed to import bot.gateway"),
        (
            "bot/handoff/timers.py",
            "import bot.conversations.service",
            "bot.handoff is not allowed to import bot.conversations",
        ),
        ("bot/channels/slack.py", "import bot.agentdesk.blocks", "bot.channels is not allowed to import bot.agentdesk"),
        (
            "bot/dialogue/rasa_client.py",
            "import bot.conversations.store",
            "bot.dialogue is not allowed to import bot.conversations",
        ),
        ("bot/catalog/search.py", "import rasa_sdk", "bot is not allowed to import rasa_sdk"),
    ],
)
def test_an_import_against_the_map_breaks_the_build(
    copy_of_the_code: Path, module: str, line: str, broken: str
) -> None:
    path = copy_of_the_code / module
    original = path.read_text(encoding="utf-8")
    path.write_text(f"{original}\n{line}  # noqa\n", encoding="utf-8")
    try:
        result = _lint_imports(copy_of_the_code)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode == 1, result.stdout[-3000:]
    assert broken in result.stdout
