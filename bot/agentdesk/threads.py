"""Where the Slack desk's messages are: handoffs' root messages, the posts in their threads, offer DMs.

They are rows of ``slack_desk_posts``, so a restarted gateway still knows each open handoff's
thread and which offers still show their buttons, and erasing a customer finds every copy of
their conversation the desk left in Slack (:mod:`bot.agentdesk.erasure`). Earlier versions kept
only the roots, in ``<var_dir>/slack_threads.json``; :meth:`SlackThreads.load` moves such a file into the table
and removes it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.engine import session_factory
from bot.db.models import Handoff, SlackDeskPost

_LOGGER = logging.getLogger(__name__)

#: ``root``: a handoff's message in the agents' channel; ``thread``: a post in a thread (or under
#: an offer); ``offer``: a DM offering the handoff whose buttons still stand; ``offer_done``: one
#: that was answered or has passed.
PostKind = Literal["root", "thread", "offer", "offer_done"]


@dataclass(frozen=True)
class SlackThread:
    """Where a handoff's root message is: channel id and message ts."""

    channel: str
    ts: str


class SlackThreads:
    """Handoff id <-> Slack thread, and the ts of every message the desk posted, in the database."""

    def __init__(self, engine: Engine, legacy_file: Path | None = None) -> None:
        """Keep the posts in ``engine``'s database; move ``legacy_file`` (an older version's map) there."""
        self._sessions = session_factory(engine)
        self._legacy_file = legacy_file
        self._channels: set[str] = set()

    def load(self) -> None:
        """Move an older version's thread file into the table, and learn the channels posted in."""
        if self._legacy_file is not None:
            self._import(self._legacy_file)
        with self._sessions() as session:
            query = select(SlackDeskPost.channel).where(SlackDeskPost.kind == "root").distinct()
            self._channels = set(session.execute(query).scalars())

    def _import(self, path: Path) -> None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            _LOGGER.warning("slack_desk.threads_unreadable path=%s error=%s", path, type(exc).__name__)
            return
        imported = 0
        for key, value in (raw if isinstance(raw, dict) else {}).items():
            if not (key.isdigit() and isinstance(value, dict)):
                continue
            channel, ts = value.get("channel"), value.get("ts")
            if isinstance(channel, str) and isinstance(ts, str):
                imported += self._import_root(int(key), SlackThread(channel, ts))
        path.unlink()
        _LOGGER.info("slack_desk.threads_imported count=%d", imported)

    def _import_root(self, handoff_id: int, thread: SlackThread) -> int:
        with self._sessions.begin() as session:
            if session.get(Handoff, handoff_id) is None or self._root(session, handoff_id) is not None:
                return 0  # a handoff erased since, or already moved
            taken = session.execute(
                select(SlackDeskPost.id).where(SlackDeskPost.channel == thread.channel, SlackDeskPost.ts == thread.ts)
            ).first()
            if taken is not None:
                return 0
            session.add(SlackDeskPost(handoff_id=handoff_id, channel=thread.channel, ts=thread.ts, kind="root"))
        return 1

    @staticmethod
    def _root(session: Session, handoff_id: int) -> SlackThread | None:
        row = session.execute(
            select(SlackDeskPost.channel, SlackDeskPost.ts).where(
                SlackDeskPost.handoff_id == handoff_id, SlackDeskPost.kind == "root"
            )
        ).first()
        return SlackThread(str(row[0]), str(row[1])) if row is not None else None

    def channels(self) -> set[str]:
        """The channel ids of the desk's root messages (the agents' channel, as Slack names it; no DMs)."""
        return set(self._channels)

    async def get(self, handoff_id: int) -> SlackThread | None:
        """The thread of a handoff, if its root message was posted (and not erased since)."""
        return await asyncio.to_thread(self._get, handoff_id)

    def _get(self, handoff_id: int) -> SlackThread | None:
        with self._sessions() as session:
            return self._root(session, handoff_id)

    async def handoff_for(self, channel: str, ts: str) -> int | None:
        """The handoff whose root message is ``ts`` in ``channel``."""
        return await asyncio.to_thread(self._handoff_for, channel, ts)

    def _handoff_for(self, channel: str, ts: str) -> int | None:
        with self._sessions() as session:
            found = session.execute(
                select(SlackDeskPost.handoff_id).where(
                    SlackDeskPost.channel == channel, SlackDeskPost.ts == ts, SlackDeskPost.kind == "root"
                )
            ).scalar_one_or_none()
        return int(found) if found is not None else None

    async def add(self, handoff_id: int, thread: SlackThread) -> bool:
        """Remember a handoff's new root message; False when the handoff is gone (erased meanwhile)."""
        return await self._record(handoff_id, thread.channel, thread.ts, "root")

    async def record(self, handoff_id: int, channel: str, ts: str) -> bool:
        """Remember a message posted in a handoff's thread; False when the handoff is gone."""
        return await self._record(handoff_id, channel, ts, "thread")

    async def record_offer(self, handoff_id: int, channel: str, ts: str) -> bool:
        """Remember the DM offering a handoff to an agent; False when the handoff is gone."""
        return await self._record(handoff_id, channel, ts, "offer")

    async def offer_for(self, channel: str, ts: str) -> int | None:
        """The handoff offered by the DM ``ts`` in ``channel`` (standing or not)."""
        return await asyncio.to_thread(self._offer_for, channel, ts)

    def _offer_for(self, channel: str, ts: str) -> int | None:
        with self._sessions() as session:
            found = session.execute(
                select(SlackDeskPost.handoff_id).where(
                    SlackDeskPost.channel == channel,
                    SlackDeskPost.ts == ts,
                    SlackDeskPost.kind.in_(("offer", "offer_done")),
                )
            ).scalar_one_or_none()
        return int(found) if found is not None else None

    async def open_offers(self, handoff_id: int) -> list[SlackThread]:
        """The DMs offering ``handoff_id`` whose buttons still stand, oldest first."""
        return await asyncio.to_thread(self._open_offers, handoff_id)

    def _open_offers(self, handoff_id: int) -> list[SlackThread]:
        with self._sessions() as session:
            rows = session.execute(
                select(SlackDeskPost.channel, SlackDeskPost.ts)
                .where(SlackDeskPost.handoff_id == handoff_id, SlackDeskPost.kind == "offer")
                .order_by(SlackDeskPost.id)
            ).all()
        return [SlackThread(str(channel), str(ts)) for channel, ts in rows]

    async def finish_offer(self, offer: SlackThread) -> bool:
        """Mark an offer answered or passed; False when it already was (another job finished it)."""
        return await asyncio.to_thread(self._finish_offer, offer)

    def _finish_offer(self, offer: SlackThread) -> bool:
        with self._sessions.begin() as session:
            result = session.execute(
                update(SlackDeskPost)
                .where(
                    SlackDeskPost.channel == offer.channel, SlackDeskPost.ts == offer.ts, SlackDeskPost.kind == "offer"
                )
                .values(kind="offer_done")
                .execution_options(synchronize_session=False)
            )
        return bool(result.rowcount)

    async def _record(self, handoff_id: int, channel: str, ts: str, kind: PostKind) -> bool:
        if kind == "root":
            self._channels.add(channel)
        return await asyncio.to_thread(self._insert, handoff_id, channel, ts, kind)

    def _insert(self, handoff_id: int, channel: str, ts: str, kind: PostKind) -> bool:
        try:
            with self._sessions.begin() as session:
                session.add(SlackDeskPost(handoff_id=handoff_id, channel=channel, ts=ts, kind=kind))
        except IntegrityError:  # no such handoff any more: its customer was erased while we posted
            _LOGGER.warning("slack_desk.post_not_recorded handoff=%d kind=%s", handoff_id, kind)
            return False
        return True
