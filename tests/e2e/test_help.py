"""Help-center answers on the real stack: the passage, its article page, "did that help?" and its record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from bot.settings import PROJECT_ROOT
from tests.services import require
from tests.stack import RunningStack, buttons, joined, say

pytestmark = pytest.mark.e2e

ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
YES = '/help_feedback{"helpful": "yes"}'
NO = '/help_feedback{"helpful": "no"}'


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def help_rows(stack: RunningStack, conversation: str) -> list[tuple[str, str | None, bool | None]]:
    url = stack.database_url
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT decision, section_id, helpful FROM help_answers WHERE conversation_id = :c ORDER BY id"
                ),
                {"c": conversation},
            ).all()
        return [(r[0], r[1], None if r[2] is None else bool(r[2])) for r in rows]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("question", "article"),
    [
        ("do you deliver to austria and how long does it take", "delivery-times-costs"),
        ("can i pay with klarna", "payment-methods"),
        ("which of your emails can't i turn off", "newsletter"),
        ("how many days do i have to send a router back", "returns-policy"),
    ],
)
async def test_a_policy_question_is_answered_with_a_passage_and_its_article(
    question: str, article: str, stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    conversation = f"help-{article}"
    reply = await say(session, stack, conversation, question)
    text = joined(reply)
    assert f"/help/{article}" in text  # the article's page on the gateway
    assert "Did that answer your question?" in text
    assert buttons(reply) == {"Yes, thanks": YES, "No": NO}
    [(decision, section, helpful)] = help_rows(stack, conversation)
    assert (decision, helpful) == ("answer", None) and section.startswith(f"{article}#")
    async with session.get(f"{stack.gateway_url}/help/{article}") as page:
        assert page.status == 200
        assert section.split("#")[1] in await page.text()


async def test_yes_is_thanked_and_recorded(stack: RunningStack, session: aiohttp.ClientSession) -> None:
    conversation = "help-feedback-yes"
    await say(session, stack, conversation, "how do i turn on the guest wifi")
    thanks = await say(session, stack, conversation, YES)
    assert "glad that helped" in joined(thanks)
    assert help_rows(stack, conversation)[0][2] is True


async def test_no_offers_another_article_and_a_person_then_the_article(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    conversation = "help-feedback-no"
    await say(session, stack, conversation, "how long do refunds take with paypal")
    sorry = await say(session, stack, conversation, NO)
    offered = buttons(sorry)
    assert "Talk to a person" in offered and len(offered) == 2, sorry
    [other] = [payload for title, payload in offered.items() if title != "Talk to a person"]
    article = await say(session, stack, conversation, other)
    assert "The whole article:" in joined(article)
    rows = help_rows(stack, conversation)
    assert rows[0][2] is False and len(rows) == 2


async def test_a_question_the_help_center_cannot_answer_offers_a_person(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    conversation = "help-unanswerable"
    reply = await say(session, stack, conversation, "can i lease a router instead of buying it")
    assert "Did that answer your question?" not in joined(reply)
    assert buttons(reply).get("Talk to a person") == "/request_human"


def test_the_widget_shows_a_help_answer_and_takes_the_feedback(stack: RunningStack) -> None:
    """In headless Chromium: ask a policy question, read the passage, click "No", open the offered article."""
    require(
        Path("/usr/bin/chromium").exists(), "Chromium not installed at /usr/bin/chromium (apt-get install chromium)"
    )
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
            page.goto(f"{stack.gateway_url}/#chat")
            page.fill("#nimbus-chat-input", "which payment methods can i use?")
            page.click("#nimbus-chat-send")
            answer = page.locator('.nc-msg[data-sender="bot"] .nc-text', has_text="Did that answer your question?")
            expect(answer.last).to_be_visible(timeout=30_000)
            assert "/help/payment-methods" in answer.last.inner_text()
            link = answer.last.locator('a[href$="/help/payment-methods"]')
            expect(link).to_have_attribute("rel", "noopener noreferrer")  # the article opens in a new tab
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "help-answer.png"), full_page=True)
            page.locator(".nc-button:not([disabled])").get_by_text("No", exact=True).click()
            person = page.locator(".nc-button:not([disabled])").get_by_text("Talk to a person", exact=True)
            expect(person.last).to_be_visible(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "help-not-helpful.png"), full_page=True)
        finally:
            browser.close()
