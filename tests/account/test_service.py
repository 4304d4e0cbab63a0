"""Self-service wording and checks (pure), and the codes that prove a new email address or number."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.account import service
from bot.account.contact import ContactVerification, SmsFolder, load_contact_texts
from bot.db.demo_types import DataFileError
from bot.db.models import ContactChange
from bot.identity.mailer import MailError
from bot.records.model import OrderInfo, OrderLine, RefundInfo, ServiceResult
from bot.records.policy import add_working_days, load_policy
from bot.settings import PROJECT_ROOT
from tests.orders import add_customer

POLICY = load_policy(PROJECT_ROOT / "data")
TODAY = dt.date(2026, 11, 23)
DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))


def order(status: str, delivered: dt.date | None = None) -> OrderInfo:
    return OrderInfo(
        number="104512",
        status=status,
        placed_at=dt.date(2026, 11, 2),
        total_cents=12999,
        currency="EUR",
        carrier=None,
        tracking_number=None,
        shipped_at=None,
        delivered_at=delivered,
        lines=(OrderLine("NR-AX3000-EU", "Nimbus Velo AX3000", 1),),
    )


def filled(response: str, values: dict[str, str]) -> str:
    """The domain response's text with its placeholders filled (fails on a missing value)."""
    assert response in DOMAIN["responses"], response
    return str(DOMAIN["responses"][response][0]["text"]).format(**values)


# -- what the form asks and checks --------------------------------------------------------------


def test_every_request_intent_has_a_form_and_every_kind_asks_for_confirmation_or_is_read_only() -> None:
    assert set(service.KIND_OF_INTENT.values()) == set(service.FORM_SLOTS)
    assert set(service.KIND_OF_INTENT) <= set(DOMAIN["intents"])
    for kind, slots in service.FORM_SLOTS.items():
        assert slots[-1] == "ss_confirm" or kind == "refund_status", kind
        assert set(slots) <= set(DOMAIN["forms"]["service_form"]["required_slots"])


def test_keys_are_unique_and_name_their_kind() -> None:
    first, second = service.new_key("cancel_order"), service.new_key("cancel_order")
    assert first != second and len(first) <= 64
    assert service.kind_of_key(first) == "cancel_order"
    assert service.kind_of_key("cancel_order-xyz") is None
    assert service.kind_of_key(f"drop_tables-{'0' * 32}") is None


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("change my email to Anna.K@example.org please", ("email", "Anna.K@example.org")),
        ("new number +49 151 2345678", ("phone", "+49 151 2345678")),
        ("my mobile changed", None),
        ("order 104512", None),
    ],
)
def test_contacts_are_found_in_a_message(text: str, found: tuple[str, str] | None) -> None:
    assert service.find_contact(text) == found


def test_contacts_are_masked() -> None:
    assert service.mask_contact("email", "anna.k@example.org") == "a•••@example.org"
    assert service.mask_contact("phone", "+491512345678") == "•••5678"


@pytest.mark.parametrize(
    ("words", "code"),
    [
        ("It's faulty or damaged", "faulty"),
        ("the screen is broken", "faulty"),
        ("you sent me the wrong one", "wrong_item"),
        ("I changed my mind", "changed_mind"),
        ("Another reason", "other"),
        ("meh", "other"),
    ],
)
def test_return_reasons(words: str, code: str) -> None:
    assert service.reason_code(words, POLICY) == code


def test_eligibility_before_anything_else_is_asked() -> None:
    assert service.eligibility("cancel_order", order("processing"), TODAY, POLICY) is None
    assert service.eligibility("cancel_order", order("shipped"), TODAY, POLICY).response == (  # type: ignore[union-attr]
        "utter_cancel_refused_shipped"
    )
    delivered = TODAY - dt.timedelta(days=POLICY.return_window_days)
    assert service.eligibility("start_return", order("delivered", delivered), TODAY, POLICY) is None
    late = service.eligibility("start_return", order("delivered", delivered - dt.timedelta(days=1)), TODAY, POLICY)
    assert late is not None and late.response == "utter_return_refused_window"
    assert late.values["deadline"] == "22 Nov 2026"
    assert service.eligibility("change_address", order("cancelled"), TODAY, POLICY).response == (  # type: ignore[union-attr]
        "utter_service_order_closed"
    )


# -- what the customer is told ----------------------------------------------------------------


def test_every_kind_has_a_confirmation_and_an_outcome_that_fill_their_placeholders() -> None:
    refund = RefundInfo("104512", "pending", 12999, "EUR", "paypal", add_working_days(TODAY, 2), None)
    for kind in service.FORM_SLOTS:
        if kind == "refund_status":
            continue
        question = service.confirm_question(kind, POLICY, order=order("processing"), reason="faulty", address="X 1, 1")
        filled(question.response, question.values)
        outcome = "pending" if kind == "account_deletion" else "done"
        for reason in (None, "unchanged") if kind not in ("cancel_order", "start_return") else (None,):
            result = ServiceResult(kind, outcome, reason, order_number="104512", reference="R1", refund=refund)
            told = service.outcome(result, POLICY, "http://bot.example")
            filled(told.response, told.values)
        repeated = service.outcome(ServiceResult(kind, outcome, repeated=True), POLICY, "http://bot.example")
        assert "already taken care of" in filled(repeated.response, repeated.values)


def test_a_cancellation_names_amount_method_and_date() -> None:
    refund = RefundInfo("104512", "pending", 12999, "EUR", "klarna", dt.date(2026, 11, 25), None)
    told = service.outcome(
        ServiceResult("cancel_order", "done", order_number="104512", refund=refund), POLICY, "http://bot"
    )
    text = filled(told.response, told.values)
    assert "€129.99 goes back to your Klarna" in text and "25 Nov 2026" in text


def test_a_return_links_its_label_on_the_gateway() -> None:
    result = ServiceResult(
        "start_return", "done", order_number="104512", reference="RABC", label_url="/returns/RABC/label"
    )
    told = service.outcome(result, POLICY, "http://bot.example/")
    assert told.values["label"] == "http://bot.example/returns/RABC/label"


@pytest.mark.parametrize(
    ("kind", "reason", "response"),
    [
        ("cancel_order", "shipped", "utter_cancel_refused_shipped"),
        ("start_return", "outside_window", "utter_return_refused_window"),
        ("start_return", "not_returnable", "utter_return_refused_not_returnable"),
        ("start_return", "return_open", "utter_return_already_open"),
        ("change_address", "invalid_address", "utter_address_invalid"),
        ("update_contact", "in_use", "utter_contact_in_use"),
        ("marketing_opt_out", "not_found", "utter_service_refused"),
    ],
)
def test_refusals_say_why(kind: str, reason: str, response: str) -> None:
    told = service.outcome(ServiceResult(kind, "refused", reason, order_number="104512"), POLICY, "http://bot")
    assert told.response == response
    filled(told.response, told.values)


@pytest.mark.parametrize("status", ["none", "awaiting_return", "pending", "issued"])
def test_each_refund_status_is_told(status: str) -> None:
    refund = RefundInfo("104512", status, 12999, "EUR", "card", TODAY, TODAY if status == "issued" else None)
    told = service.refund_status(order("returned"), refund, POLICY)
    assert "104512" in filled(told.response, told.values)


# -- the policy file --------------------------------------------------------------------------------


def test_a_broken_policy_is_refused_with_file_and_line(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "data" / "records" / "policy.yml").read_text(encoding="utf-8")
    (tmp_path / "records").mkdir()
    broken = text.replace("return_window_days: 30", "return_window_days: thirty")
    (tmp_path / "records" / "policy.yml").write_text(broken, encoding="utf-8")
    with pytest.raises(DataFileError) as error:
        load_policy(tmp_path)
    line = broken.splitlines().index("return_window_days: thirty") + 1
    assert error.value.line == line and "return_window_days" in str(error.value)
    (tmp_path / "records" / "policy.yml").write_text(text.replace("{rma}", "{id}"), encoding="utf-8")
    with pytest.raises(DataFileError, match=r"\{rma\}"):
        load_policy(tmp_path)
    (tmp_path / "records" / "policy.yml").write_text(text + "\nreturn_window_days: 14\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="duplicate key"):
        load_policy(tmp_path)


# -- codes for a new email address or phone number -----------------------------------------------


class Outbox:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail = fail

    def send(self, to: str, subject: str, body: str) -> None:
        if self.fail:
            raise MailError("down")
        self.sent.append((to, body))


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 5, 9, 0)

    def __call__(self) -> dt.datetime:
        return self.now


def verification(engine: Engine, mail: Outbox, tmp_path: Path, clock: Clock) -> ContactVerification:
    texts = load_contact_texts(PROJECT_ROOT / "data" / "texts.yml")
    return ContactVerification(engine, "secret", mail, SmsFolder(tmp_path / "sms"), texts, now=clock)


def code_in(body: str) -> str:
    return next(word for word in body.replace(":", " ").split() if word.isdigit() and len(word) == 6)


def test_a_new_email_is_handed_over_once_after_the_right_code(migrated_engine: Engine, tmp_path: Path) -> None:
    customer, _ = add_customer(migrated_engine)
    mail, clock = Outbox(), Clock()
    codes = verification(migrated_engine, mail, tmp_path, clock)
    assert codes.start(customer, "email", "not an address") == "invalid"
    assert codes.start(customer, "email", "anna.new@example.org") == "sent"
    [(to, body)] = mail.sent
    code = code_in(body)
    assert to == "anna.new@example.org"
    assert codes.take(customer) is None  # not before the code
    wrong = "000000" if code != "000000" else "111111"
    assert codes.verify(customer, wrong).status == "wrong"
    assert codes.verify(customer, "12").status == "invalid"
    assert codes.verify(customer, code).status == "ok"
    assert codes.take(customer) == ("email", "anna.new@example.org")
    assert codes.take(customer) is None  # once
    with migrated_engine.connect() as connection:
        kept = connection.execute(select(ContactChange.new_value, ContactChange.code_hash)).all()
    assert all(value == "" and code not in digest for value, digest in kept)


def test_codes_expire_void_each_other_and_are_limited(migrated_engine: Engine, tmp_path: Path) -> None:
    customer, _ = add_customer(migrated_engine)
    mail, clock = Outbox(), Clock()
    codes = verification(migrated_engine, mail, tmp_path, clock)
    codes.start(customer, "email", "first@example.org")
    first = code_in(mail.sent[-1][1])
    codes.start(customer, "phone", "+31 6 2345 6789")
    sms = (next((tmp_path / "sms").glob("*.sms"))).read_text(encoding="utf-8")
    assert sms.startswith("To: +31623456789")
    assert codes.verify(customer, first).status in ("wrong", "expired")  # replaced by the SMS code
    assert codes.start(customer, "email", "third@example.org") == "sent"
    assert codes.start(customer, "email", "fourth@example.org") == "too_many"
    clock.now += dt.timedelta(minutes=11)
    assert codes.verify(customer, code_in(mail.sent[-1][1])).status == "expired"
    assert codes.start(customer, "email", "fifth@example.org") == "sent"
    for _ in range(5):
        result = codes.verify(customer, "999999" if code_in(mail.sent[-1][1]) != "999999" else "888888")
    assert result.status == "expired"  # five wrong codes void it
    assert codes.verify(customer, code_in(mail.sent[-1][1])).status == "expired"


def test_a_code_that_cannot_be_sent_says_so(migrated_engine: Engine, tmp_path: Path) -> None:
    customer, _ = add_customer(migrated_engine)
    codes = verification(migrated_engine, Outbox(fail=True), tmp_path, Clock())
    assert codes.start(customer, "email", "anna@example.org") == "send_failed"


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("please send order 190160 to Lindenstraße 12, 10969 Berlin instead", "Lindenstraße 12, 10969 Berlin"),
        ("sorry, wrong postcode: Lindenstraße 12, 10967 Berlin", "Lindenstraße 12, 10967 Berlin"),
        ("new address is am kupfergraben 6, 10117 berlin", "am kupfergraben 6, 10117 berlin"),
        ("where is my order 190160, it has 2 items", None),
        ("change the address of my order", None),
    ],
)
def test_an_address_inside_a_sentence_is_found_without_the_words_around_it(text: str, address: str | None) -> None:
    assert service.find_address(text) == address
