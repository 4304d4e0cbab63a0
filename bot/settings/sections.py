"""The settings sections: one small frozen object per component, each holding only what it needs."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
#: ``BOT_SMTP_HOST`` value that writes emails to ``var/mail/`` instead (development only).
MAILDIR_HOST = "maildir"
#: Slack's Web API (tests point ``BOT_SLACK_API_URL`` at a local fake).
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org/bot"


@dataclass(frozen=True)
class Paths:
    """Where the project, its data files, models and run-time files are."""

    project_root: Path = PROJECT_ROOT
    var_dir: Path = PROJECT_ROOT / "var"
    models_dir: Path = PROJECT_ROOT / "models"
    data_dir: Path = PROJECT_ROOT / "data"
    tracker_db: Path = PROJECT_ROOT / "var" / "rasa_tracker.db"


@dataclass(frozen=True)
class GatewaySettings:
    """The gateway's address and the bearer tokens of its APIs."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    api_token: str = ""
    agent_token: str = ""
    replica_id: str = ""

    @property
    def url(self) -> str:
        """URL customers and agents open in a browser."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "localhost" if self.host in ("127.0.0.1", "0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def owner_id(self) -> str:
        """The replica's name in inbox and outbox leases (stable across its restarts)."""
        return self.replica_id or f"{socket.gethostname()}:{self.port}"


@dataclass(frozen=True)
class DialogueSettings:
    """How the gateway reaches the Rasa server and the action server (always on loopback)."""

    rasa_port: int = 5005
    action_port: int = 5055
    token: str = ""
    timeout_s: float = 30.0

    @property
    def rasa_url(self) -> str:
        """Base URL of the Rasa server."""
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        """Base URL of the action server."""
        return f"http://127.0.0.1:{self.action_port}"


@dataclass(frozen=True)
class Limits:
    """Limits every channel and front end applies to what people type."""

    max_message_chars: int = 4000


@dataclass(frozen=True)
class IdentitySettings:
    """The secret that signs customer tokens, linking codes and deep links."""

    secret: str = ""


@dataclass(frozen=True)
class SmtpSettings:
    """Where account-linking codes are mailed (``host`` ``maildir``: files in ``var/mail/``)."""

    host: str = MAILDIR_HOST
    port: int = 1025
    sender: str = "Nimbus Support <support@nimbus.example>"
    user: str = ""
    password: str = ""
    starttls: bool = False

    @property
    def uses_maildir(self) -> bool:
        """Whether mails go to the development mail folder instead of a server."""
        return self.host == MAILDIR_HOST


@dataclass(frozen=True)
class RecordsSettings:
    """Which customer-records backend the actions read (``sql`` or ``http``) and how."""

    backend: str = "sql"
    url: str = ""
    token: str = ""
    timeout_s: float = 2.5


@dataclass(frozen=True)
class SlackSettings:
    """The Slack app: customers in DMs and mentions, agents in their channel."""

    bot_token: str = ""
    signing_secret: str = ""
    app_token: str = ""
    agents_channel: str = ""
    api_url: str = DEFAULT_SLACK_API_URL
    customers: bool = True

    @property
    def enabled(self) -> bool:
        """Whether Slack runs (bot token, agents' channel, and a way to receive events)."""
        return bool(self.bot_token and self.agents_channel and (self.signing_secret or self.app_token))


@dataclass(frozen=True)
class TelegramSettings:
    """The Telegram bot (webhook or long polling)."""

    bot_token: str = ""
    mode: str = "webhook"
    webhook_secret: str = ""
    webhook_url: str = ""
    api_url: str = DEFAULT_TELEGRAM_API_URL

    @property
    def enabled(self) -> bool:
        """Whether Telegram customers are served (a bot token is set)."""
        return bool(self.bot_token)
