"""Composition of the identity services from settings (the one place that reads them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.db.models import Customer
from bot.identity.linking import LinkingService
from bot.identity.mailer import MaildirMailer, Mailer, SmtpMailer
from bot.identity.texts import load_link_texts
from bot.settings import IdentitySettings, Paths, SmtpSettings


def email_lookup(engine: Engine) -> Callable[[str], str | None]:
    """Return a function mapping an email address to the customer id on file (case-insensitive)."""

    def lookup(email: str) -> str | None:
        address = email.strip().lower()
        if not address:
            return None
        with engine.connect() as connection:
            found = connection.execute(
                select(Customer.id).where(func.lower(Customer.email) == address).limit(1)
            ).scalar_one_or_none()
        return str(found) if found is not None else None

    return lookup


def build_mailer(smtp: SmtpSettings, paths: Paths) -> Mailer:
    """The mailer the settings choose: SMTP, or the development mail folder ``var/mail``."""
    if smtp.uses_maildir:
        return MaildirMailer(paths.var_dir / "mail", smtp.sender)
    return SmtpMailer(smtp.host, smtp.port, smtp.sender, user=smtp.user, password=smtp.password, starttls=smtp.starttls)


def build_linking(engine: Engine, identity: IdentitySettings, smtp: SmtpSettings, paths: Paths) -> LinkingService:
    """Build the account-linking service: a mailer from ``smtp``, email texts, lookup on ``customers``.

    Raises:
        TextsError: ``data/texts.yml`` lacks a valid ``identity:`` mapping.
        ValueError: the identity secret is empty.
    """
    return LinkingService(
        engine,
        identity.secret,
        build_mailer(smtp, paths),
        email_lookup(engine),
        texts=load_link_texts(paths.data_dir / "texts.yml"),
        link_idle=dt.timedelta(days=identity.link_idle_days),
    )
