"""The customer turn: store the message, ask the dialogue model, store and fan out replies."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot.conversations.hub import ConversationHub
from bot.conversations.identity import ANONYMOUS, Identity, IdentityResolver
from bot.conversations.requests import Parsed, RequestPlan, button_title, plan_requests, split_requests
from bot.conversations.store import ConversationInfo, ConversationStore, InboxMark
from bot.core.logs import log_id
from bot.core.messages import Button, HandoffRef, StoredMessage
from bot.db.models import Sender
from bot.dialogue.rasa_client import BotReply, DialogueUnavailable, RasaClient
from bot.handoff.events import CustomerWrote, HandoffEvents, HandoffOpened
from bot.texts import Texts

_LOGGER = logging.getLogger(__name__)

#: How a customer turn ended (the log events ``turn.answered``, ``turn.dialogue_unavailable``,
#: ``turn.relayed_to_agent`` of the same paths).
TurnOutcome = Literal["answered", "dialogue_unavailable", "relayed_to_agent"]
TURN_OUTCOMES: tuple[TurnOutcome, ...] = ("answered", "dialogue_unavailable", "relayed_to_agent")
#: Messages read from a conversation's start to tell whether a customer message is its first.
_FIRST_TURN_SCAN = 20


@dataclass(frozen=True)
class CustomerMessage:
    """What a customer sent on some channel, already validated by the channel."""

    conversation_id: str
    channel: str
    text: str
    payload: str | None = None
    client_id: str | None = None
    customer_token: str | None = None
    channel_user: str | None = None  # the sender on the channel (defaults to the conversation id)
    address: dict[str, Any] | None = None  # a push channel's chat: replies go through the outbox
    identity: Identity | None = None  # already verified by the channel when it accepted the message
    language: str | None = None  # the customer's language as their client says (``de``), for routing


@dataclass(frozen=True)
class InboxTurn:
    """The stored platform event a customer message came from, and how far it got."""

    item_id: int
    state: str  # "pending" or "stored"


@dataclass(frozen=True)
class TurnResult:
    """The stored customer message and the replies that answered it."""

    customer_message: StoredMessage
    replies: Sequence[StoredMessage]
    duplicate: bool
    handoff: HandoffRef | None


@dataclass(frozen=True)
class TurnRecord:
    """What one customer turn came to, for the observers of turns (metrics, analytics); never the text.

    Attributes:
        conversation_id: The conversation.
        channel: The customer's channel (``web``, ``direct``, ``telegram``, ``slack``).
        customer_id: The verified customer who wrote, or ``None`` (anonymous).
        outcome: ``answered``: the dialogue model's replies were stored and sent.
            ``dialogue_unavailable``: Rasa was down, failed, timed out or sent nothing (an action
            failed); the customer got the polite "try again" text. ``relayed_to_agent``: a handoff
            (open or claimed) holds the conversation; the bot stayed silent and the desks heard it.
        latency_s: From the gateway taking the turn up to its replies being stored (a push
            channel's wait in the inbox before that is not in it).
        rasa_latency_s: The part of it spent waiting for the dialogue model (Rasa and the actions
            it ran; with a message holding two requests, their parsing too); ``None`` when the
            model was not asked.
        first_turn: The conversation's first customer message.
    """

    conversation_id: str
    channel: str
    customer_id: str | None
    outcome: TurnOutcome
    latency_s: float
    rasa_latency_s: float | None
    first_turn: bool


class TurnObserver(Protocol):
    """Told of each customer turn once it is finished (duplicates of a message are not turns)."""

    def turn_done(self, record: TurnRecord) -> None:
        """Take note of a finished turn: quickly, on the turn's own path; an exception is logged, never raised."""


@dataclass(frozen=True)
class _Arrival:
    """The customer's message as stored: ``new`` false for a copy of an earlier one."""

    message: StoredMessage
    new: bool
    recovering: bool  # stored before a crash: the model may have answered it already
    handoff: HandoffRef | None = None  # the conversation's unresolved handoff when it arrived
    first: bool = False  # the first message the customer sent in this conversation


def _mark(inbox: InboxTurn | None, state: str, customer: StoredMessage | None = None) -> InboxMark | None:
    """Move the turn's inbox item (if any) to ``state`` with the messages stored next.

    ``customer``: the turn's customer message, recorded with the replies as the item's result.
    """
    if inbox is None:
        return None
    return InboxMark(inbox.item_id, state, customer.cursor if customer is not None else None)


def _channel_user(message: CustomerMessage) -> str:
    return message.channel_user or message.conversation_id


def _metadata(message: CustomerMessage, identity: Identity, resolver: IdentityResolver | None) -> dict[str, Any]:
    """What the actions learn about the message; identity only from the turn token the resolver signs.

    The plain fields are for reading the tracker; the actions believe only the signed token
    (never slots, text or unsigned metadata), which expires a couple of minutes later.
    """
    metadata: dict[str, Any] = {
        "channel": message.channel,
        "conversation_id": message.conversation_id,
        "channel_user": _channel_user(message),
    }
    if message.client_id is not None:
        metadata["turn"] = message.client_id
    if message.language is not None:
        metadata["language"] = message.language
    if resolver is not None:
        metadata.update(
            resolver.vouch(
                identity,
                conversation_id=message.conversation_id,
                channel=message.channel,
                channel_user=_channel_user(message),
                turn=message.client_id,
            )
        )
    return metadata


class ConversationService:
    """Runs customer turns one at a time per conversation, in arrival order."""

    def __init__(
        self,
        *,
        store: ConversationStore,
        hub: ConversationHub,
        dialogue: RasaClient,
        texts: Texts,
        identity: IdentityResolver | None = None,
        handoff_events: HandoffEvents | None = None,
        observers: Sequence[TurnObserver] = (),
    ) -> None:
        """Compose the service from its collaborators (no ``identity``: every message is anonymous).

        ``observers`` are told of every customer turn (:class:`TurnRecord`), in this order.
        """
        self._observers = tuple(observers)
        self._identity = identity
        self._handoff_events = handoff_events or HandoffEvents()
        self._store = store
        self._hub = hub
        self._dialogue = dialogue
        self._texts = texts
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[conversation_id] = lock
        return lock

    async def open_conversation(self, conversation_id: str, channel: str, customer_id: str | None) -> ConversationInfo:
        """Return the conversation, creating it on ``channel`` if it is new."""
        return await self._store.ensure(conversation_id, channel, customer_id)

    async def handle(self, message: CustomerMessage, inbox: InboxTurn | None = None) -> TurnResult:
        """Store ``message``, get the bot's replies and store them; never raises for Rasa outages.

        The customer's message is stored before the dialogue model is asked, so nothing the
        customer sent is lost when Rasa is down; they get a polite "try again" reply instead.

        ``inbox`` comes with a push channel's stored event: its state moves with the messages
        (in the same transactions), and an event whose customer message was stored before a
        crash is finished without asking the dialogue model twice (see :meth:`_arrive`).

        The observers hear of the finished turn (a re-sent copy of a message is not one).
        """
        started = time.perf_counter()
        identity = await self._identify(message)
        async with self._lock(message.conversation_id):
            arrival = await self._arrive(message, identity, inbox)
            if not arrival.new:
                return await self._duplicate(message, arrival.message, inbox)
            held_by = arrival.handoff
            outcome: TurnOutcome
            if held_by is not None:
                result = await self._relay_to_agent(message, arrival.message, held_by, inbox)
                outcome, rasa_latency_s = "relayed_to_agent", None
            else:
                result, outcome, rasa_latency_s = await self._answer(message, identity, arrival, inbox)
        self._report(message, identity, arrival.first, outcome, started, rasa_latency_s)
        return result

    async def _identify(self, message: CustomerMessage) -> Identity:
        """Who wrote: the verified customer behind the token or the linked chat, else anonymous."""
        if message.identity is not None:
            return message.identity
        if self._identity is None:
            return ANONYMOUS
        return await self._identity.resolve(message.channel, _channel_user(message), message.customer_token)

    async def _arrive(self, message: CustomerMessage, identity: Identity, inbox: InboxTurn | None) -> _Arrival:
        """Open the conversation and store the customer's message once: a re-sent copy finds the earlier one.

        One trip to the database (:meth:`ConversationStore.arrive`) creates the conversation on
        first contact, records its verified customer, stores the message and reads the open
        handoff. A push channel's event whose message was stored before a crash (inbox state
        ``stored``) is recovered: the stored message is taken as new, and the dialogue model
        is asked whether it already answered it.
        """
        conversation_id, client_id = message.conversation_id, message.client_id
        if inbox is not None and inbox.state == "stored" and client_id is not None:
            earlier = await self._store.find_client_id(conversation_id, client_id)
            if earlier is not None:
                _LOGGER.info("turn.recovering conversation=%s item=%d", log_id(conversation_id), inbox.item_id)
                await self._store.ensure(conversation_id, message.channel, identity.customer_id, message.address)
                if identity.customer_id is not None:
                    await self._store.attach_customer(conversation_id, identity.customer_id)
                return _Arrival(
                    earlier,
                    new=True,
                    recovering=True,
                    handoff=await self._store.active_handoff(conversation_id),
                    first=await self._is_first_turn(conversation_id, earlier.cursor),
                )
        arrived = await self._store.arrive(
            conversation_id,
            message.channel,
            message.text,
            customer_id=identity.customer_id,
            address=message.address,
            payload=message.payload,
            client_id=client_id,
            inbox=_mark(inbox, "stored"),
        )
        if arrived.new:
            self._hub.publish(arrived.message)
        return _Arrival(arrived.message, arrived.new, False, arrived.handoff, arrived.first)

    async def _duplicate(self, message: CustomerMessage, earlier: StoredMessage, inbox: InboxTurn | None) -> TurnResult:
        """A copy of a message already handled: nothing more happens (its event is set aside)."""
        _LOGGER.info("turn.duplicate conversation=%s cursor=%d", log_id(message.conversation_id), earlier.cursor)
        if inbox is not None:  # another event carried the same message
            await self._store.append_replies(message.conversation_id, (), inbox=_mark(inbox, "ignored", earlier))
        return TurnResult(earlier, (), True, await self._store.active_handoff(message.conversation_id))

    async def _relay_to_agent(
        self, message: CustomerMessage, stored: StoredMessage, handoff: HandoffRef, inbox: InboxTurn | None
    ) -> TurnResult:
        """A person has (or is about to take) the conversation: the bot stays silent, the agent hears it."""
        await self._handoff_events.publish(CustomerWrote(handoff.id, stored))
        if inbox is not None:
            await self._store.append_replies(message.conversation_id, (), inbox=_mark(inbox, "done", stored))
        _LOGGER.info("turn.relayed_to_agent conversation=%s handoff=%d", log_id(message.conversation_id), handoff.id)
        return TurnResult(stored, (), False, handoff)

    async def _answer(
        self, message: CustomerMessage, identity: Identity, arrival: _Arrival, inbox: InboxTurn | None
    ) -> tuple[TurnResult, TurnOutcome, float]:
        """Ask the dialogue model, store its replies (or a polite "try again"), announce a new handoff.

        Returns the turn's result, its outcome and the seconds spent waiting for the model.
        """
        conversation_id, done = message.conversation_id, _mark(inbox, "done", arrival.message)
        asked = time.perf_counter()
        plan = await self._plan_requests(message)
        try:
            bot_replies = await self._ask_dialogue(message, identity, plan, recovering=arrival.recovering)
        except DialogueUnavailable as exc:
            rasa_latency_s = time.perf_counter() - asked
            _LOGGER.warning("turn.dialogue_unavailable conversation=%s reason=%s", log_id(conversation_id), exc)
            replies, handoff = await self._finish_turn(conversation_id, [(self._texts.dialogue_unavailable, ())], done)
            return TurnResult(arrival.message, replies, False, handoff), "dialogue_unavailable", rasa_latency_s
        rasa_latency_s = time.perf_counter() - asked
        answer: list[tuple[str, Sequence[Button]]] = [(r.text, r.buttons) for r in bot_replies]
        answer += self._offer_second_request(plan)
        replies, handoff = await self._finish_turn(conversation_id, answer, done)
        if handoff is not None:
            # Requested by the action server during this turn (none was open before it).
            await self._handoff_events.publish(HandoffOpened(handoff.id, conversation_id))
        return TurnResult(arrival.message, replies, False, handoff), "answered", rasa_latency_s

    def _report(
        self,
        message: CustomerMessage,
        identity: Identity,
        first_turn: bool,
        outcome: TurnOutcome,
        started: float,
        rasa_latency_s: float | None,
    ) -> None:
        """Tell the observers how the turn went; their failures are logged, never the turn's.

        The turn's replies are stored by now: a failing observer must not make the inbox run
        the turn again.
        """
        if not self._observers:
            return
        record = TurnRecord(
            conversation_id=message.conversation_id,
            channel=message.channel,
            customer_id=identity.customer_id,
            outcome=outcome,
            latency_s=time.perf_counter() - started,
            rasa_latency_s=rasa_latency_s,
            first_turn=first_turn,
        )
        for observer in self._observers:
            try:
                observer.turn_done(record)
            except Exception:
                _LOGGER.exception("turn.observer_failed observer=%s", type(observer).__name__)

    async def _is_first_turn(self, conversation_id: str, cursor: int) -> bool:
        """Whether the customer message at ``cursor`` is the first the customer sent in this conversation."""
        earliest = await self._store.messages_after(conversation_id, None, _FIRST_TURN_SCAN)
        first = next((m.cursor for m in earliest if m.sender == Sender.CUSTOMER.value), None)
        return first == cursor

    async def _plan_requests(self, message: CustomerMessage) -> RequestPlan:
        """What the model gets of a typed message, and the second request offered after its answer.

        Only a message joining two parts is parsed (the whole and each part, with Rasa's
        stateless ``/model/parse``), before it is answered, so that two requests are served
        in the order the customer wrote them (bot/conversations/requests.py).
        """
        as_written = RequestPlan(serve=message.payload or message.text)
        parts = split_requests(message.text) if message.payload is None else None
        if parts is None:
            return as_written
        try:
            whole, first, second = await asyncio.gather(
                self._dialogue.parse(message.text), self._dialogue.parse(parts[0]), self._dialogue.parse(parts[1])
            )
        except DialogueUnavailable:
            return as_written  # the message still goes to the model, whole and without an offer
        plan = plan_requests(message.text, parts, Parsed(*whole), Parsed(*first), Parsed(*second))
        if plan.split:
            _LOGGER.info("turn.first_request intent=%s whole=%s", first[0], whole[0])
        if plan.offer is not None:
            _LOGGER.info("turn.second_request intent=%s", second[0])
        return plan

    def _offer_second_request(self, plan: RequestPlan) -> list[tuple[str, Sequence[Button]]]:
        """The reply offering the second request of a message as a button, or none."""
        if plan.offer is None:
            return []
        title = button_title(plan.offer)
        return [(self._texts.second_request.format(request=title), (Button(title, plan.offer),))]

    async def _ask_dialogue(
        self, message: CustomerMessage, identity: Identity, plan: RequestPlan, *, recovering: bool
    ) -> list[BotReply]:
        """The model's replies to this message (after a crash: the ones it already gave, if any).

        The model gets ``plan.serve``: the message, or its first request when it holds two
        (the metadata then carries the whole message; the transcript keeps it as written).

        Raises:
            DialogueUnavailable: Rasa is down, or sent no reply (an action failed).
        """
        conversation_id, client_id = message.conversation_id, message.client_id
        bot_replies = None
        if recovering and client_id is not None:
            bot_replies = await self._dialogue.replies_of_turn(conversation_id, client_id)
        if bot_replies is None:
            metadata = {**_metadata(message, identity, self._identity), **plan.metadata()}
            bot_replies = await self._dialogue.send(conversation_id, plan.serve, metadata)
        if not bot_replies:
            # Every turn of the model answers; silence means an action failed (e.g. the
            # action server is down), and the customer must not be left waiting.
            raise DialogueUnavailable("the dialogue model sent no reply")
        _LOGGER.info("turn.answered conversation=%s replies=%d", log_id(conversation_id), len(bot_replies))
        return bot_replies

    async def _finish_turn(
        self, conversation_id: str, replies: Sequence[tuple[str, Sequence[Button]]], done: InboxMark | None
    ) -> tuple[list[StoredMessage], HandoffRef | None]:
        """Store a turn's replies (with the inbox item's completion) at once, publish them; the open handoff after."""
        stored, handoff = await self._store.finish_turn(conversation_id, replies, inbox=done)
        for message in stored:
            self._hub.publish(message)
        return stored, handoff

    async def bot_turn(self, conversation_id: str, intent: str) -> list[StoredMessage]:
        """Let the bot speak without a customer message (after a handoff ends); store and publish it."""
        async with self._lock(conversation_id):
            try:
                bot_replies = await self._dialogue.trigger_intent(conversation_id, intent)
            except DialogueUnavailable as exc:
                _LOGGER.warning("turn.trigger_failed conversation=%s reason=%s", log_id(conversation_id), exc)
                return []
            return [await self._append_bot(conversation_id, r.text, r.buttons) for r in bot_replies]

    async def agent_message(self, conversation_id: str, text: str) -> StoredMessage:
        """Store an agent's reply in the conversation and deliver it on the customer's channel."""
        async with self._lock(conversation_id):
            stored, _ = await self._store.append(conversation_id, Sender.AGENT, text)
            self._hub.publish(stored)
            return stored

    async def system_message(self, conversation_id: str, text: str) -> StoredMessage:
        """Store and deliver a notice from the support system (e.g. a handoff closed)."""
        async with self._lock(conversation_id):
            stored, _ = await self._store.append(conversation_id, Sender.SYSTEM, text)
            self._hub.publish(stored)
            return stored

    async def _append_bot(self, conversation_id: str, text: str, buttons: Sequence[Button] = ()) -> StoredMessage:
        stored, _ = await self._store.append(conversation_id, Sender.BOT, text, buttons=buttons)
        self._hub.publish(stored)
        return stored
