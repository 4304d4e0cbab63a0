"""Help-center replies as the dialogue sends them: pure translation from search results to texts and buttons.

An answer is one section (the passage, not the whole article) with a link to its article
and "Did that answer your question?" buttons; a doubtful match offers the two likeliest
articles and a person; no match offers a person. Links inside a passage are written out
for chat (``[text](help:id)`` becomes ``text (<url of the article>)``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.help.articles import LINK_PATTERN, Article
from bot.help.search import SearchResult
from bot.help.texts import HelpTexts

FEEDBACK_INTENT = "help_feedback"
ARTICLE_INTENT = "help_article"
HUMAN_INTENT = "request_human"
_WEB_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")


def feedback_payload(helpful: bool) -> str:
    """The payload of a "did that help?" button."""
    return f"/{FEEDBACK_INTENT}" + json.dumps({"helpful": "yes" if helpful else "no"})


def article_payload(article_id: str) -> str:
    """The payload of a button that opens an article in the chat."""
    return f"/{ARTICLE_INTENT}" + json.dumps({"help_article": article_id})


@dataclass(frozen=True)
class HelpReply:
    """One bot message: text and ``(title, payload)`` buttons."""

    text: str
    buttons: tuple[tuple[str, str], ...] = ()


class HelpReplies:
    """Words search results with the ``help:`` texts; ``url_of(article_id)`` gives an article's page."""

    def __init__(self, texts: HelpTexts, url_of: Callable[[str], str]) -> None:
        self.texts = texts
        self.url_of = url_of

    def chat_text(self, markdown: str) -> str:
        """Article Markdown for a chat message: links written out, product links as plain text."""

        def link(match: re.Match[str]) -> str:
            text, kind, target = match.group(1), match.group(2), match.group(3)
            if kind == "product":
                return text
            return f"{text} ({self.url_of(target.partition('#')[0])})"

        return _WEB_LINK.sub(r"\1 (\2)", LINK_PATTERN.sub(link, markdown))

    def _feedback_buttons(self) -> tuple[tuple[str, str], ...]:
        return ((self.texts.button_yes, feedback_payload(True)), (self.texts.button_no, feedback_payload(False)))

    def for_result(self, result: SearchResult) -> HelpReply:
        """The reply to a question, by the search's decision."""
        best = result.best
        if result.decision == "answer" and best is not None:
            text = self.texts.answer.format(
                passage=self.chat_text(best.section.text), title=best.article.title, url=self.url_of(best.article.id)
            )
            return HelpReply(text, self._feedback_buttons())
        person = (self.texts.button_person, f"/{HUMAN_INTENT}")
        if result.decision == "suggest":
            buttons = tuple((a.title, article_payload(a.id)) for a in result.articles(2))
            return HelpReply(self.texts.suggest, (*buttons, person))
        return HelpReply(self.texts.nothing_found, (person,))

    def for_article(self, article: Article) -> HelpReply:
        """An article the customer picked: its introduction (or first section) and its page."""
        intro = article.intro or (article.sections[0].text if article.sections else "")
        text = self.texts.article.format(intro=self.chat_text(intro), title=article.title, url=self.url_of(article.id))
        return HelpReply(text, self._feedback_buttons())

    def after_feedback(self, helpful: bool, alternative: Article | None) -> HelpReply:
        """Thanks, or another article and a person."""
        if helpful:
            return HelpReply(self.texts.helped)
        buttons = ((alternative.title, article_payload(alternative.id)),) if alternative is not None else ()
        return HelpReply(self.texts.did_not_help, (*buttons, (self.texts.button_person, f"/{HUMAN_INTENT}")))
