"""Reading ``BOT_*`` environment variables into :class:`Settings`, one section at a time.

Every variable is documented in README.md. In development, unset tokens are generated once,
kept in ``var/dev-secrets.json`` (untracked) so they survive restarts, and printed at start by
``python -m bot run``; in production an unset token is an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import Any

from bot.settings.env import Env, SettingsError, dev_tokens, env_value
from bot.settings.sections import (
    DEFAULT_SLACK_API_URL,
    DEFAULT_TELEGRAM_API_URL,
    MAILDIR_HOST,
    PROJECT_ROOT,
    DialogueSettings,
    GatewaySettings,
    IdentitySettings,
    Limits,
    MetricsSettings,
    Paths,
    RecordsSettings,
    SharedServices,
    SlackSettings,
    SmtpSettings,
    TelegramSettings,
)

_GENERATED_TOKENS = (
    "BOT_API_TOKEN",
    "BOT_RASA_TOKEN",
    "BOT_IDENTITY_SECRET",
    "BOT_RASA_CHANNEL_SECRET",
    "BOT_ACTION_TOKEN",
    "BOT_TURN_SECRET",
)
ENVIRONMENTS = ("development", "production", "test")
RECORDS_BACKENDS = ("sql", "http")
#: Per-request timeout ceiling of the HTTP records backend (the issue's contract: at most 3 s).
MAX_RECORDS_TIMEOUT_S = 3.0
_TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass(frozen=True)
class Settings:
    """The whole configuration; the composition roots hand each component its own section."""

    environment: str = "development"
    log_level: str = "INFO"
    database_url: str = ""
    paths: Paths = field(default_factory=Paths)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    dialogue: DialogueSettings = field(default_factory=DialogueSettings)
    limits: Limits = field(default_factory=Limits)
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    records: RecordsSettings = field(default_factory=RecordsSettings)
    slack: SlackSettings = field(default_factory=SlackSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    services: SharedServices = field(default_factory=SharedServices)
    generated_tokens: tuple[str, ...] = ()

    @property
    def is_production(self) -> bool:
        """Whether missing secrets are errors instead of being generated."""
        return self.environment == "production"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (tests, the supervisor).

        A section given as a mapping changes only the named fields of that section:
        ``settings.with_overrides(dialogue={"rasa_port": 5999})``.
        """
        resolved: dict[str, Any] = {}
        for name, value in changes.items():
            current = getattr(self, name)
            if is_dataclass(current) and not isinstance(current, type) and isinstance(value, Mapping):
                value = replace(current, **value)
            resolved[name] = value
        return replace(self, **resolved)

    def child_environment(self) -> dict[str, str]:
        """The ``BOT_*`` variables that reproduce these settings in a child process."""
        env = {
            "BOT_ENV": self.environment,
            "BOT_LOG_LEVEL": self.log_level,
            "BOT_DATABASE_URL": self.database_url,
        }
        for section, names in _VARIABLES.items():
            values = getattr(self, section)
            for attribute, variable in names.items():
                env[variable] = env_value(getattr(values, attribute))
        return env


#: Section -> attribute -> the environment variable that sets it.
_VARIABLES: dict[str, dict[str, str]] = {
    "paths": {
        "tracker_db": "BOT_TRACKER_DB",
        "var_dir": "BOT_VAR_DIR",
        "models_dir": "BOT_MODELS_DIR",
        "data_dir": "BOT_DATA_DIR",
    },
    "gateway": {
        "host": "BOT_GATEWAY_HOST",
        "port": "BOT_GATEWAY_PORT",
        "public_url": "BOT_PUBLIC_URL",
        "api_token": "BOT_API_TOKEN",
        "replica_id": "BOT_REPLICA_ID",
        "allowed_origins": "BOT_ALLOWED_ORIGINS",
        "trust_forwarded_for": "BOT_TRUST_FORWARDED_FOR",
    },
    "dialogue": {
        "rasa_host": "BOT_RASA_HOST",
        "rasa_port": "BOT_RASA_PORT",
        "action_host": "BOT_ACTION_HOST",
        "action_port": "BOT_ACTION_PORT",
        "token": "BOT_RASA_TOKEN",
        "channel_secret": "BOT_RASA_CHANNEL_SECRET",
        "action_token": "BOT_ACTION_TOKEN",
        "turn_secret": "BOT_TURN_SECRET",
        "timeout_s": "BOT_RASA_TIMEOUT",
        "tracker_url": "BOT_TRACKER_URL",
        "rasa_base_url": "BOT_RASA_URL",
        "action_base_url": "BOT_ACTION_URL",
        "action_timeout_s": "BOT_ACTION_TIMEOUT",
        "lock_lifetime_s": "BOT_LOCK_LIFETIME",
    },
    "limits": {
        "max_message_chars": "BOT_MAX_MESSAGE_CHARS",
        "max_concurrent_turns": "BOT_MAX_CONCURRENT_TURNS",
        "api_rate_per_client": "BOT_API_RATE_PER_CLIENT",
        "api_rate_total": "BOT_API_RATE_TOTAL",
        "ws_max_per_client": "BOT_WS_MAX_PER_CLIENT",
        "ws_max_connections": "BOT_WS_MAX_CONNECTIONS",
        "ws_idle_timeout_s": "BOT_WS_IDLE_TIMEOUT",
        "turn_wait_s": "BOT_TURN_WAIT",
        "retry_for_s": "BOT_RETRY_FOR",
        "offer_s": "BOT_OFFER_SECONDS",
        "lease_s": "BOT_LEASE",
    },
    "identity": {"secret": "BOT_IDENTITY_SECRET", "link_idle_days": "BOT_LINK_IDLE_DAYS"},
    "smtp": {
        "host": "BOT_SMTP_HOST",
        "port": "BOT_SMTP_PORT",
        "sender": "BOT_SMTP_FROM",
        "user": "BOT_SMTP_USER",
        "password": "BOT_SMTP_PASSWORD",
        "starttls": "BOT_SMTP_STARTTLS",
    },
    "records": {
        "backend": "BOT_RECORDS_BACKEND",
        "url": "BOT_RECORDS_URL",
        "token": "BOT_RECORDS_TOKEN",
        "timeout_s": "BOT_RECORDS_TIMEOUT",
    },
    "slack": {
        "bot_token": "BOT_SLACK_BOT_TOKEN",
        "signing_secret": "BOT_SLACK_SIGNING_SECRET",
        "app_token": "BOT_SLACK_APP_TOKEN",
        "agents_channel": "BOT_SLACK_AGENTS_CHANNEL",
        "api_url": "BOT_SLACK_API_URL",
        "customers": "BOT_SLACK_CUSTOMERS",
    },
    "telegram": {
        "bot_token": "BOT_TELEGRAM_BOT_TOKEN",
        "mode": "BOT_TELEGRAM_MODE",
        "webhook_secret": "BOT_TELEGRAM_WEBHOOK_SECRET",
        "webhook_url": "BOT_TELEGRAM_WEBHOOK_URL",
        "api_url": "BOT_TELEGRAM_API_URL",
    },
    "metrics": {"token": "BOT_METRICS_TOKEN"},
    "services": {
        "redis_url": "BOT_REDIS_URL",
        "rabbitmq_url": "BOT_RABBITMQ_URL",
        "events_queue": "BOT_EVENTS_QUEUE",
        "redis_prefix": "BOT_REDIS_PREFIX",
    },
}


def _tokens(env: Env, environment: str, var_dir: Path) -> tuple[dict[str, str], list[str]]:
    """The tokens and secrets of :data:`_GENERATED_TOKENS`, and which of them were generated (not set)."""
    tokens = {name: env.text(name) for name in _GENERATED_TOKENS}
    missing = [name for name, value in tokens.items() if not value]
    if missing and environment == "production":
        raise SettingsError(f"{', '.join(missing)} must be set when BOT_ENV=production")
    if missing:
        tokens.update(dev_tokens(var_dir, missing))
    return tokens, missing


def _paths(env: Env) -> Paths:
    var_dir = env.path("BOT_VAR_DIR", PROJECT_ROOT / "var")
    return Paths(
        var_dir=var_dir,
        tracker_db=env.path("BOT_TRACKER_DB", var_dir / "rasa_tracker.db"),
        models_dir=env.path("BOT_MODELS_DIR", PROJECT_ROOT / "models"),
        data_dir=env.path("BOT_DATA_DIR", PROJECT_ROOT / "data"),
    )


def _gateway(env: Env, tokens: Mapping[str, str]) -> GatewaySettings:
    return GatewaySettings(
        host=env.text("BOT_GATEWAY_HOST", "127.0.0.1"),
        port=env.integer("BOT_GATEWAY_PORT", 8080),
        public_url=env.text("BOT_PUBLIC_URL"),
        api_token=tokens["BOT_API_TOKEN"],
        replica_id=env.text("BOT_REPLICA_ID"),
        allowed_origins=tuple(origin.rstrip("/") for origin in env.words("BOT_ALLOWED_ORIGINS")),
        trust_forwarded_for=env.switched_on("BOT_TRUST_FORWARDED_FOR"),
    )


def _dialogue(env: Env, tokens: Mapping[str, str], paths: Paths) -> DialogueSettings:
    dialogue = _dialogue_settings(env, tokens, paths)
    # One chain of waits: an action gives up before the gateway stops waiting for Rasa's answer,
    # and Rasa's lock on the conversation outlives both (else two replicas could run one turn).
    if not 0 < dialogue.action_timeout_s < dialogue.timeout_s:
        raise SettingsError(
            f"BOT_ACTION_TIMEOUT ({dialogue.action_timeout_s:g} s) must be above 0 and shorter than "
            f"BOT_RASA_TIMEOUT ({dialogue.timeout_s:g} s)"
        )
    if dialogue.lock_lifetime_s <= dialogue.timeout_s:
        raise SettingsError(
            f"BOT_LOCK_LIFETIME ({dialogue.lock_lifetime_s} s) must be longer than BOT_RASA_TIMEOUT "
            f"({dialogue.timeout_s:g} s)"
        )
    return dialogue


def _dialogue_settings(env: Env, tokens: Mapping[str, str], paths: Paths) -> DialogueSettings:
    timeout_s = env.number("BOT_RASA_TIMEOUT", 30.0)
    return DialogueSettings(
        rasa_host=env.text("BOT_RASA_HOST", "127.0.0.1"),
        rasa_port=env.integer("BOT_RASA_PORT", 5005),
        action_host=env.text("BOT_ACTION_HOST", "127.0.0.1"),
        action_port=env.integer("BOT_ACTION_PORT", 5055),
        token=tokens["BOT_RASA_TOKEN"],
        channel_secret=tokens["BOT_RASA_CHANNEL_SECRET"],
        action_token=tokens["BOT_ACTION_TOKEN"],
        turn_secret=tokens["BOT_TURN_SECRET"],
        timeout_s=timeout_s,
        # endpoints.yml hands this URL to Rasa's SQL tracker store; the privacy commands read the same.
        tracker_url=env.text("BOT_TRACKER_URL", f"sqlite:///{paths.tracker_db}"),
        rasa_base_url=_base_url(env, "BOT_RASA_URL"),
        action_base_url=_base_url(env, "BOT_ACTION_URL"),
        # By default two thirds of the gateway's wait (20 s of 30 s), so a slow action fails the turn in time.
        action_timeout_s=env.number("BOT_ACTION_TIMEOUT", round(timeout_s * 2 / 3, 1)),
        lock_lifetime_s=env.integer("BOT_LOCK_LIFETIME", DialogueSettings.lock_lifetime_s),
    )


def _base_url(env: Env, name: str) -> str:
    url = env.text(name)
    if url and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
        raise SettingsError(f"{name} must be an http:// or https:// base URL, not {url!r}")
    return url.rstrip("/")


def _services(env: Env) -> SharedServices:
    redis_url, rabbitmq_url = env.secret("BOT_REDIS_URL").strip(), env.secret("BOT_RABBITMQ_URL").strip()
    if redis_url and not redis_url.startswith(("redis://", "rediss://")):
        raise SettingsError("BOT_REDIS_URL must start with redis:// or rediss://")
    if rabbitmq_url and not rabbitmq_url.startswith(("amqp://", "amqps://")):
        raise SettingsError("BOT_RABBITMQ_URL must start with amqp:// or amqps://")
    queue = env.text("BOT_EVENTS_QUEUE", SharedServices.events_queue)
    prefix = env.text("BOT_REDIS_PREFIX", SharedServices.redis_prefix)
    if not re.fullmatch(r"[A-Za-z0-9]{1,40}", prefix):  # Rasa's lock store ignores any other prefix
        raise SettingsError("BOT_REDIS_PREFIX may hold only letters and digits (at most 40)")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", queue):
        raise SettingsError("BOT_EVENTS_QUEUE may hold only letters, digits, '_', '.' and '-'")
    return SharedServices(redis_url=redis_url, rabbitmq_url=rabbitmq_url, events_queue=queue, redis_prefix=prefix)


def _limits(env: Env, rasa_timeout_s: float) -> Limits:
    defaults = Limits()
    limits = Limits(
        max_message_chars=env.integer("BOT_MAX_MESSAGE_CHARS", defaults.max_message_chars),
        max_concurrent_turns=env.integer("BOT_MAX_CONCURRENT_TURNS", defaults.max_concurrent_turns),
        api_rate_per_client=env.number("BOT_API_RATE_PER_CLIENT", defaults.api_rate_per_client),
        api_rate_total=env.number("BOT_API_RATE_TOTAL", defaults.api_rate_total),
        ws_max_per_client=env.integer("BOT_WS_MAX_PER_CLIENT", defaults.ws_max_per_client),
        ws_max_connections=env.integer("BOT_WS_MAX_CONNECTIONS", defaults.ws_max_connections),
        ws_idle_timeout_s=env.number("BOT_WS_IDLE_TIMEOUT", defaults.ws_idle_timeout_s),
        turn_wait_s=env.number("BOT_TURN_WAIT", defaults.turn_wait_s),
        retry_for_s=env.number("BOT_RETRY_FOR", defaults.retry_for_s),
        offer_s=env.number("BOT_OFFER_SECONDS", defaults.offer_s),
        lease_s=env.number("BOT_LEASE", defaults.lease_s),
    )
    if limits.lease_s <= rasa_timeout_s:
        # A replica still waiting for Rasa must not see its turn taken over by another one.
        raise SettingsError(
            f"BOT_LEASE ({limits.lease_s:g} s) must be longer than BOT_RASA_TIMEOUT ({rasa_timeout_s:g} s)"
        )
    if limits.max_concurrent_turns < 1 or limits.api_rate_per_client <= 0 or limits.api_rate_total <= 0:
        raise SettingsError("BOT_MAX_CONCURRENT_TURNS and the BOT_API_RATE_* limits must be above 0")
    return limits


def _smtp(env: Env, environment: str) -> SmtpSettings:
    # Development mails go to var/mail/ unless a server is named; production needs a real one.
    host = env.text("BOT_SMTP_HOST", "127.0.0.1" if environment == "production" else MAILDIR_HOST)
    if host == MAILDIR_HOST and environment == "production":
        raise SettingsError("BOT_SMTP_HOST=maildir is for development; set a mail server in production")
    return SmtpSettings(
        host=host,
        port=env.integer("BOT_SMTP_PORT", 1025),
        sender=env.text("BOT_SMTP_FROM", SmtpSettings.sender),
        user=env.text("BOT_SMTP_USER"),
        password=env.secret("BOT_SMTP_PASSWORD"),
        starttls=env.switched_on("BOT_SMTP_STARTTLS"),
    )


def _records(env: Env) -> RecordsSettings:
    backend = env.text("BOT_RECORDS_BACKEND", "sql").lower()
    if backend not in RECORDS_BACKENDS:
        raise SettingsError(f"BOT_RECORDS_BACKEND must be sql or http, got {backend!r}")
    url = env.text("BOT_RECORDS_URL")
    if backend == "http" and not url:
        raise SettingsError("BOT_RECORDS_URL must be set when BOT_RECORDS_BACKEND=http")
    timeout_s = env.number("BOT_RECORDS_TIMEOUT", 2.5)
    if not 0 < timeout_s <= MAX_RECORDS_TIMEOUT_S:
        raise SettingsError(f"BOT_RECORDS_TIMEOUT must be above 0 and at most {MAX_RECORDS_TIMEOUT_S} s")
    return RecordsSettings(backend=backend, url=url, token=env.text("BOT_RECORDS_TOKEN"), timeout_s=timeout_s)


def _slack(env: Env) -> SlackSettings:
    slack = SlackSettings(
        bot_token=env.text("BOT_SLACK_BOT_TOKEN"),
        signing_secret=env.text("BOT_SLACK_SIGNING_SECRET"),
        app_token=env.text("BOT_SLACK_APP_TOKEN"),
        agents_channel=env.text("BOT_SLACK_AGENTS_CHANNEL"),
        api_url=env.text("BOT_SLACK_API_URL", DEFAULT_SLACK_API_URL),
        customers=not env.switched_off("BOT_SLACK_CUSTOMERS"),
    )
    if slack.bot_token and not slack.agents_channel:
        raise SettingsError("BOT_SLACK_AGENTS_CHANNEL must be set when BOT_SLACK_BOT_TOKEN is set")
    if slack.bot_token and not (slack.signing_secret or slack.app_token):
        raise SettingsError("BOT_SLACK_SIGNING_SECRET or BOT_SLACK_APP_TOKEN must be set with BOT_SLACK_BOT_TOKEN")
    return slack


def _telegram(env: Env) -> TelegramSettings:
    telegram = TelegramSettings(
        bot_token=env.text("BOT_TELEGRAM_BOT_TOKEN"),
        mode=env.text("BOT_TELEGRAM_MODE", "webhook").lower(),
        webhook_secret=env.text("BOT_TELEGRAM_WEBHOOK_SECRET"),
        webhook_url=env.text("BOT_TELEGRAM_WEBHOOK_URL"),
        api_url=env.text("BOT_TELEGRAM_API_URL", DEFAULT_TELEGRAM_API_URL),
    )
    if telegram.mode not in ("webhook", "polling"):
        raise SettingsError(f"BOT_TELEGRAM_MODE must be webhook or polling, got {telegram.mode!r}")
    if telegram.webhook_secret and not _TELEGRAM_SECRET.fullmatch(telegram.webhook_secret):
        raise SettingsError("BOT_TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
    if telegram.bot_token and telegram.mode == "webhook" and not telegram.webhook_secret:
        raise SettingsError("BOT_TELEGRAM_WEBHOOK_SECRET must be set when BOT_TELEGRAM_MODE=webhook")
    return telegram


def _metrics(env: Env, environment: str) -> MetricsSettings:
    # No token in production: /metrics is closed rather than open to whoever reaches the gateway.
    return MetricsSettings(token=env.text("BOT_METRICS_TOKEN"), open_without_token=environment != "production")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: the process environment).

    Raises:
        SettingsError: a variable is malformed, or a token is missing in production.
    """
    reader = Env(os.environ if env is None else env)
    environment = reader.text("BOT_ENV", "development")
    if environment not in ENVIRONMENTS:
        raise SettingsError(f"BOT_ENV must be development, production or test, got {environment!r}")
    paths = _paths(reader)
    tokens, generated = _tokens(reader, environment, paths.var_dir)
    dialogue = _dialogue(reader, tokens, paths)
    return Settings(
        environment=environment,
        log_level=reader.text("BOT_LOG_LEVEL", "INFO").upper(),
        database_url=reader.text("BOT_DATABASE_URL", f"sqlite:///{paths.var_dir / 'bot.db'}"),
        paths=paths,
        gateway=_gateway(reader, tokens),
        dialogue=dialogue,
        limits=_limits(reader, dialogue.timeout_s),
        identity=IdentitySettings(
            secret=tokens["BOT_IDENTITY_SECRET"], link_idle_days=reader.integer("BOT_LINK_IDLE_DAYS", 30)
        ),
        smtp=_smtp(reader, environment),
        records=_records(reader),
        slack=_slack(reader),
        telegram=_telegram(reader),
        metrics=_metrics(reader, environment),
        services=_services(reader),
        generated_tokens=tuple(generated),
    )
