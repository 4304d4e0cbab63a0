"""The help center's pages, which the bot's answers link to."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.fakes.rasa import FakeRasa

Gateway = tuple[TestClient, FakeRasa]


async def test_the_index_lists_every_article(gateway: Gateway) -> None:
    client, _ = gateway
    page = await client.get("/help")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert '<a href="/help/returns-policy">' in html and '<a href="/help/guest-network">' in html


async def test_an_article_page_has_its_sections_as_anchors_and_working_links(gateway: Gateway) -> None:
    client, _ = gateway
    page = await client.get("/help/returns-policy")
    assert page.status == 200
    html = await page.text()
    assert '<h2 id="how-long-do-i-have-to-return-something">' in html
    assert "also asked" not in html  # search phrasings are not shown
    assert "help:" not in html and "product:" not in html  # article links are turned into pages
    assert 'href="/help/' in html


async def test_an_unknown_article_is_404(gateway: Gateway) -> None:
    client, _ = gateway
    page = await client.get("/help/no-such-article")
    assert page.status == 404
    assert "No such help article" in await page.text()
