"""Pure units: settings, texts, frame parsing, Rasa answer translation, training fingerprint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.channels.web_protocol import FrameError, Hello, Outgoing, Ping, parse_frame
from bot.core.messages import Button
from bot.dialogue.rasa_client import BotReply, DialogueUnavailable, replies_from_rasa
from bot.settings import SettingsError, load_settings
from bot.texts import TextsError, load_texts
from bot.training import fingerprint


def test_settings_defaults_and_generated_tokens_persist(tmp_path: Path) -> None:
    env = {"BOT_VAR_DIR": str(tmp_path)}
    first = load_settings(env)
    assert first.gateway.port == 8080 and first.dialogue.rasa_port == 5005 and first.dialogue.action_port == 5055
    assert first.database_url == f"sqlite:///{tmp_path / 'bot.db'}"
    assert set(first.generated_tokens) == {"BOT_API_TOKEN", "BOT_AGENT_TOKEN", "BOT_RASA_TOKEN", "BOT_IDENTITY_SECRET"}
    assert len(first.gateway.api_token) >= 24 and first.gateway.api_token != first.gateway.agent_token
    again = load_settings(env)
    assert (again.gateway.api_token, again.gateway.agent_token) == (first.gateway.api_token, first.gateway.agent_token)
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o777 == 0o600


def test_settings_from_environment(tmp_path: Path) -> None:
    settings = load_settings(
        {"BOT_VAR_DIR": str(tmp_path), "BOT_GATEWAY_PORT": "9000", "BOT_API_TOKEN": "t", "BOT_DATABASE_URL": "x://"}
    )
    assert settings.gateway.port == 9000 and settings.gateway.api_token == "t" and settings.database_url == "x://"
    assert "BOT_API_TOKEN" not in settings.generated_tokens
    assert settings.child_environment()["BOT_GATEWAY_PORT"] == "9000"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BOT_GATEWAY_PORT": "eighty"}, "BOT_GATEWAY_PORT must be an integer"),
        ({"BOT_RASA_PORT": "-1"}, "must not be negative"),
        ({"BOT_ENV": "staging"}, "BOT_ENV must be"),
        ({"BOT_ENV": "production"}, "must be set when BOT_ENV=production"),
    ],
)
def test_bad_settings_are_clear_errors(tmp_path: Path, env: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({"BOT_VAR_DIR": str(tmp_path), **env})


def test_texts_file_checks(tmp_path: Path) -> None:
    texts = load_texts(Path("data/texts.yml"))
    assert "try again" in texts.dialogue_unavailable
    broken = tmp_path / "texts.yml"
    broken.write_text("texts:\n  dialogue_unavailable: [unclosed\n")
    with pytest.raises(TextsError, match="line"):
        load_texts(broken)
    broken.write_text("texts:\n  dialogue_unavailable: hi\n")
    with pytest.raises(TextsError, match="message_too_long"):
        load_texts(broken)


def test_parse_frames() -> None:
    assert parse_frame('{"type":"hello","conversation_id":"web-1","after":7}', 4000) == Hello("web-1", 7, None)
    assert parse_frame('{"type":"hello","conversation_id":"bad id","after":true}', 4000) == Hello(None, 0, None)
    assert parse_frame('{"type":"ping"}', 10) == Ping()
    assert parse_frame('{"type":"message","text":" hi ","client_id":"a1"}', 10) == Outgoing("hi", None, "a1")
    assert parse_frame('{"type":"message","text":"Yes","payload":"/affirm","client_id":"a"}', 10).payload == "/affirm"
    for raw, code in [
        ("nope", "bad_frame"),
        ("[]", "bad_frame"),
        ('{"type":"dance"}', "bad_frame"),
        ('{"type":"message","text":"hi"}', "bad_frame"),
        ('{"type":"message","text":"hi","client_id":"has space"}', "bad_frame"),
        ('{"type":"message","text":"  ","client_id":"a"}', "bad_frame"),
        (json.dumps({"type": "message", "text": "x" * 11, "client_id": "a"}), "too_long"),
    ]:
        with pytest.raises(FrameError) as caught:
            parse_frame(raw, 10)
        assert caught.value.code == code, raw


def test_replies_from_rasa_translates_and_drops_unknown_parts() -> None:
    body = [
        {"recipient_id": "x", "text": "Hello", "buttons": [{"title": "Yes", "payload": "/affirm"}, {"payload": "/x"}]},
        {"recipient_id": "x", "custom": {"foo": 1}},
        {"recipient_id": "x", "image": "https://example.org/a.png"},
        "junk",
    ]
    assert replies_from_rasa(body) == [
        BotReply("Hello", (Button("Yes", "/affirm"),)),
        BotReply("https://example.org/a.png"),
    ]
    with pytest.raises(DialogueUnavailable):
        replies_from_rasa({"error": "x"})


def test_fingerprint_changes_only_with_training_data(tmp_path: Path) -> None:
    (tmp_path / "data" / "nlu").mkdir(parents=True)
    (tmp_path / "config.yml").write_text("a")
    (tmp_path / "domain.yml").write_text("b")
    (tmp_path / "data" / "nlu" / "x.yml").write_text("c")
    before = fingerprint(tmp_path)
    (tmp_path / "data" / "texts.yml").write_text("not training data")
    assert fingerprint(tmp_path) == before
    (tmp_path / "data" / "nlu" / "x.yml").write_text("changed")
    assert fingerprint(tmp_path) != before


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
