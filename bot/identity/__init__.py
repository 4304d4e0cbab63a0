"""Customer identity: signed customer tokens, account linking by email code, privacy export and erasure."""

from bot.identity.linking import LinkingService, LinkResult, LinkStart, normalize_code
from bot.identity.mailer import Mailer, MailError, SmtpMailer
from bot.identity.privacy import (
    CopiesNotErased,
    CustomerCopies,
    ErasureSubject,
    MailFolderCopies,
    TrackerStoreUnavailable,
    UnknownCustomer,
    erase_customer,
    export_customer,
)
from bot.identity.texts import LinkTexts, load_link_texts
from bot.identity.tokens import mint_customer_token, verify_customer_token
from bot.identity.wiring import build_linking, email_lookup

__all__ = [
    "CopiesNotErased",
    "CustomerCopies",
    "ErasureSubject",
    "LinkResult",
    "LinkStart",
    "LinkTexts",
    "LinkingService",
    "MailError",
    "MailFolderCopies",
    "Mailer",
    "SmtpMailer",
    "TrackerStoreUnavailable",
    "UnknownCustomer",
    "build_linking",
    "email_lookup",
    "erase_customer",
    "export_customer",
    "load_link_texts",
    "mint_customer_token",
    "normalize_code",
    "verify_customer_token",
]
