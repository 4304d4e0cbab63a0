"""Customer identity: signed customer tokens, and account linking by a one-time email code.

Linking runs on a migrated database holding the demo data (SQLite and PostgreSQL) and
sends real email through smtplib to a local aiosmtpd server.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import jwt
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.db.models import ChannelIdentity, LinkCode
from bot.identity import (
    LinkingService,
    SmtpMailer,
    build_linking,
    email_lookup,
    load_link_texts,
    mint_customer_token,
    normalize_code,
    verify_customer_token,
)
from bot.identity.mailer import MailError
from bot.settings import IdentitySettings, Settings
from bot.texts import TextsError
from tests.db_fixtures import DATA_DIR
from tests.helpers import free_port
from tests.mail import MailSink, smtp_server

SECRET = "identity-secret-for-tests-" + "0123456789abcdef" * 3
NOW = 1_800_000_000.0
KNOWN_EMAIL = "anna.schmidt30@example.com"
KNOWN_ID = "C1001"
UNKNOWN_EMAIL = "nobody.here@example.net"


# -- tokens ----------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _hand_made(header: dict[str, Any], payload: dict[str, Any], secret: str | None = SECRET) -> str:
    """A JWT built by hand; signed with HMAC-SHA256 unless ``secret`` is None (empty signature)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    if secret is None:
        return f"{signing_input}."
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def test_a_minted_token_verifies() -> None:
    token = mint_customer_token(KNOWN_ID, SECRET, now=NOW)
    assert verify_customer_token(token, SECRET, now=NOW + 10) == KNOWN_ID
    assert verify_customer_token(mint_customer_token(KNOWN_ID, SECRET), SECRET) == KNOWN_ID
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_a_hand_made_hs256_token_verifies() -> None:
    token = _hand_made({"alg": "HS256", "typ": "JWT"}, {"sub": KNOWN_ID, "exp": int(NOW) + 60})
    assert verify_customer_token(token, SECRET, now=NOW) == KNOWN_ID


def test_forged_signature_and_wrong_secret_are_refused() -> None:
    token = mint_customer_token(KNOWN_ID, SECRET, now=NOW)
    head, payload, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")
    assert verify_customer_token(f"{head}.{payload}.{flipped}", SECRET, now=NOW) is None
    other_payload = _b64(json.dumps({"sub": "C1002", "exp": int(NOW) + 60}).encode())
    assert verify_customer_token(f"{head}.{other_payload}.{signature}", SECRET, now=NOW) is None
    assert verify_customer_token(token, "another-secret-of-sufficient-length-42", now=NOW) is None
    assert verify_customer_token(token, "", now=NOW) is None


def test_expiry_is_enforced_with_leeway() -> None:
    token = mint_customer_token(KNOWN_ID, SECRET, ttl_s=60, now=NOW)
    assert verify_customer_token(token, SECRET, now=NOW + 60 + 29) == KNOWN_ID
    assert verify_customer_token(token, SECRET, now=NOW + 60 + 31) is None
    assert verify_customer_token(token, SECRET, now=NOW + 60 + 31, leeway_s=60) == KNOWN_ID
    stale = mint_customer_token(KNOWN_ID, SECRET, ttl_s=60, now=time.time() - 3600)
    assert verify_customer_token(stale, SECRET) is None


@pytest.mark.parametrize(
    "payload",
    [
        {"sub": KNOWN_ID},
        {"exp": int(NOW) + 60},
        {"sub": "", "exp": int(NOW) + 60},
        {"sub": "   ", "exp": int(NOW) + 60},
        {"sub": 1001, "exp": int(NOW) + 60},
        {"sub": KNOWN_ID, "exp": "tomorrow"},
        {"sub": KNOWN_ID, "exp": int(NOW) + 60, "nbf": int(NOW) + 600},
    ],
    ids=["no-exp", "no-sub", "empty-sub", "blank-sub", "int-sub", "string-exp", "not-yet-valid"],
)
def test_claims_must_be_complete_and_well_typed(payload: dict[str, Any]) -> None:
    assert verify_customer_token(_hand_made({"alg": "HS256", "typ": "JWT"}, payload), SECRET, now=NOW) is None


def test_unsigned_alg_none_is_refused() -> None:
    payload = {"sub": KNOWN_ID, "exp": int(NOW) + 60}
    assert verify_customer_token(_hand_made({"alg": "none", "typ": "JWT"}, payload, None), SECRET, now=NOW) is None
    assert verify_customer_token(_hand_made({"alg": "None"}, payload, None), SECRET, now=NOW) is None
    # A real signature does not help when the header says none.
    assert verify_customer_token(_hand_made({"alg": "none"}, payload), SECRET, now=NOW) is None


def test_other_algorithms_are_refused() -> None:
    payload = {"sub": KNOWN_ID, "exp": int(NOW) + 60}
    hs512 = jwt.encode(payload, SECRET, algorithm="HS512")
    assert verify_customer_token(hs512, SECRET, now=NOW) is None
    # An RS256 header over an HMAC signature made with the shared secret (key confusion).
    assert verify_customer_token(_hand_made({"alg": "RS256", "typ": "JWT"}, payload), SECRET, now=NOW) is None


@pytest.mark.parametrize(
    "token",
    [None, "", "garbage", "a.b.c", "a.b", "....", "eyJhbGciOiJIUzI1NiJ9.e30", "\x00\xff", "é.é.é"],
)
def test_garbage_is_refused(token: str | None) -> None:
    assert verify_customer_token(token, SECRET, now=NOW) is None


def test_tokens_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    good = mint_customer_token(KNOWN_ID, SECRET, now=NOW)
    forged = good[:-4] + "AAAA"
    verify_customer_token(good, SECRET, now=NOW)
    verify_customer_token(forged, SECRET, now=NOW)
    logged = caplog.text
    assert good not in logged and forged not in logged and good.split(".")[1] not in logged
    assert "identity.token_rejected" in logged


def test_minting_needs_an_id_and_a_secret() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        mint_customer_token("", SECRET)
    with pytest.raises(ValueError, match="must not be empty"):
        mint_customer_token(KNOWN_ID, "")


# -- linking fixtures ------------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[MailSink]:
    """A real SMTP server on a free local port, keeping every message."""
    with smtp_server() as sink:
        yield sink


class Clock:
    """A settable clock returning naive UTC."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 23, 10, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _service(engine: Engine, port: int, clock: Clock) -> LinkingService:
    return LinkingService(
        engine,
        SECRET,
        SmtpMailer("127.0.0.1", port, "Nimbus Support <support@nimbus.example>", timeout_s=5),
        email_lookup(engine),
        now=clock,
        texts=load_link_texts(DATA_DIR / "texts.yml"),
    )


@pytest.fixture
def linking(seeded_engine: Engine, smtp: MailSink, clock: Clock) -> LinkingService:
    return _service(seeded_engine, smtp.port, clock)


def _code_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(LinkCode)).scalar_one())


# -- linking ---------------------------------------------------------------------------------


def test_code_arrives_by_email_and_links(
    linking: LinkingService, smtp: MailSink, seeded_engine: Engine, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    started = linking.start("telegram", "4711", KNOWN_EMAIL)
    assert (started.status, started.locked_until, started.minutes_valid) == ("sent", None, 10)
    assert smtp.recipients == [[KNOWN_EMAIL]]
    message = smtp.messages[0]
    assert message["Subject"] == "Your Nimbus Support verification code"
    assert "support@nimbus.example" in message["From"]
    code = smtp.code()
    assert re.fullmatch(r"\d{6}", code)
    with seeded_engine.connect() as connection:
        stored = connection.execute(select(LinkCode.code_hash, LinkCode.customer_id)).one()
    assert code not in stored.code_hash and len(stored.code_hash) == 64 and stored.customer_id == KNOWN_ID

    clock.advance(minutes=3)
    result = linking.verify("telegram", "4711", f" {code[:3]}-{code[3:]} ")
    assert (result.status, result.customer_id) == ("linked", KNOWN_ID)
    assert linking.linked_customer("telegram", "4711") == KNOWN_ID
    with seeded_engine.connect() as connection:
        identity = connection.execute(select(ChannelIdentity).where(ChannelIdentity.external_id == "4711")).one()
    assert identity.linked_at == clock.now and identity.channel == "telegram"

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "identity.code_started" in logged and "identity.linked" in logged
    for secret_value in (code, KNOWN_EMAIL, KNOWN_EMAIL.split("@")[0], KNOWN_ID, "4711", SECRET):
        assert secret_value not in logged


def test_addresses_are_matched_case_insensitively(linking: LinkingService, smtp: MailSink) -> None:
    assert linking.start("web", "visitor-1", "  Anna.Schmidt30@EXAMPLE.com ").status == "sent"
    assert len(smtp.messages) == 1
    assert linking.verify("web", "visitor-1", smtp.code()).customer_id == KNOWN_ID


def test_unknown_address_looks_the_same_and_sends_nothing(
    linking: LinkingService, smtp: MailSink, seeded_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    known = linking.start("web", "visitor-known", KNOWN_EMAIL)
    unknown = linking.start("web", "visitor-unknown", UNKNOWN_EMAIL)
    assert unknown == known
    assert len(smtp.messages) == 1
    assert _code_rows(seeded_engine) == 2
    # Every guess fails the same way as a wrong code for a known address.
    for guess in ("000000", "123456"):
        assert linking.verify("web", "visitor-unknown", guess).status == "wrong"
    assert linking.linked_customer("web", "visitor-unknown") is None
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert UNKNOWN_EMAIL not in logged and "nobody" not in logged


def test_not_an_address_is_refused_without_storing(linking: LinkingService, seeded_engine: Engine) -> None:
    assert linking.start("web", "v", "not an email").status == "invalid_email"
    assert _code_rows(seeded_engine) == 0


def test_wrong_codes_count_down_and_lock_even_the_right_code(
    linking: LinkingService, smtp: MailSink, clock: Clock
) -> None:
    linking.start("slack", "U1", KNOWN_EMAIL)
    code = smtp.code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    tries = [linking.verify("slack", "U1", wrong) for _ in range(4)]
    assert [(r.status, r.tries_left) for r in tries] == [("wrong", 4), ("wrong", 3), ("wrong", 2), ("wrong", 1)]
    fifth = linking.verify("slack", "U1", wrong)
    assert fifth.status == "locked" and fifth.locked_until == clock.now + dt.timedelta(minutes=15)
    assert fifth.wait_minutes(clock.now) == 15
    clock.advance(minutes=1)
    refused = linking.verify("slack", "U1", code)
    assert refused.status == "locked" and refused.customer_id is None
    assert linking.start("slack", "U1", KNOWN_EMAIL).status == "locked"
    assert linking.linked_customer("slack", "U1") is None
    # Another identity is not affected.
    assert linking.verify("slack", "U2", code).status == "no_code"


def test_lock_ends_after_15_minutes(linking: LinkingService, smtp: MailSink, clock: Clock) -> None:
    linking.start("slack", "U1", KNOWN_EMAIL)
    for _ in range(5):
        linking.verify("slack", "U1", "999999" if smtp.code() != "999999" else "888888")
    clock.advance(minutes=14, seconds=59)
    assert linking.verify("slack", "U1", "000000").status == "locked"
    clock.advance(seconds=2)
    started = linking.start("slack", "U1", KNOWN_EMAIL)
    assert started.status == "sent"
    fresh = linking.verify("slack", "U1", smtp.code())
    assert (fresh.status, fresh.customer_id) == ("linked", KNOWN_ID)


def test_malformed_input_is_not_counted(linking: LinkingService, smtp: MailSink) -> None:
    linking.start("web", "v", KNOWN_EMAIL)
    for typed in ("12345", "1234567", "abcdef", "", "12 34 5x"):
        result = linking.verify("web", "v", typed)
        assert (result.status, result.tries_left) == ("invalid", 5)
    assert linking.verify("web", "v", smtp.code()).status == "linked"


def test_code_expires_after_10_minutes(linking: LinkingService, smtp: MailSink, clock: Clock) -> None:
    linking.start("web", "v", KNOWN_EMAIL)
    clock.advance(minutes=10)
    assert linking.verify("web", "v", smtp.code()).status == "expired"
    assert linking.linked_customer("web", "v") is None


def test_a_used_code_cannot_be_replayed(linking: LinkingService, smtp: MailSink) -> None:
    linking.start("web", "v", KNOWN_EMAIL)
    code = smtp.code()
    assert linking.verify("web", "v", code).status == "linked"
    assert linking.unlink("web", "v") is True
    replay = linking.verify("web", "v", code)
    assert replay.status in ("no_code", "wrong") and replay.customer_id is None
    assert linking.linked_customer("web", "v") is None


def test_a_code_works_only_for_the_identity_it_was_sent_to(linking: LinkingService, smtp: MailSink) -> None:
    linking.start("web", "v1", KNOWN_EMAIL)
    linking.start("web", "v2", UNKNOWN_EMAIL)
    assert linking.verify("web", "v2", smtp.code()).status == "wrong"
    assert linking.verify("telegram", "v1", smtp.code()).status == "no_code"
    assert linking.verify("web", "v1", smtp.code()).status == "linked"


def test_a_new_code_invalidates_the_old_one(linking: LinkingService, smtp: MailSink, clock: Clock) -> None:
    linking.start("web", "v", KNOWN_EMAIL)
    first = smtp.code()
    clock.advance(minutes=1)
    linking.start("web", "v", KNOWN_EMAIL)
    second = smtp.code()
    if first != second:
        assert linking.verify("web", "v", first).status == "wrong"
    assert linking.verify("web", "v", second).status == "linked"


def test_sends_are_capped_per_identity(linking: LinkingService, smtp: MailSink, clock: Clock) -> None:
    for _ in range(3):
        assert linking.start("web", "v", KNOWN_EMAIL).status == "sent"
        clock.advance(minutes=1)
    capped = linking.start("web", "v", KNOWN_EMAIL)
    assert capped.status == "too_many"
    assert capped.locked_until == dt.datetime(2026, 11, 23, 10, 10)
    assert capped.wait_minutes(clock.now) == 7
    # The same for an unknown address: the cap reveals nothing either.
    for _ in range(3):
        linking.start("web", "w", UNKNOWN_EMAIL)
    assert linking.start("web", "w", UNKNOWN_EMAIL).status == "too_many"
    assert len(smtp.messages) == 3
    clock.now = dt.datetime(2026, 11, 23, 10, 10, 1)
    assert linking.start("web", "v", KNOWN_EMAIL).status == "sent"
    assert len(smtp.messages) == 4


def test_one_address_is_not_bombed_from_many_identities(linking: LinkingService, smtp: MailSink) -> None:
    results = {linking.start("web", f"visitor-{n}", KNOWN_EMAIL).status for n in range(10)}
    assert results == {"sent"}
    assert len(smtp.messages) == 6


def test_linked_customer_and_unlink(linking: LinkingService, smtp: MailSink, seeded_engine: Engine) -> None:
    assert linking.linked_customer("telegram", "42") is None
    assert linking.unlink("telegram", "42") is False
    linking.start("telegram", "42", "lukas.weber18@example.org")
    assert linking.verify("telegram", "42", smtp.code()).customer_id == "C1002"
    # Linking again moves the identity to the other customer.
    linking.start("telegram", "42", KNOWN_EMAIL)
    assert linking.verify("telegram", "42", smtp.code()).customer_id == KNOWN_ID
    assert linking.linked_customer("telegram", "42") == KNOWN_ID
    assert linking.unlink("telegram", "42") is True
    assert linking.linked_customer("telegram", "42") is None
    assert linking.unlink("telegram", "42") is False
    with seeded_engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(ChannelIdentity)).scalar_one() == 1


def test_mail_failure_answers_the_same_and_is_logged(
    seeded_engine: Engine, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    service = _service(seeded_engine, free_port(), clock)  # nothing listens there
    assert service.start("web", "v", KNOWN_EMAIL).status == "sent"
    assert "identity.code_mail_failed" in caplog.text and KNOWN_EMAIL not in caplog.text


def test_mailer_raises_a_safe_error() -> None:
    mailer = SmtpMailer("127.0.0.1", free_port(), "support@nimbus.example", timeout_s=2)
    with pytest.raises(MailError) as caught:
        mailer.send(KNOWN_EMAIL, "subject", "body 123456")
    assert KNOWN_EMAIL not in str(caught.value) and "123456" not in str(caught.value)


def test_build_linking_wires_settings(settings: Settings, seeded_engine: Engine, smtp: MailSink) -> None:
    smtp_settings = replace(settings.smtp, host="127.0.0.1", port=smtp.port)
    service = build_linking(seeded_engine, settings.identity, smtp_settings, settings.paths)
    assert service.start("web", "v", KNOWN_EMAIL).status == "sent"
    assert smtp.recipients == [[KNOWN_EMAIL]]
    assert service.verify("web", "v", smtp.code()).customer_id == KNOWN_ID
    with pytest.raises(ValueError, match="secret"):
        build_linking(seeded_engine, IdentitySettings(secret=""), settings.smtp, settings.paths)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("123456", "123456"), (" 123 456 ", "123456"), ("123-456", "123456"), ("12345", None), ("١٢٣٤٥٦", None)],
)
def test_normalize_code(typed: str, expected: str | None) -> None:
    assert normalize_code(typed) == expected


def test_link_texts_are_checked(tmp_path: Path) -> None:
    texts = load_link_texts(DATA_DIR / "texts.yml")
    subject, body = texts.code_email("123456", 10)
    assert "123456" in body and "10 minutes" in body and "123456" not in subject
    path = tmp_path / "texts.yml"
    path.write_text("identity:\n  code_email_subject: Code\n  code_email_body: 'valid {minutes} minutes'\n")
    with pytest.raises(TextsError, match=r"must contain \{code\}"):
        load_link_texts(path)
    path.write_text("identity:\n  code_email_subject: 'Hi {name}'\n  code_email_body: '{code}'\n")
    with pytest.raises(TextsError, match="unknown placeholder"):
        load_link_texts(path)
    path.write_text("identity:\n  code_email_body: '{code}'\n")
    with pytest.raises(TextsError, match="code_email_subject"):
        load_link_texts(path)


def test_development_mails_go_to_a_private_folder(settings: Settings, seeded_engine: Engine) -> None:
    service = build_linking(seeded_engine, settings.identity, replace(settings.smtp, host="maildir"), settings.paths)
    assert service.start("web", "v", KNOWN_EMAIL).status == "sent"
    files = list((settings.paths.var_dir / "mail").glob("*.eml"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    message = email.message_from_bytes(files[0].read_bytes())
    assert message["To"] == KNOWN_EMAIL and re.search(r"\b\d{6}\b", message.get_payload())


def test_maildir_is_refused_in_production() -> None:
    from bot.settings import SettingsError, load_settings

    names = ("BOT_API_TOKEN", "BOT_AGENT_TOKEN", "BOT_RASA_TOKEN", "BOT_IDENTITY_SECRET")
    names += ("BOT_RASA_CHANNEL_SECRET", "BOT_ACTION_TOKEN", "BOT_TURN_SECRET")
    secrets = {name: "x" * 32 for name in names}
    assert load_settings({"BOT_ENV": "production", **secrets}).smtp.host == "127.0.0.1"
    with pytest.raises(SettingsError, match="maildir"):
        load_settings({"BOT_ENV": "production", "BOT_SMTP_HOST": "maildir", **secrets})
