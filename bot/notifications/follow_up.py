"""An agent's answer mailed to a web-widget customer who had left the chat, if they gave an address and agreed.

A Telegram or Slack customer needs nothing of this: an agent's reply is stored with its outbox
row and reaches the chat whenever it comes. A web customer's tab, once closed, can no longer be
written to. So the widget offers to take an email address with the customer's consent
(``follow_up`` frame, docs/websocket-protocol.md; ``web_follow_ups``), and when an agent answers a
handoff of that chat while no tab of it is open, :class:`FollowUpMailer` mails the answer, once
per handoff: one mail tells the customer the team answered; the rest is in the chat.

"No tab open" is this gateway's view (:meth:`~bot.conversations.hub.ConversationHub.subscriber_count`):
in a cluster a tab open on another replica is not seen, and the customer may then get the mail
although the answer also reached their tab; never the other way round.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bot.db.engine import session_factory
from bot.db.models import Conversation, WebFollowUp, utcnow
from bot.handoff.events import AgentWrote, HandoffEvent
from bot.identity.mailer import Mailer, MailError
from bot.notifications.texts import NotificationTexts
from bot.records.backend import check_contact

_LOGGER = logging.getLogger(__name__)

#: The channel whose customers may leave an address (the push channels reach their chat anyway).
WEB = "web"


class FollowUps:
    """Web chats' follow-up addresses, kept with the customer's consent (``web_follow_ups``)."""

    def __init__(self, engine: Engine) -> None:
        """Keep them in ``engine``'s database."""
        self._engine = engine
        self._sessions = session_factory(engine)

    async def remember(self, conversation_id: str, email: str) -> bool:
        """Keep ``email`` for the web chat (the customer agreed); ``False`` if it is no email address or no web chat."""
        address = check_contact("email", email)
        if address is None:
            return False

        def write() -> bool:
            with self._engine.begin() as connection:
                channel = connection.execute(
                    select(Conversation.channel).where(Conversation.id == conversation_id)
                ).scalar_one_or_none()
                if channel != WEB:
                    return False
                values = {"conversation_id": conversation_id, "email": address, "consented_at": utcnow()}
                insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
                statement = insert(WebFollowUp.__table__).values(**values)
                connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=["conversation_id"],
                        set_={"email": address, "consented_at": values["consented_at"]},
                    )
                )
                return True

        return await asyncio.to_thread(write)

    async def forget(self, conversation_id: str) -> None:
        """Drop the chat's address (the customer withdrew their consent)."""

        def write() -> None:
            with self._sessions.begin() as session:
                session.execute(delete(WebFollowUp).where(WebFollowUp.conversation_id == conversation_id))

        await asyncio.to_thread(write)

    def claim(self, conversation_id: str, handoff_id: int) -> str | None:
        """The address to mail about ``handoff_id``'s answer, if it was not mailed yet (marked mailed now)."""
        with self._sessions.begin() as session:
            email = session.execute(
                select(WebFollowUp.email).where(WebFollowUp.conversation_id == conversation_id)
            ).scalar_one_or_none()
            if email is None:
                return None
            taken = session.execute(
                update(WebFollowUp)
                .where(
                    WebFollowUp.conversation_id == conversation_id,
                    or_(WebFollowUp.mailed_handoff_id.is_(None), WebFollowUp.mailed_handoff_id != handoff_id),
                )
                .values(mailed_handoff_id=handoff_id, mailed_at=utcnow())
                .execution_options(synchronize_session=False)
            ).rowcount
            return str(email) if taken == 1 else None

    def release(self, conversation_id: str, handoff_id: int) -> None:
        """Undo :meth:`claim` after the mail failed, so the next answer of the handoff tries again."""
        with self._sessions.begin() as session:
            session.execute(
                update(WebFollowUp)
                .where(WebFollowUp.conversation_id == conversation_id, WebFollowUp.mailed_handoff_id == handoff_id)
                .values(mailed_handoff_id=None, mailed_at=None)
                .execution_options(synchronize_session=False)
            )


class FollowUpMailer:
    """Listens on the handoff bus: mails an agent's answer to a web customer with no tab open."""

    def __init__(
        self,
        follow_ups: FollowUps,
        mailer: Mailer,
        texts: NotificationTexts,
        *,
        tabs_open: Callable[[str], int],
    ) -> None:
        """Compose it: ``tabs_open`` counts a conversation's open tabs (the hub's ``subscriber_count``)."""
        self._follow_ups = follow_ups
        self._mailer = mailer
        self._texts = texts
        self._tabs_open = tabs_open
        self._sending: set[asyncio.Task[None]] = set()

    async def on_handoff_event(self, event: HandoffEvent) -> None:
        """Hear an agent's reply; mail it in the background when its web customer is gone."""
        if not isinstance(event, AgentWrote):
            return
        conversation_id = event.message.conversation_id
        if not conversation_id.startswith(f"{WEB}-") or self._tabs_open(conversation_id) > 0:
            return
        task = asyncio.create_task(self._mail(conversation_id, event.handoff_id, event.message.text))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _mail(self, conversation_id: str, handoff_id: int, answer: str) -> None:
        try:
            email = await asyncio.to_thread(self._follow_ups.claim, conversation_id, handoff_id)
            if email is None:
                return
            subject = self._texts.follow_up_subject
            body = self._texts.follow_up_body.format(answer=answer)
            try:
                await asyncio.to_thread(self._mailer.send, email, subject, body)
            except MailError as exc:
                _LOGGER.warning("follow_up.mail_failed handoff=%d error=%s", handoff_id, exc)
                await asyncio.to_thread(self._follow_ups.release, conversation_id, handoff_id)
                return
            _LOGGER.info("follow_up.mailed handoff=%d", handoff_id)
        except Exception:
            _LOGGER.exception("follow_up.failed handoff=%d", handoff_id)

    async def close(self) -> None:
        """Wait for mails being sent (at shutdown)."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
