"""The action server's composition root: its services, built once and lazily from the settings.

Rasa's action server creates every ``Action`` with no arguments, so the actions reach their
collaborators through the functions below, which read the :class:`Services` in use: by
default one built from the ``BOT_*`` environment on first use. Tests build their own on a
temporary database and install it with :func:`use`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

from sqlalchemy.engine import Engine

from bot.account.contact import ContactVerification, SmsFolder, load_contact_texts
from bot.analytics.events import EventSink, SqlEventSink
from bot.catalog.answers import ProductAnswers
from bot.db.engine import create_db_engine
from bot.diagnostics import DiagnosticTree, load_guides
from bot.diagnostics.saved import SavedGuides
from bot.handoff.config import HandoffConfig, load_handoff_config
from bot.handoff.hours import BusinessHours, load_hours
from bot.handoff.lookup import HandoffLookup
from bot.handoff.requests import HandoffRequests
from bot.handoff.routing import load_routing
from bot.help import HelpIndex, SearchSettings, load_help_center
from bot.help.feedback import HelpAnswers
from bot.help.replies import HelpReplies
from bot.help.texts import load_help_texts
from bot.identity.linking import LinkingService
from bot.identity.wiring import build_linking, build_mailer
from bot.nlp.help_model import load_help_index
from bot.records import RecordsBackend, build_records
from bot.records.policy import Policy, load_policy
from bot.settings import Settings, load_settings


class Services:
    """What the actions use, each part built from its settings section on first use."""

    def __init__(self, settings: Settings) -> None:
        """Build nothing yet: the first action that needs a part builds it."""
        self.settings = settings

    @functools.cached_property
    def engine(self) -> Engine:
        """The project database (one engine per process)."""
        return create_db_engine(self.settings.database_url)

    @functools.cached_property
    def handoff_requests(self) -> HandoffRequests:
        """Opening handoffs (each in its queue of ``data/routing.yml``) and storing CSAT scores."""
        return HandoffRequests(self.engine, load_routing(self.settings.paths.data_dir / "routing.yml"))

    @functools.cached_property
    def handoff_lookup(self) -> HandoffLookup:
        """A customer's conversations across channels (``bot.handoff.lookup``)."""
        return HandoffLookup(self.engine)

    @functools.cached_property
    def analytics(self) -> EventSink:
        """Where outcome events go (the ``analytics_events`` table; docs/analytics.md)."""
        return SqlEventSink(self.engine)

    @functools.cached_property
    def guides(self) -> dict[str, DiagnosticTree]:
        """The troubleshooting guides of ``data/diagnostics`` (validated by ``bot validate``)."""
        return load_guides(self.settings.paths.data_dir / "diagnostics")

    @functools.cached_property
    def saved_guides(self) -> SavedGuides:
        """Guides verified customers left paused, resumable on their other channels (``customer_guides``)."""
        return SavedGuides(self.engine)

    @functools.cached_property
    def product_answers(self) -> ProductAnswers:
        """Answers to product questions, from ``data/catalog`` and the texts in ``data/texts.yml``."""
        return ProductAnswers.load(self.settings.paths.data_dir)

    @functools.cached_property
    def records(self) -> RecordsBackend:
        """The customer-records backend the settings choose (SQL or the HTTP records API)."""
        return build_records(self.settings.records, self.engine, self.policy)

    @functools.cached_property
    def policy(self) -> Policy:
        """The self-service rules (``data/records/policy.yml``)."""
        return load_policy(self.settings.paths.data_dir)

    @functools.cached_property
    def contact_verification(self) -> ContactVerification:
        """Codes proving a new email address (mailed) or phone number (SMS; ``var/sms`` in development)."""
        paths = self.settings.paths
        return ContactVerification(
            self.engine,
            self.settings.identity.secret,
            build_mailer(self.settings.smtp, paths),
            SmsFolder(paths.var_dir / "sms"),
            load_contact_texts(paths.data_dir / "texts.yml"),
        )

    @functools.cached_property
    def linking(self) -> LinkingService:
        """Account linking by emailed one-time codes."""
        return build_linking(self.engine, self.settings.identity, self.settings.smtp, self.settings.paths)

    @functools.cached_property
    def handoff_config(self) -> HandoffConfig:
        """Handoff triggers from ``data/handoff.yml`` (validated by ``bot validate``)."""
        return load_handoff_config(self.settings.paths.data_dir / "handoff.yml")

    @functools.cached_property
    def business_hours(self) -> BusinessHours:
        """The support team's hours (``data/business_hours.yml``)."""
        return load_hours(self.settings.paths.data_dir / "business_hours.yml")

    @functools.cached_property
    def help_index(self) -> HelpIndex:
        """Search over the help center's sections (its tuned encoder from models/help, trained there if missing).

        The articles' product references were checked by ``bot validate``; the catalog is not read again here.
        """
        data_dir = self.settings.paths.data_dir
        return load_help_index(
            load_help_center(data_dir / "help"),
            self.settings.paths.models_dir / "help",
            SearchSettings.load(data_dir / "help" / "search.yml"),
        )

    @functools.cached_property
    def help_replies(self) -> HelpReplies:
        """Help-center replies worded with the ``help:`` texts, linking to the gateway's article pages."""
        base = f"{self.settings.gateway.url}/help/"
        return HelpReplies(load_help_texts(self.settings.paths.data_dir / "texts.yml"), lambda article: base + article)

    @functools.cached_property
    def help_answers(self) -> HelpAnswers:
        """The record of help replies and their feedback."""
        return HelpAnswers(self.engine)

    def close(self) -> None:
        """Release the database connections (if the engine was ever built)."""
        if "engine" in self.__dict__:
            self.engine.dispose()


_in_use: list[Services] = []


def current() -> Services:
    """The services in use (built from the environment the first time)."""
    if not _in_use:
        _in_use.append(Services(load_settings()))
    return _in_use[-1]


@contextlib.contextmanager
def use(services: Services) -> Iterator[Services]:
    """Make the actions use ``services`` for the block (tests)."""
    _in_use.append(services)
    try:
        yield services
    finally:
        _in_use.remove(services)


def turn_secret() -> str:
    """``BOT_TURN_SECRET``: what the gateway signs each message's identity with (actions/context.py)."""
    return current().settings.dialogue.turn_secret


def engine() -> Engine:
    """The project database."""
    return current().engine


def handoff_lookup() -> HandoffLookup:
    """A customer's conversations across channels, for the handoff packet."""
    return current().handoff_lookup


def handoff_requests() -> HandoffRequests:
    """Opening handoffs and storing CSAT scores."""
    return current().handoff_requests


def analytics() -> EventSink:
    """Where outcome events go."""
    return current().analytics


def guides() -> dict[str, DiagnosticTree]:
    """The troubleshooting guides."""
    return current().guides


def saved_guides() -> SavedGuides:
    """Guides verified customers left paused, resumable on their other channels."""
    return current().saved_guides


def product_answers() -> ProductAnswers:
    """Answers to product questions."""
    return current().product_answers


def records() -> RecordsBackend:
    """The customer-records backend."""
    return current().records


def linking() -> LinkingService:
    """Account linking by emailed one-time codes."""
    return current().linking


def policy() -> Policy:
    """The self-service rules."""
    return current().policy


def contact_verification() -> ContactVerification:
    """Codes proving a new email address or phone number."""
    return current().contact_verification


def gateway_url() -> str:
    """The gateway's public address (return labels and help pages live there)."""
    return current().settings.gateway.url


def handoff_config() -> HandoffConfig:
    """Handoff triggers from ``data/handoff.yml``."""
    return current().handoff_config


def business_hours() -> BusinessHours:
    """The support team's hours."""
    return current().business_hours


def help_index() -> HelpIndex:
    """Search over the help center."""
    return current().help_index


def help_replies() -> HelpReplies:
    """Help-center replies."""
    return current().help_replies


def help_answers() -> HelpAnswers:
    """The record of help replies and their feedback."""
    return current().help_answers
