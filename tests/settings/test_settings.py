"""Settings: defaults, generated development tokens, the environment, clear errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings


def test_settings_defaults_and_generated_tokens_persist(tmp_path: Path) -> None:
    env = {"BOT_VAR_DIR": str(tmp_path)}
    first = load_settings(env)
    assert first.gateway.port == 8080 and first.dialogue.rasa_port == 5005 and first.dialogue.action_port == 5055
    assert first.database_url == f"sqlite:///{tmp_path / 'bot.db'}"
    assert set(first.generated_tokens) == {
        "BOT_API_TOKEN",
        "BOT_RASA_TOKEN",
        "BOT_IDENTITY_SECRET",
        "BOT_RASA_CHANNEL_SECRET",
        "BOT_ACTION_TOKEN",
        "BOT_TURN_SECRET",
    }
    assert len(first.gateway.api_token) >= 24 and first.gateway.api_token != first.dialogue.token
    again = load_settings(env)
    assert (again.gateway.api_token, again.dialogue.token) == (first.gateway.api_token, first.dialogue.token)
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
        (
            {"BOT_ACTION_TIMEOUT": "45"},
            r"BOT_ACTION_TIMEOUT \(45 s\) must be above 0 and shorter than BOT_RASA_TIMEOUT",
        ),
        ({"BOT_LOCK_LIFETIME": "30"}, r"BOT_LOCK_LIFETIME \(30 s\) must be longer than BOT_RASA_TIMEOUT \(30 s\)"),
        ({"BOT_RASA_URL": "rasa:5005"}, "BOT_RASA_URL must be an http:// or https:// base URL"),
        ({"BOT_REDIS_URL": "127.0.0.1:6379"}, "BOT_REDIS_URL must start with redis://"),
        ({"BOT_RABBITMQ_URL": "http://rabbit"}, "BOT_RABBITMQ_URL must start with amqp://"),
    ],
)
def test_bad_settings_are_clear_errors(tmp_path: Path, env: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({"BOT_VAR_DIR": str(tmp_path), **env})


def test_child_processes_get_the_same_settings(tmp_path: Path) -> None:
    """The supervisor hands its settings to the three processes as BOT_ variables: every section survives."""
    env = {
        "BOT_VAR_DIR": str(tmp_path),
        "BOT_SMTP_HOST": "mail.example",
        "BOT_SMTP_PASSWORD": " spaced ",
        "BOT_SMTP_STARTTLS": "yes",
        "BOT_RECORDS_BACKEND": "http",
        "BOT_RECORDS_URL": "http://127.0.0.1:8090",
        "BOT_SLACK_BOT_TOKEN": "xoxb-1",
        "BOT_SLACK_APP_TOKEN": "xapp-1",
        "BOT_SLACK_AGENTS_CHANNEL": "C1",
        "BOT_SLACK_CUSTOMERS": "off",
        "BOT_TELEGRAM_BOT_TOKEN": "1:x",
        "BOT_TELEGRAM_MODE": "polling",
        "BOT_MAX_MESSAGE_CHARS": "1000",
        "BOT_REPLICA_ID": "gw-2",
        "BOT_RASA_URL": "http://rasa.internal:5005/",
        "BOT_ACTION_URL": "http://actions.internal:5055",
        "BOT_REDIS_URL": "redis://:s3cret@redis.internal:6380/2",
        "BOT_RABBITMQ_URL": "amqp://bot:pw@rabbit.internal:5672/bot",
        "BOT_LOCK_LIFETIME": "90",
    }
    settings = load_settings(env)
    assert settings.smtp.starttls and settings.smtp.password == " spaced " and not settings.slack.customers
    assert settings.records.backend == "http" and settings.telegram.mode == "polling" and settings.slack.enabled
    assert settings.limits.max_message_chars == 1000 and settings.gateway.owner_id == "gw-2"
    assert settings.dialogue.rasa_url == "http://rasa.internal:5005"  # where it is called, not where it listens
    assert settings.dialogue.action_url == "http://actions.internal:5055" and settings.dialogue.lock_lifetime_s == 90
    assert settings.services.redis_url.endswith("@redis.internal:6380/2") and settings.services.rabbitmq_url
    again = load_settings(settings.child_environment())
    assert again == replace(settings, generated_tokens=())  # the child is handed the generated tokens


def test_overrides_change_one_section_field_by_field(tmp_path: Path) -> None:
    settings = load_settings({"BOT_VAR_DIR": str(tmp_path), "BOT_RASA_TIMEOUT": "5"})
    tuned = settings.with_overrides(dialogue={"rasa_port": 6000}, database_url="sqlite://")
    assert (tuned.dialogue.rasa_port, tuned.dialogue.timeout_s, tuned.database_url) == (6000, 5.0, "sqlite://")
    assert tuned.dialogue.rasa_url == "http://127.0.0.1:6000" and tuned.slack == settings.slack
    assert settings.dialogue.rasa_port == 5005  # frozen: the original is untouched


SECRETS_BETWEEN_PROCESSES = ("BOT_RASA_CHANNEL_SECRET", "BOT_ACTION_TOKEN", "BOT_TURN_SECRET")


@pytest.mark.parametrize("missing", SECRETS_BETWEEN_PROCESSES)
def test_the_secrets_between_the_processes_are_required_in_production(tmp_path: Path, missing: str) -> None:
    names = ("BOT_API_TOKEN", "BOT_RASA_TOKEN", "BOT_IDENTITY_SECRET", *SECRETS_BETWEEN_PROCESSES)
    env = {"BOT_VAR_DIR": str(tmp_path), "BOT_ENV": "production", **{name: f"{name}-value" for name in names}}
    settings = load_settings(env)
    assert (settings.dialogue.channel_secret, settings.dialogue.action_token, settings.dialogue.turn_secret) == (
        "BOT_RASA_CHANNEL_SECRET-value",
        "BOT_ACTION_TOKEN-value",
        "BOT_TURN_SECRET-value",
    )
    with pytest.raises(SettingsError, match=f"{missing} must be set when BOT_ENV=production"):
        load_settings({k: v for k, v in env.items() if k != missing})


def test_the_secrets_between_the_processes_are_generated_apart_in_development(tmp_path: Path) -> None:
    dialogue = load_settings({"BOT_VAR_DIR": str(tmp_path)}).dialogue
    secrets = {dialogue.token, dialogue.channel_secret, dialogue.action_token, dialogue.turn_secret}
    assert len(secrets) == 4 and all(len(secret) >= 24 for secret in secrets)
    assert load_settings({"BOT_VAR_DIR": str(tmp_path)}).dialogue == dialogue  # kept in var/dev-secrets.json


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:7000"),
        ("0.0.0.0", "http://127.0.0.1:7000"),  # every interface: reached on this machine's loopback
        ("10.1.2.3", "http://10.1.2.3:7000"),
        ("rasa.internal", "http://rasa.internal:7000"),
        ("::", "http://[::1]:7000"),
        ("fd00::5", "http://[fd00::5]:7000"),
    ],
)
def test_rasa_and_the_action_server_listen_where_the_settings_say(tmp_path: Path, host: str, url: str) -> None:
    env = {"BOT_VAR_DIR": str(tmp_path), "BOT_RASA_PORT": "7000", "BOT_ACTION_PORT": "7000"}
    dialogue = load_settings({**env, "BOT_RASA_HOST": host, "BOT_ACTION_HOST": host}).dialogue
    assert (dialogue.rasa_host, dialogue.action_host) == (host, host)
    assert dialogue.rasa_url == url and dialogue.action_url == url
    defaults = load_settings(env).dialogue
    assert (defaults.rasa_host, defaults.action_host) == ("127.0.0.1", "127.0.0.1")


def test_the_tracker_store_is_named_by_one_url(tmp_path: Path) -> None:
    """endpoints.yml hands BOT_TRACKER_URL to Rasa; by default it is the SQLite file BOT_TRACKER_DB."""
    default = load_settings({"BOT_VAR_DIR": str(tmp_path)})
    assert default.dialogue.tracker_url == f"sqlite:///{tmp_path / 'rasa_tracker.db'}"
    moved = load_settings({"BOT_VAR_DIR": str(tmp_path), "BOT_TRACKER_DB": str(tmp_path / "t.db")})
    assert moved.dialogue.tracker_url == f"sqlite:///{tmp_path / 't.db'}"
    url = "postgresql://rasa:pw@db.internal:5432/rasa"
    named = load_settings({"BOT_VAR_DIR": str(tmp_path), "BOT_TRACKER_URL": url})
    assert named.dialogue.tracker_url == url and named.child_environment()["BOT_TRACKER_URL"] == url


def test_a_lease_must_outlast_a_call_to_rasa(tmp_path: Path) -> None:
    """A replica still waiting for Rasa must not have its turn taken over by another replica."""
    base = {"BOT_VAR_DIR": str(tmp_path), "BOT_RASA_TIMEOUT": "20"}
    assert load_settings({**base, "BOT_LEASE": "25"}).limits.lease_s == 25.0
    with pytest.raises(SettingsError, match=r"BOT_LEASE \(20 s\) must be longer than BOT_RASA_TIMEOUT \(20 s\)"):
        load_settings({**base, "BOT_LEASE": "20"})
