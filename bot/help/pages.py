"""Help-center articles as web pages (the links in the bot's answers lead here): pure Markdown to HTML.

The article text is the support team's, but it is escaped before it is rendered, so a stray
``<script>`` in a file shows as text instead of running in customers' browsers.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import markdown

from bot.help.articles import LINK_PATTERN, Article, slugify


def _body_markdown(article: Article) -> str:
    parts = [article.intro] if article.intro else []
    for section in article.sections:
        parts.append(f'<h2 id="{slugify(section.heading)}">{html.escape(section.heading)}</h2>')
        parts.append(section.text)
    return "\n\n".join(parts)


def _links(text: str, base: str) -> str:
    def link(match: re.Match[str]) -> str:
        text_, kind, target = match.group(1), match.group(2), match.group(3)
        if kind == "product":
            return text_
        article_id, _, slug = target.partition("#")
        return f"[{text_}]({base}/{article_id}{'#' + slug if slug else ''})"

    return LINK_PATTERN.sub(link, text)


def article_html(article: Article, base: str = "/help") -> str:
    """A whole HTML page for one article."""
    escaped = "\n\n".join(
        part if part.startswith("<h2 ") else html.escape(part, quote=False)
        for part in _body_markdown(article).split("\n\n")
    )
    body = markdown.markdown(_links(escaped, base), output_format="html")
    return _page(
        html.escape(article.title),
        f'<p><a href="{base}">Help center</a></p><h1>{html.escape(article.title)}</h1>{body}'
        f'<p class="updated">Updated {article.updated.isoformat()}</p>',
    )


def index_html(articles: Iterable[Article], base: str = "/help") -> str:
    """The list of every article."""
    items = "".join(
        f'<li><a href="{base}/{html.escape(a.id)}">{html.escape(a.title)}</a></li>'
        for a in sorted(articles, key=lambda a: a.title.lower())
    )
    return _page("Help center", f"<h1>Help center</h1><ul>{items}</ul>")


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title} · Nimbus Networks help</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;"
        "line-height:1.5;color:#1d2430}h2{margin-top:2rem}.updated{color:#667;font-size:.9rem}</style>"
        f"</head><body>{body}</body></html>"
    )
