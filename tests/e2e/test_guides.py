"""Conversation tests for every troubleshooting guide, over the direct API of the real stack.

For each guide in ``data/diagnostics``: the happy path with buttons, a run to the handoff
answered in free text (the path is stored in the handoff packet), leaving with an
unrelated question and coming back, and leaving with "forget it" and coming back by
button. The last test completes every guide in the web widget in headless Chromium. The
paths are computed from the guide files, so an edited guide is tested as it
is; the customer's words are written here.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bot.diagnostics import DiagnosticTree, load_guides
from bot.diagnostics.engine import option_payload
from bot.diagnostics.matching import match_option
from bot.settings import PROJECT_ROOT
from tests.services import require
from tests.stack import RunningStack, buttons, reply_texts, say

pytestmark = pytest.mark.e2e

GUIDES = load_guides(PROJECT_ROOT / "data" / "diagnostics")
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
#: How a customer first describes each problem (not taken from the NLU training data).
OPENERS = {
    "wifi_drops": "my wifi keeps cutting out every few minutes",
    "no_power": "my router won't switch on at all",
    "slow_speed": "my internet has been really slow all evening",
    "login": "i can't log in, i think i forgot my password",
    "firmware_update": "the firmware update failed on my router",
    "payment_failed": "my card payment keeps getting declined at checkout",
}
Hop = tuple[str, int]  # (node id, 0-based option index)


def test_every_guide_has_an_opener() -> None:
    assert set(OPENERS) == set(GUIDES)


def _path_to(tree: DiagnosticTree, kind: str) -> list[Hop]:
    """Shortest path (node, option) from the start to a terminal of ``kind`` (breadth first)."""
    queue: collections.deque[tuple[str, list[Hop]]] = collections.deque([(tree.start, [])])
    seen = {tree.start}
    while queue:
        node_id, path = queue.popleft()
        for index, option in enumerate(tree.node(node_id).options):
            hop = [*path, (node_id, index)]
            if tree.node(option.next).kind == kind:
                return hop
            if option.next not in seen and not tree.node(option.next).is_terminal:
                seen.add(option.next)
                queue.append((option.next, hop))
    raise AssertionError(f"guide {tree.id} has no path to {kind}")


def _free_text(tree: DiagnosticTree, node_id: str, index: int) -> str:
    """A typed answer (a synonym or the title, never a number) that selects the option."""
    options = tree.node(node_id).options
    for phrase in (*options[index].synonyms, options[index].title.lower()):
        if not phrase.strip().isdigit() and match_option(phrase, options) == index:
            return phrase
    raise AssertionError(f"{tree.id}/{node_id}: no typed phrase selects option {index}")


class Chat:
    """One conversation over ``POST /api/v1/messages``."""

    def __init__(self, session: aiohttp.ClientSession, stack: RunningStack, conversation_id: str) -> None:
        self.session, self.stack, self.id = session, stack, conversation_id

    async def say(self, text: str) -> dict[str, Any]:
        return await say(self.session, self.stack, self.id, text)


def step_text(tree: DiagnosticTree, node_id: str) -> str:
    return tree.node(node_id).text.strip()


def assert_shows(reply: dict[str, Any], tree: DiagnosticTree, node_id: str) -> None:
    assert step_text(tree, node_id) in reply_texts(reply), (
        f"expected step {tree.id}/{node_id}, got {reply_texts(reply)}"
    )
    options = tree.node(node_id).options
    assert list(buttons(reply))[: len(options)] == [o.title for o in options], buttons(reply)


@pytest.fixture
async def session() -> Iterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def _handoff_packet(stack: RunningStack, conversation_id: str) -> dict[str, Any]:
    url = stack.database_url
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                sa.text("SELECT reason, packet FROM handoffs WHERE conversation_id = :id"), {"id": conversation_id}
            ).one()
    finally:
        engine.dispose()
    packet = row.packet if isinstance(row.packet, dict) else __import__("json").loads(row.packet)
    return {"reason": row.reason, **packet}


@pytest.mark.parametrize("guide_id", sorted(GUIDES))
async def test_guide_resolved_with_buttons(guide_id: str, stack: RunningStack, session: aiohttp.ClientSession) -> None:
    tree = GUIDES[guide_id]
    chat = Chat(session, stack, f"guide-buttons-{guide_id}")
    reply = await chat.say(OPENERS[guide_id])
    path = _path_to(tree, "resolved")
    for node_id, index in path:
        assert_shows(reply, tree, node_id)
        reply = await chat.say(option_payload(index + 1))
    resolved = tree.node(tree.node(path[-1][0]).options[path[-1][1]].next)
    shown = reply_texts(reply)
    assert shown[0] == (resolved.text.strip() or shown[0]), shown
    assert any("How did I do?" in text for text in shown), shown  # one rating of the bot's own help
    assert reply["handoff"] is None
    rated = reply_texts(await chat.say('/csat{"score":"5"}'))
    assert any("Thanks for the rating" in text for text in rated), rated
    assert any("anything else" in text.lower() for text in rated), rated
    goodbye = await chat.say("no, that's all thanks")
    assert reply_texts(goodbye) and not any(step_text(tree, n) in reply_texts(goodbye) for n, _ in path)


@pytest.mark.parametrize("guide_id", sorted(GUIDES))
async def test_guide_runs_out_into_a_handoff_in_free_text(
    guide_id: str, stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    tree = GUIDES[guide_id]
    conversation = f"guide-handoff-{guide_id}"
    chat = Chat(session, stack, conversation)
    reply = await chat.say(OPENERS[guide_id])
    path = _path_to(tree, "handoff")
    typed = []
    for node_id, index in path:
        assert_shows(reply, tree, node_id)
        typed.append(_free_text(tree, node_id, index))
        reply = await chat.say(typed[-1])
    assert reply["handoff"] is not None and reply["handoff"]["status"] == "open", reply
    packet = _handoff_packet(stack, conversation)
    assert packet["reason"] == "diagnostics_exhausted"
    expected = [{"step": node_id, "answer": tree.node(node_id).options[index].title} for node_id, index in path]
    assert packet["troubleshooting"]["path"] == expected, (typed, packet)
    assert packet["troubleshooting"]["guide"] == guide_id
    assert packet["summary"].startswith("The troubleshooting guide ran out of steps"), packet["summary"]
    # The guide has ended: a stale button now gets a clear answer, not a step.
    stale = await chat.say(option_payload(1))
    assert not any(step_text(tree, node_id) in reply_texts(stale) for node_id, _ in path), reply_texts(stale)


@pytest.mark.parametrize("guide_id", sorted(GUIDES))
async def test_leave_with_a_question_and_come_back(
    guide_id: str, stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    tree = GUIDES[guide_id]
    chat = Chat(session, stack, f"guide-leave-{guide_id}")
    await chat.say(OPENERS[guide_id])
    (_first, index), (second, _) = _path_to(tree, "handoff")[:2]
    reply = await chat.say(option_payload(index + 1))
    assert_shows(reply, tree, second)

    hours = await chat.say("by the way, what time do you open on saturday?")
    assert any(re.search(r"\d{1,2}:\d{2}", text) for text in reply_texts(hours)), reply_texts(hours)
    assert step_text(tree, second) not in reply_texts(hours)

    back = await chat.say("ok, back to my problem")
    assert_shows(back, tree, second)
    assert tree.title in " ".join(reply_texts(back))


@pytest.mark.parametrize("guide_id", sorted(GUIDES))
async def test_forget_it_then_back_by_button(
    guide_id: str, stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    tree = GUIDES[guide_id]
    chat = Chat(session, stack, f"guide-forget-{guide_id}")
    reply = await chat.say(OPENERS[guide_id])
    assert_shows(reply, tree, tree.start)
    paused = await chat.say("forget it")
    back_button = next((p for t, p in buttons(paused).items() if t.startswith("Back to")), None)
    assert back_button is not None, paused
    assert step_text(tree, tree.start) not in reply_texts(paused)
    back = await chat.say(back_button)
    assert_shows(back, tree, tree.start)


async def test_free_text_answers_in_the_customers_words(stack: RunningStack, session: aiohttp.ClientSession) -> None:
    tree = GUIDES["wifi_drops"]
    chat = Chat(session, stack, "guide-words-wifi")
    assert_shows(await chat.say("the wifi drops all the time"), tree, "which_device")
    assert_shows(await chat.say("it's the velo ax3000 router"), tree, "status_led")
    assert_shows(await chat.say("yes it's blinking orange"), tree, "internet_down")
    after = await chat.say("done that")
    assert step_text(tree, "internet_down") not in reply_texts(after)
    not_understood = await chat.say("purple elephants")
    assert any("didn't catch" in text for text in reply_texts(not_understood)), reply_texts(not_understood)
    again = await chat.say("what's that supposed to mean")
    assert "Talk to a person" in buttons(again), buttons(again)


async def test_starting_another_guide_pauses_the_first(stack: RunningStack, session: aiohttp.ClientSession) -> None:
    wifi, login = GUIDES["wifi_drops"], GUIDES["login"]
    chat = Chat(session, stack, "guide-switch")
    await chat.say(OPENERS["wifi_drops"])
    assert_shows(await chat.say(option_payload(1)), wifi, "status_led")
    assert_shows(await chat.say(OPENERS["login"]), login, login.start)
    back = await chat.say("back to my wifi problem")
    assert_shows(back, wifi, "status_led")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:60]


@pytest.mark.browser
def test_every_guide_completed_in_the_widget(stack: RunningStack) -> None:
    """In headless Chromium: describe the problem, click through each guide to its resolution."""
    require(
        Path("/usr/bin/chromium").exists(), "Chromium not installed at /usr/bin/chromium (apt-get install chromium)"
    )
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        try:
            for guide_id in sorted(GUIDES):
                tree = GUIDES[guide_id]
                context = browser.new_context(viewport={"width": 1200, "height": 900})
                page = context.new_page()
                page.goto(f"{stack.gateway_url}/#chat")
                page.fill("#nimbus-chat-input", OPENERS[guide_id])
                page.click("#nimbus-chat-send")
                path = _path_to(tree, "resolved")
                for node_id, index in path:
                    node = tree.node(node_id)
                    step = page.locator('.nc-msg[data-sender="bot"] .nc-text', has_text=_first_line(node.text))
                    expect(step.last).to_be_visible(timeout=30_000)
                    title = node.options[index].title
                    button = page.locator(".nc-button:not([disabled])").get_by_text(title, exact=True)
                    expect(button).to_be_visible(timeout=10_000)
                    button.click()
                    customer = page.locator('.nc-msg[data-sender="customer"] .nc-text', has_text=title)
                    expect(customer.last).to_be_visible(timeout=10_000)
                end = tree.node(tree.node(path[-1][0]).options[path[-1][1]].next)
                closing = _first_line(end.text) if end.text else "glad"
                expect(page.locator('.nc-msg[data-sender="bot"] .nc-text', has_text=closing).last).to_be_visible(
                    timeout=30_000
                )
                expect(page.get_by_text("How did I do?", exact=False).last).to_be_visible(timeout=10_000)
                page.locator(".nc-button:not([disabled])").get_by_text("5", exact=True).click()  # the bot's rating
                expect(page.get_by_text("anything else", exact=False).last).to_be_visible(timeout=10_000)
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"guide-{guide_id}.png"), full_page=True)
                context.close()
        finally:
            browser.close()
