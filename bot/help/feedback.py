"""What the bot answered from the help center, and whether it helped (the ``help_answers`` table)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from bot.db.models import HelpAnswer
from bot.help.search import SearchResult

_LOGGER = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class HelpAnswers:
    """Records each help reply (section, score, decision; never the customer's words) and its verdict."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, conversation_id: str, result: SearchResult) -> int:
        """Store the reply to a question; returns its id (kept in the dialogue for the feedback buttons)."""
        best = result.best
        return self._insert(
            conversation_id, result.decision, best.section.id if best else None, round(best.score, 4) if best else 0.0
        )

    def record_article(self, conversation_id: str, article_id: str) -> int:
        """Store an article the customer picked from suggestions (shown whole, so it counts as an answer)."""
        return self._insert(conversation_id, "answer", article_id, 0.0)

    def _insert(self, conversation_id: str, decision: str, section_id: str | None, score: float) -> int:
        with self.engine.begin() as conn:
            answer_id = conn.execute(
                HelpAnswer.__table__.insert().values(
                    conversation_id=conversation_id,
                    decision=decision,
                    section_id=section_id,
                    score=score,
                    created_at=_now(),
                )
            ).inserted_primary_key[0]
        _LOGGER.info("help.answered id=%s decision=%s section=%s", answer_id, decision, section_id)
        return int(answer_id)

    def feedback(self, answer_id: int, conversation_id: str, helpful: bool) -> bool:
        """Set the verdict of one of this conversation's replies (the first click counts); False if none."""
        table = HelpAnswer.__table__
        with self.engine.begin() as conn:
            done = conn.execute(
                update(table)
                .where(table.c.id == answer_id, table.c.conversation_id == conversation_id, table.c.helpful.is_(None))
                .values(helpful=helpful, feedback_at=_now())
            ).rowcount
        if done:
            _LOGGER.info("help.feedback id=%s helpful=%s", answer_id, helpful)
        return bool(done)

    def section_of(self, answer_id: int, conversation_id: str) -> str | None:
        """The section a reply of this conversation was about."""
        table = HelpAnswer.__table__
        with self.engine.connect() as conn:
            return conn.execute(
                select(table.c.section_id).where(table.c.id == answer_id, table.c.conversation_id == conversation_id)
            ).scalar()
