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
    """The gateway's address and the bearer token of its direct API (agents have their own tokens)."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    api_token: str = ""
    replica_id: str = ""
    # Sites that may open the widget's WebSocket besides the gateway's own ("*": any).
    allowed_origins: tuple[str, ...] = ()
    # Behind a balancer that sets X-Forwarded-For: the client is its first hop (for per-client limits).
    trust_forwarded_for: bool = False

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
class MetricsSettings:
    """Who may read the gateway's ``GET /metrics`` (docs/metrics.md).

    With a ``token`` (``BOT_METRICS_TOKEN``), only a scraper sending ``Authorization: Bearer
    <token>``. Without one, anybody when ``open_without_token`` (development and test), and
    nobody in production, where the endpoint answers 403 until a token is set.
    """

    token: str = ""
    open_without_token: bool = True


@dataclass(frozen=True)
class DialogueSettings:
    """Where the Rasa server and the action server listen, the secrets between the processes, the tracker store.

    ``token`` guards Rasa's HTTP API (``--auth-token``); ``channel_secret`` signs the
    gateway's messages to Rasa's customer channel; ``action_token`` is what Rasa shows the
    action server; ``turn_secret`` signs the identity the gateway vouches for in each
    message (docs/identity.md, "Between the processes"). ``tracker_url`` is the SQLAlchemy
    URL (SQLite or PostgreSQL) of Rasa's tracker store, which endpoints.yml hands to Rasa.
    """

    rasa_host: str = "127.0.0.1"
    rasa_port: int = 5005
    action_host: str = "127.0.0.1"
    action_port: int = 5055
    token: str = ""
    channel_secret: str = ""
    action_token: str = ""
    turn_secret: str = ""
    timeout_s: float = 30.0
    tracker_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'rasa_tracker.db'}"
    #: Where to call them when it is not where they listen (a Service, a load balancer); empty: host and port.
    rasa_base_url: str = ""
    action_base_url: str = ""
    #: How long an action may run before the action server answers with an error (Rasa itself waits 300 s).
    action_timeout_s: float = 20.0
    #: How long Rasa's lock on a conversation lasts (TICKET_LOCK_LIFETIME): longer than a turn may take.
    lock_lifetime_s: int = 120

    @property
    def rasa_url(self) -> str:
        """Base URL of the Rasa server."""
        return self.rasa_base_url.rstrip("/") or f"http://{_reachable(self.rasa_host)}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        """Base URL of the action server."""
        return self.action_base_url.rstrip("/") or f"http://{_reachable(self.action_host)}:{self.action_port}"


@dataclass(frozen=True)
class SharedServices:
    """The services a cluster of replicas shares (docs/scaling.md); empty: one host, nothing shared.

    ``redis_url`` turns on Rasa's Redis lock store and the gateway's cross-replica signals;
    ``rabbitmq_url`` turns on Rasa's event broker (pika), read by the analytics consumer.
    """

    redis_url: str = ""
    rabbitmq_url: str = ""
    events_queue: str = "bot_events"
    #: Prefix of every key this deployment keeps in Redis (several bots, or test runs, may share one).
    redis_prefix: str = "supportbot"


def _reachable(host: str) -> str:
    """The address to call a server on that listens on ``host`` (every interface: this machine's loopback)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class Limits:
    """What one client, and everyone together, may ask of the gateway."""

    max_message_chars: int = 4000
    # Customer turns the gateway runs at once (each asks the dialogue server once), shared fairly by channel.
    max_concurrent_turns: int = 8
    # Direct API requests a second per client, and for everyone together (bursts of twice as many).
    api_rate_per_client: float = 20.0
    api_rate_total: float = 200.0
    # Open widget connections per client and in all; a connection silent this long is closed.
    ws_max_per_client: int = 20
    ws_max_connections: int = 2000
    ws_idle_timeout_s: float = 90.0
    # How long a direct-API request waits for its turn before answering 202 (the reply comes later).
    turn_wait_s: float = 45.0
    # How long a failing customer message or reply is retried before it becomes a dead letter.
    retry_for_s: float = 86_400.0
    # How long a replica holds a customer message or reply it took on; when it dies, another
    # replica takes the work over after this (longer than BOT_RASA_TIMEOUT).
    lease_s: float = 60.0
    # How long the first agent offered a handoff has to accept it; 0: data/routing.yml's offer_seconds.
    offer_s: float = 0.0


@dataclass(frozen=True)
class IdentitySettings:
    """The secret that signs customer tokens, linking codes and deep links; how long a linked chat stays linked."""

    secret: str = ""
    # A chat linked by an emailed code stops being verified after this many days without a message.
    link_idle_days: int = 30


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
