"""The command line (bot/__main__.py): `python -m bot validate` on good and broken data."""

from __future__ import annotations

import subprocess
import sys
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


def test_agents_token_revoke_and_list(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.__main__ import main
    from bot.db.engine import create_db_engine
    from bot.handoff.agents import AgentCredentials

    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    assert main(["seed"]) == 0
    capsys.readouterr()
    assert main(["agents", "token", "AG-02"]) == 0
    captured = capsys.readouterr()
    token = captured.out.strip()
    assert len(token) == 43 and "\n" not in token  # alone on stdout
    assert "shown only now" in captured.err and token not in captured.err
    engine = create_db_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        assert AgentCredentials(engine).check(token).outcome == "agent"
        assert main(["agents", "list"]) == 0
        listed = capsys.readouterr().out
        assert "AG-02\tTomás Ribeiro\tactive\ttokens: 1\tlast used: " in listed and token not in listed
        assert main(["agents", "revoke", "AG-02"]) == 0
        assert capsys.readouterr().out.strip() == "revoked 1 token(s) of agent AG-02"
        assert AgentCredentials(engine).check(token).outcome == "revoked"
    finally:
        engine.dispose()
    assert main(["agents", "token", "AG-99"]) == 1
    assert "no agent with id 'AG-99'" in capsys.readouterr().err
    assert main(["agents", "token", "AG-07"]) == 1  # active: false in data/agents.yml
    assert "not active" in capsys.readouterr().err


def test_the_development_demo_agent_token_is_kept_and_renewed_once_revoked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import json

    from bot.__main__ import _demo_agent_token, main
    from bot.db.engine import create_db_engine
    from bot.handoff.agents import AgentCredentials
    from bot.settings import load_settings

    settings = load_settings({"BOT_VAR_DIR": str(tmp_path)})
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    assert main(["seed"]) == 0
    described, token = _demo_agent_token(settings) or ("", "")
    assert described == "Lena Hoffmann, AG-01" and len(token) == 43
    stored = json.loads((tmp_path / "dev-secrets.json").read_text())
    assert stored["agent_token:AG-01"] == token
    assert _demo_agent_token(settings) == (described, token)  # a restart reuses it
    engine = create_db_engine(settings.database_url)
    try:
        credentials = AgentCredentials(engine)
        assert credentials.check(token).outcome == "agent"
        credentials.revoke("AG-01")
        _, renewed = _demo_agent_token(settings) or ("", "")
        assert renewed != token and credentials.check(renewed).outcome == "agent"
        assert credentials.check(token).outcome == "revoked"
    finally:
        engine.dispose()


def test_the_children_load_tensorflow_without_jax_on_one_thread(tmp_path: Path) -> None:
    """A child's TensorFlow: without JAX (runtime/without_jax), one thread per request (docs/performance.md)."""
    from bot.settings import load_settings
    from bot.supervisor import child_env

    env = child_env(load_settings({"BOT_VAR_DIR": str(tmp_path / "var")}))
    assert {env[name] for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")} == {"1"}
    probe = "import sys, tensorflow; print('jax' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False"]
