"""Product lookups over the direct API of the real stack (NLU with the spaCy catalog pipeline)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.stack import RunningStack, buttons, joined, say

pytestmark = pytest.mark.e2e


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_spacy_pipeline_extracts_products_in_the_nlu(stack: RunningStack, session: aiohttp.ClientSession) -> None:
    async with session.post(
        f"{stack.rasa_url}/model/parse",
        params={"token": stack.rasa_token},
        json={"text": "does the Velo AX3000 work with the mesh satellite?"},
    ) as response:
        parsed = await response.json()
    found = {(e["value"].lower(), e["extractor"]) for e in parsed["entities"] if e["entity"] == "product"}
    assert found == {("velo ax3000", "SpacyEntityExtractor"), ("mesh satellite", "SpacyEntityExtractor")}, parsed
    assert parsed["intent"]["name"] == "ask_product_compatibility"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("how much is the mesh duo?", r"Mesh Duo costs €199\.99"),
        ("what does the AX3000 cost", r"Velo AX3000 costs €129\.99"),
        ("how much is the nimbus mesh trio", r"Mesh Trio costs €279\.99"),
        ("what are the specs of the velo ax3000", r"Wi-Fi 6"),
        ("is the velo in stock in hamburg?", r"Hamburg has \d+ × Nimbus Velo AX3000"),
        ("does the mesh satellite work with my ax3000?", r"^Yes, the Nimbus Mesh Satellite works with the Nimbus Velo"),
        ("compare the ax1800 and the ax6000 pro", r"Nimbus AX1800 vs Nimbus AX6000 Pro"),
    ],
)
async def test_product_questions_get_catalog_answers(
    question: str, expected: str, stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    reply = await say(session, stack, f"products-{abs(hash(question))}", question)
    assert re.search(expected, joined(reply), re.M), joined(reply)


async def test_ambiguous_name_gets_clarifying_buttons_then_an_answer(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    conversation = "products-clarify"
    reply = await say(session, stack, conversation, "how much is the powerline kit?")
    choices = buttons(reply)
    assert len(choices) >= 2 and "Nimbus PowerLink AV2000 Kit" in choices, reply
    chosen = await say(session, stack, conversation, choices["Nimbus PowerLink AV2000 Kit"])
    assert "PowerLink AV2000 Kit costs €" in joined(chosen), chosen
    follow_up = await say(session, stack, conversation, "and is it in stock in berlin?")
    assert re.search(r"Berlin", joined(follow_up)) and "AV2000" in joined(follow_up), follow_up


async def test_typos_and_informal_names(stack: RunningStack, session: aiohttp.ClientSession) -> None:
    typo = await say(session, stack, "products-typo", "how much is the mesh trrio")
    assert "Mesh Trio costs" in joined(typo), typo
    informal = await say(session, stack, "products-informal", "how much is the mesh thing")
    assert "Mesh Duo costs" in joined(informal), informal


async def test_unknown_product_is_said_plainly(stack: RunningStack, session: aiohttp.ClientSession) -> None:
    reply = await say(session, stack, "products-unknown", "how much is the nimbus hyperblaster 9000?")
    assert "don't have a product" in joined(reply), reply
    assert "costs" not in joined(reply)


async def test_a_product_question_during_a_guide_is_answered_and_the_step_asked_again(
    stack: RunningStack, session: aiohttp.ClientSession
) -> None:
    conversation = "products-during-guide"
    await say(session, stack, conversation, "my wifi keeps cutting out every few minutes")
    await say(session, stack, conversation, "a router")
    price = await say(session, stack, conversation, "how much is the mesh trio?")
    assert "Mesh Trio costs" in joined(price)
    assert "Back to the troubleshooting:" in joined(price) and "status LED" in joined(price), price
    assert "Back to: Wi-Fi keeps dropping" not in buttons(price)  # the guide never stopped
