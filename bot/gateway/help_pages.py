"""The help center's pages (``/help`` and ``/help/{article}``), which the bot's answers link to."""

from __future__ import annotations

from aiohttp import web

from bot.gateway.keys import HELP_ARTICLES
from bot.help.pages import article_html, index_html

routes = web.RouteTableDef()


@routes.get("/help")
async def help_index(request: web.Request) -> web.Response:
    """Every article, by title."""
    return web.Response(text=index_html(request.app[HELP_ARTICLES].values()), content_type="text/html")


@routes.get("/help/{article_id}")
async def help_article(request: web.Request) -> web.Response:
    """One article; 404 for an unknown id."""
    article = request.app[HELP_ARTICLES].get(request.match_info["article_id"])
    if article is None:
        raise web.HTTPNotFound(text="No such help article.")
    return web.Response(text=article_html(article), content_type="text/html")
