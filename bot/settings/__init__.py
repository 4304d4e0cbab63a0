"""Settings: read once from ``BOT_*`` environment variables into frozen, typed sections.

:func:`load_settings` returns a :class:`Settings` made of one small section per component
(:mod:`bot.settings.sections`); the composition roots (the gateway's ``create_app``, the action
server's services, the CLI) hand each component only its own section.
"""

from bot.settings.loading import RECORDS_BACKENDS, Settings, SettingsError, load_settings
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
    SlackSettings,
    SmtpSettings,
    TelegramSettings,
)

__all__ = [
    "DEFAULT_SLACK_API_URL",
    "DEFAULT_TELEGRAM_API_URL",
    "MAILDIR_HOST",
    "PROJECT_ROOT",
    "RECORDS_BACKENDS",
    "DialogueSettings",
    "GatewaySettings",
    "IdentitySettings",
    "Limits",
    "MetricsSettings",
    "Paths",
    "RecordsSettings",
    "Settings",
    "SettingsError",
    "SlackSettings",
    "SmtpSettings",
    "TelegramSettings",
    "load_settings",
]
