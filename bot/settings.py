"""Settings: read once from ``BOT_*`` environment variables into a frozen, typed object.

Every variable is documented in README.md. In development, unset tokens are generated
once, kept in ``var/dev-secrets.json`` (untracked) so they survive restarts, and
printed at start by ``python -m bot run``; in production an unset token is an error.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_GENERATED_TOKENS = ("BOT_API_TOKEN", "BOT_AGENT_TOKEN", "BOT_RASA_TOKEN", "BOT_IDENTITY_SECRET")
RECORDS_BACKENDS = ("sql", "http")
#: ``BOT_SMTP_HOST`` value that writes emails to ``var/mail/`` instead (development only).
MAILDIR_HOST = "maildir"
#: Per-request timeout ceiling of the HTTP records backend (the issue's contract: at most 3 s).
MAX_RECORDS_TIMEOUT_S = 3.0
#: Slack's Web API (tests point ``BOT_SLACK_API_URL`` at a local fake).
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org/bot"
_TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class SettingsError(ValueError):
    """A ``BOT_*`` variable is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    """Everything the gateway, the supervisor and the actions need to know."""

    environment: str = "development"
    project_root: Path = PROJECT_ROOT
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    public_url: str = ""
    rasa_port: int = 5005
    action_port: int = 5055
    api_token: str = ""
    agent_token: str = ""
    rasa_token: str = ""
    database_url: str = ""
    tracker_db: Path = PROJECT_ROOT / "var" / "rasa_tracker.db"
    var_dir: Path = PROJECT_ROOT / "var"
    models_dir: Path = PROJECT_ROOT / "models"
    data_dir: Path = PROJECT_ROOT / "data"
    max_message_chars: int = 4000
    rasa_timeout_s: float = 30.0
    log_level: str = "INFO"
    identity_secret: str = ""
    smtp_host: str = MAILDIR_HOST
    smtp_port: int = 1025
    smtp_sender: str = "Nimbus Support <support@nimbus.example>"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    records_backend: str = "sql"
    records_url: str = ""
    records_token: str = ""
    records_timeout_s: float = 2.5
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_agents_channel: str = ""
    slack_api_url: str = DEFAULT_SLACK_API_URL
    slack_customers: bool = True
    telegram_bot_token: str = ""
    telegram_mode: str = "webhook"
    telegram_webhook_secret: str = ""
    telegram_webhook_url: str = ""
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    replica_id: str = ""
    generated_tokens: tuple[str, ...] = field(default=())

    @property
    def rasa_url(self) -> str:
        """Base URL of the Rasa server (always on loopback)."""
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        """Base URL of the action server (always on loopback)."""
        return f"http://127.0.0.1:{self.action_port}"

    @property
    def gateway_url(self) -> str:
        """URL customers and agents open in a browser."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "localhost" if self.gateway_host in ("127.0.0.1", "0.0.0.0", "::") else self.gateway_host
        return f"http://{host}:{self.gateway_port}"

    @property
    def slack_enabled(self) -> bool:
        """Whether the Slack agent desk runs (bot token, agents' channel, and a way to receive events)."""
        return bool(
            self.slack_bot_token and self.slack_agents_channel and (self.slack_signing_secret or self.slack_app_token)
        )

    @property
    def telegram_enabled(self) -> bool:
        """Whether Telegram customers are served (a bot token is set)."""
        return bool(self.telegram_bot_token)

    @property
    def owner_id(self) -> str:
        """The gateway replica's name in inbox and outbox leases (stable across its restarts)."""
        return self.replica_id or f"{socket.gethostname()}:{self.gateway_port}"

    @property
    def is_production(self) -> bool:
        """Whether missing secrets are errors instead of being generated."""
        return self.environment == "production"

    def with_overrides(self, **changes: object) -> Settings:
        """Return a copy with some fields replaced (used by tests and the supervisor)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def child_environment(self) -> dict[str, str]:
        """The ``BOT_*`` variables that reproduce these settings in a child process."""
        return {
            "BOT_ENV": self.environment,
            "BOT_GATEWAY_HOST": self.gateway_host,
            "BOT_GATEWAY_PORT": str(self.gateway_port),
            "BOT_PUBLIC_URL": self.public_url,
            "BOT_RASA_PORT": str(self.rasa_port),
            "BOT_ACTION_PORT": str(self.action_port),
            "BOT_API_TOKEN": self.api_token,
            "BOT_AGENT_TOKEN": self.agent_token,
            "BOT_RASA_TOKEN": self.rasa_token,
            "BOT_DATABASE_URL": self.database_url,
            "BOT_TRACKER_DB": str(self.tracker_db),
            "BOT_VAR_DIR": str(self.var_dir),
            "BOT_MODELS_DIR": str(self.models_dir),
            "BOT_DATA_DIR": str(self.data_dir),
            "BOT_MAX_MESSAGE_CHARS": str(self.max_message_chars),
            "BOT_RASA_TIMEOUT": str(self.rasa_timeout_s),
            "BOT_LOG_LEVEL": self.log_level,
            "BOT_IDENTITY_SECRET": self.identity_secret,
            "BOT_SMTP_HOST": self.smtp_host,
            "BOT_SMTP_PORT": str(self.smtp_port),
            "BOT_SMTP_FROM": self.smtp_sender,
            "BOT_SMTP_USER": self.smtp_user,
            "BOT_SMTP_PASSWORD": self.smtp_password,
            "BOT_SMTP_STARTTLS": "1" if self.smtp_starttls else "0",
            "BOT_RECORDS_BACKEND": self.records_backend,
            "BOT_RECORDS_URL": self.records_url,
            "BOT_RECORDS_TOKEN": self.records_token,
            "BOT_RECORDS_TIMEOUT": str(self.records_timeout_s),
            "BOT_SLACK_BOT_TOKEN": self.slack_bot_token,
            "BOT_SLACK_SIGNING_SECRET": self.slack_signing_secret,
            "BOT_SLACK_APP_TOKEN": self.slack_app_token,
            "BOT_SLACK_AGENTS_CHANNEL": self.slack_agents_channel,
            "BOT_SLACK_API_URL": self.slack_api_url,
            "BOT_SLACK_CUSTOMERS": "1" if self.slack_customers else "0",
            "BOT_TELEGRAM_BOT_TOKEN": self.telegram_bot_token,
            "BOT_TELEGRAM_MODE": self.telegram_mode,
            "BOT_TELEGRAM_WEBHOOK_SECRET": self.telegram_webhook_secret,
            "BOT_TELEGRAM_WEBHOOK_URL": self.telegram_webhook_url,
            "BOT_TELEGRAM_API_URL": self.telegram_api_url,
            "BOT_REPLICA_ID": self.replica_id,
        }


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    raw = env.get(name, "").strip()
    return Path(raw).resolve() if raw else default


def _dev_tokens(var_dir: Path, wanted: list[str]) -> dict[str, str]:
    """Load or create development tokens in ``var/dev-secrets.json`` (mode 0600)."""
    path = var_dir / "dev-secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            stored = {k: v for k, v in loaded.items() if isinstance(v, str)}
        except (OSError, ValueError):
            stored = {}
    changed = False
    for name in wanted:
        if not stored.get(name):
            stored[name] = secrets.token_urlsafe(24)
            changed = True
    if changed:
        var_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stored, indent=2), encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(path)
    return {name: stored[name] for name in wanted}


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: the process environment).

    Raises:
        SettingsError: a variable is malformed, or a token is missing in production.
    """
    env = os.environ if env is None else env
    environment = env.get("BOT_ENV", "development").strip() or "development"
    if environment not in ("development", "production", "test"):
        raise SettingsError(f"BOT_ENV must be development, production or test, got {environment!r}")
    var_dir = _path(env, "BOT_VAR_DIR", PROJECT_ROOT / "var")
    tokens = {name: env.get(name, "").strip() for name in _GENERATED_TOKENS}
    missing = [name for name, value in tokens.items() if not value]
    if missing and environment == "production":
        raise SettingsError(f"{', '.join(missing)} must be set when BOT_ENV=production")
    if missing:
        tokens.update(_dev_tokens(var_dir, missing))
    database_url = env.get("BOT_DATABASE_URL", "").strip() or f"sqlite:///{var_dir / 'bot.db'}"
    # Development mails go to var/mail/ unless a server is named; production needs a real one.
    default_smtp = "127.0.0.1" if environment == "production" else MAILDIR_HOST
    smtp_host = env.get("BOT_SMTP_HOST", "").strip() or default_smtp
    if smtp_host == MAILDIR_HOST and environment == "production":
        raise SettingsError("BOT_SMTP_HOST=maildir is for development; set a mail server in production")
    records_backend = env.get("BOT_RECORDS_BACKEND", "sql").strip().lower() or "sql"
    if records_backend not in RECORDS_BACKENDS:
        raise SettingsError(f"BOT_RECORDS_BACKEND must be sql or http, got {records_backend!r}")
    records_url = env.get("BOT_RECORDS_URL", "").strip()
    if records_backend == "http" and not records_url:
        raise SettingsError("BOT_RECORDS_URL must be set when BOT_RECORDS_BACKEND=http")
    records_timeout_s = _float(env, "BOT_RECORDS_TIMEOUT", 2.5)
    if not 0 < records_timeout_s <= MAX_RECORDS_TIMEOUT_S:
        raise SettingsError(f"BOT_RECORDS_TIMEOUT must be above 0 and at most {MAX_RECORDS_TIMEOUT_S} s")
    slack_bot_token = env.get("BOT_SLACK_BOT_TOKEN", "").strip()
    slack_signing_secret = env.get("BOT_SLACK_SIGNING_SECRET", "").strip()
    slack_app_token = env.get("BOT_SLACK_APP_TOKEN", "").strip()
    slack_agents_channel = env.get("BOT_SLACK_AGENTS_CHANNEL", "").strip()
    if slack_bot_token and not slack_agents_channel:
        raise SettingsError("BOT_SLACK_AGENTS_CHANNEL must be set when BOT_SLACK_BOT_TOKEN is set")
    if slack_bot_token and not (slack_signing_secret or slack_app_token):
        raise SettingsError("BOT_SLACK_SIGNING_SECRET or BOT_SLACK_APP_TOKEN must be set with BOT_SLACK_BOT_TOKEN")
    telegram_bot_token = env.get("BOT_TELEGRAM_BOT_TOKEN", "").strip()
    telegram_mode = env.get("BOT_TELEGRAM_MODE", "webhook").strip().lower() or "webhook"
    if telegram_mode not in ("webhook", "polling"):
        raise SettingsError(f"BOT_TELEGRAM_MODE must be webhook or polling, got {telegram_mode!r}")
    telegram_webhook_secret = env.get("BOT_TELEGRAM_WEBHOOK_SECRET", "").strip()
    if telegram_webhook_secret and not _TELEGRAM_SECRET.fullmatch(telegram_webhook_secret):
        raise SettingsError("BOT_TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
    if telegram_bot_token and telegram_mode == "webhook" and not telegram_webhook_secret:
        raise SettingsError("BOT_TELEGRAM_WEBHOOK_SECRET must be set when BOT_TELEGRAM_MODE=webhook")
    settings = Settings(
        environment=environment,
        gateway_host=env.get("BOT_GATEWAY_HOST", "127.0.0.1").strip() or "127.0.0.1",
        gateway_port=_int(env, "BOT_GATEWAY_PORT", 8080),
        public_url=env.get("BOT_PUBLIC_URL", "").strip(),
        rasa_port=_int(env, "BOT_RASA_PORT", 5005),
        action_port=_int(env, "BOT_ACTION_PORT", 5055),
        api_token=tokens["BOT_API_TOKEN"],
        agent_token=tokens["BOT_AGENT_TOKEN"],
        rasa_token=tokens["BOT_RASA_TOKEN"],
        database_url=database_url,
        tracker_db=_path(env, "BOT_TRACKER_DB", var_dir / "rasa_tracker.db"),
        var_dir=var_dir,
        models_dir=_path(env, "BOT_MODELS_DIR", PROJECT_ROOT / "models"),
        data_dir=_path(env, "BOT_DATA_DIR", PROJECT_ROOT / "data"),
        max_message_chars=_int(env, "BOT_MAX_MESSAGE_CHARS", 4000),
        rasa_timeout_s=_float(env, "BOT_RASA_TIMEOUT", 30.0),
        log_level=env.get("BOT_LOG_LEVEL", "INFO").strip().upper() or "INFO",
        identity_secret=tokens["BOT_IDENTITY_SECRET"],
        smtp_host=smtp_host,
        smtp_port=_int(env, "BOT_SMTP_PORT", 1025),
        smtp_sender=env.get("BOT_SMTP_FROM", "").strip() or "Nimbus Support <support@nimbus.example>",
        smtp_user=env.get("BOT_SMTP_USER", "").strip(),
        smtp_password=env.get("BOT_SMTP_PASSWORD", ""),
        smtp_starttls=env.get("BOT_SMTP_STARTTLS", "").strip().lower() in ("1", "true", "yes"),
        records_backend=records_backend,
        records_url=records_url,
        records_token=env.get("BOT_RECORDS_TOKEN", "").strip(),
        records_timeout_s=records_timeout_s,
        slack_bot_token=slack_bot_token,
        slack_signing_secret=slack_signing_secret,
        slack_app_token=slack_app_token,
        slack_agents_channel=slack_agents_channel,
        slack_api_url=env.get("BOT_SLACK_API_URL", "").strip() or DEFAULT_SLACK_API_URL,
        slack_customers=env.get("BOT_SLACK_CUSTOMERS", "1").strip().lower() not in ("0", "false", "no", "off"),
        telegram_bot_token=telegram_bot_token,
        telegram_mode=telegram_mode,
        telegram_webhook_secret=telegram_webhook_secret,
        telegram_webhook_url=env.get("BOT_TELEGRAM_WEBHOOK_URL", "").strip(),
        telegram_api_url=env.get("BOT_TELEGRAM_API_URL", "").strip() or DEFAULT_TELEGRAM_API_URL,
        replica_id=env.get("BOT_REPLICA_ID", "").strip(),
        generated_tokens=tuple(missing),
    )
    return settings
