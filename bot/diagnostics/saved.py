"""Guides a verified customer left paused, kept across channels (the ``customer_guides`` table).

The dialogue keeps paused guides per conversation (the ``diag_paused`` slot), and a
conversation belongs to one channel. For a verified customer the same paused guides are also
kept here, one row per customer and guide, so that "back to my wifi problem" on Telegram
continues, at the same step, the guide left on the web widget:

* :func:`with_saved` adds the customer's saved guides to what the conversation holds before
  :func:`bot.diagnostics.flow.start` or :func:`~bot.diagnostics.flow.resume` pick one;
* :func:`changes` says, after a guide's turn, which guides to save (paused now, or paused at
  another step) and which to forget (resumed, resolved, ended in a handoff);
* :class:`SavedGuides` reads and writes the rows. A row older than :data:`KEEP_DAYS`, or one
  that no longer fits the guide files (the guide removed, its step renamed), is deleted when
  read: the customer starts that guide over.

A saved state holds the guide, the step, the options taken and the device category, never the
customer's own words.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bot.core.logs import log_id
from bot.db.models import CustomerGuide
from bot.diagnostics.engine import DiagnosticSession, SessionError
from bot.diagnostics.flow import Guides, Say, back_button
from bot.diagnostics.state import State

_LOGGER = logging.getLogger(__name__)

#: Days a paused guide stays resumable on the customer's other channels.
KEEP_DAYS = 30
#: "Back to: ..." buttons at most in the greeting of a returning customer.
MAX_OFFERED = 3


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class SavedGuide:
    """A guide one customer left paused: its ``diag_paused`` entry, and where and when it was left."""

    guide_id: str
    title: str
    state: State
    channel: str
    conversation_id: str
    paused_at: dt.datetime


@dataclass(frozen=True)
class GuideChanges:
    """What a guide's turn changes in the customer's saved guides."""

    save: list[State]
    forget: list[str]

    @property
    def empty(self) -> bool:
        """Whether there is nothing to write."""
        return not self.save and not self.forget


def _guide(item: Mapping[str, Any] | None) -> str | None:
    value = item.get("guide") if isinstance(item, Mapping) else None
    return str(value) if value else None


def with_saved(
    active: Mapping[str, Any] | None, paused: Sequence[Mapping[str, Any]], saved: Sequence[SavedGuide]
) -> list[State]:
    """The conversation's paused guides, then the customer's saved ones it lacks (most recent first).

    The conversation's own entry of a guide wins (it is what this channel last showed), and the
    running guide is never added a second time.
    """
    have = {_guide(item) for item in paused} | {_guide(active)}
    return [*(dict(item) for item in paused), *(dict(s.state) for s in saved if s.guide_id not in have)]


def changes(
    offered: Sequence[Mapping[str, Any]],
    active_before: Mapping[str, Any] | None,
    active_after: Mapping[str, Any] | None,
    paused_after: Sequence[Mapping[str, Any]],
) -> GuideChanges:
    """What to save and forget after a guide's turn.

    Args:
        offered: The paused guides the turn started from (with the saved ones it was given).
        active_before: The guide running before the turn.
        active_after: The guide running after it.
        paused_after: The paused guides after it.

    Returns:
        To save: each paused entry that is new or moved (a guide paused this turn). Entries the
        turn did not change are left alone, so that a stale copy in this conversation never
        overwrites a later pause on another channel. To forget: each guide the turn touched
        that is no longer paused (it runs again here, was resolved or ended in a handoff). A
        turn that only moves the running guide on (or shows its step again) changes nothing.
    """
    before = {_guide(item): dict(item) for item in offered}
    still = {_guide(item) for item in paused_after}
    save = [dict(item) for item in paused_after if before.get(_guide(item)) != dict(item)]
    touched: list[str | None] = list(before)
    if _guide(active_before) != _guide(active_after):  # a step of the same guide changes nothing here
        touched += [_guide(active_before), _guide(active_after)]
    forget = sorted({g for g in touched if g is not None and g not in still})
    return GuideChanges(save, forget)


def offer(saved: Sequence[SavedGuide], *, after_request: bool = False) -> Say | None:
    """The greeting's "go back to ...?" message: the newest guide named, a "Back to: ..." button each.

    ``after_request``: the greeting already welcomed the customer back with their open request.
    """
    if not saved:
        return None
    shown = saved[:MAX_OFFERED]
    return Say(
        response="utter_offer_saved_guide" if after_request else "utter_welcome_back_guide",
        buttons=tuple(back_button(s.guide_id, s.title) for s in shown),
        values={"guide": shown[0].title},
    )


def _fits(state: Any, guide_id: str, guides: Guides) -> DiagnosticSession | None:
    """The session a saved state resumes, or ``None`` when it no longer fits the guide files."""
    if not isinstance(state, dict) or state.get("guide") != guide_id:
        return None
    try:
        session = DiagnosticSession.from_dict(state, guides)
    except SessionError:
        return None
    return None if session.finished else session


_UPSERT = {
    "postgresql": postgresql.insert(CustomerGuide.__table__),
    "sqlite": sqlite.insert(CustomerGuide.__table__),
}


class SavedGuides:
    """The paused guides of verified customers, newest first, for :data:`KEEP_DAYS` days."""

    def __init__(self, engine: Engine, *, keep_days: int = KEEP_DAYS, clock: Callable[[], dt.datetime] = _now) -> None:
        """Use ``engine``; ``clock`` gives naive UTC times (tests move it)."""
        self.engine = engine
        self.keep = dt.timedelta(days=keep_days)
        self.clock = clock

    def paused(self, customer_id: str, guides: Guides) -> list[SavedGuide]:
        """The customer's paused guides, most recently paused first.

        Rows past their time, and rows that no longer fit ``guides`` (removed guide, renamed
        step, malformed state), are deleted and left out: that guide starts over.
        """
        table = CustomerGuide.__table__
        cutoff = self.clock() - self.keep
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(table)
                .where(table.c.customer_id == customer_id)
                .order_by(table.c.paused_at.desc(), table.c.guide_id)
            ).all()
        found: list[SavedGuide] = []
        dropped: list[str] = []
        for row in rows:
            session = _fits(row.state, row.guide_id, guides) if row.paused_at >= cutoff else None
            if session is None:
                dropped.append(row.guide_id)
                continue
            state = {**row.state, "title": session.tree.title}
            found.append(
                SavedGuide(row.guide_id, session.tree.title, state, row.channel, row.conversation_id, row.paused_at)
            )
        if dropped:
            self.forget(customer_id, dropped)
            _LOGGER.info("guides.saved_dropped count=%d", len(dropped))
        return found

    def apply(self, customer_id: str, change: GuideChanges, *, channel: str, conversation_id: str) -> None:
        """Save and forget what a guide's turn changed (one transaction)."""
        if change.empty:
            return
        table = CustomerGuide.__table__
        now = self.clock()
        with self.engine.begin() as connection:
            if change.forget:
                connection.execute(
                    delete(table).where(table.c.customer_id == customer_id, table.c.guide_id.in_(change.forget))
                )
            for state in change.save:
                values = {"state": state, "channel": channel, "conversation_id": conversation_id, "paused_at": now}
                statement = _UPSERT[connection.dialect.name].values(
                    customer_id=customer_id, guide_id=str(state["guide"]), **values
                )
                # Two replicas saving the same guide at once: the later write wins, neither fails.
                connection.execute(
                    statement.on_conflict_do_update(index_elements=["customer_id", "guide_id"], set_=values)
                )
            # Rows past their time go whenever someone saves; reading ignores them meanwhile.
            connection.execute(delete(table).where(table.c.paused_at < now - self.keep))
        _LOGGER.info(
            "guides.saved conversation=%s saved=%d forgotten=%d",
            log_id(conversation_id),
            len(change.save),
            len(change.forget),
        )

    def forget(self, customer_id: str, guide_ids: Iterable[str]) -> None:
        """Delete the customer's saved entries of ``guide_ids``."""
        ids = list(guide_ids)
        if not ids:
            return
        table = CustomerGuide.__table__
        with self.engine.begin() as connection:
            connection.execute(delete(table).where(table.c.customer_id == customer_id, table.c.guide_id.in_(ids)))
