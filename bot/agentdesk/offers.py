"""Offers in Slack: the router offers a handoff to one agent first, by a DM with "Accept" and "Decline".

The DM is a ``slack_desk_posts`` row of kind ``offer`` while its buttons stand; once it is
answered or has passed (claimed by someone, declined, offered to the next agent, sent to the
queue's team, closed) it is edited to say so, without buttons, and becomes ``offer_done``.
While a handoff is only offered (nothing in the agents' channel yet), what the customer writes
goes into the offer's thread, so the agent decides knowing it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_sdk.web.async_client import AsyncWebClient

from bot.agentdesk.blocks import HandoffCard, offer_message
from bot.agentdesk.roster import SlackRoster
from bot.agentdesk.texts import SlackDeskTexts
from bot.agentdesk.threads import SlackThread, SlackThreads
from bot.handoff.service import HandoffService

_LOGGER = logging.getLogger(__name__)

#: Answers a Slack member alone: (channel, user, text, thread ts or None).
Ephemeral = Callable[[str, str, str, "str | None"], Awaitable[None]]


class SlackOffers:
    """Posts offers to agents' DMs, takes their answers, and edits the offers when they pass."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        handoffs: HandoffService,
        threads: SlackThreads,
        roster: SlackRoster,
        texts: SlackDeskTexts,
        card: Callable[[int], Awaitable[HandoffCard | None]],
        ephemeral: Ephemeral,
    ) -> None:
        """Compose the offers from the desk's parts (``card`` reads what a handoff's message shows)."""
        self._client = client
        self._handoffs = handoffs
        self._threads = threads
        self._roster = roster
        self._texts = texts
        self._card = card
        self._ephemeral = ephemeral

    async def offer(self, handoff_id: int, agent_id: str) -> None:
        """DM the offer to the agent (earlier offers of the handoff have passed)."""
        await self.settle(handoff_id, self._texts.offer_passed)
        slack_user = await self._roster.slack_user(agent_id)
        card = await self._card(handoff_id)
        if slack_user is None or card is None:
            _LOGGER.info("slack_desk.offer_not_posted handoff=%d agent=%s", handoff_id, agent_id)
            return
        text, blocks = offer_message(card, self._texts, state=self._texts.offer_open, open_offer=True)
        response = await self._client.chat_postMessage(
            channel=slack_user, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
        )
        channel, ts = str(response["channel"]), str(response["ts"])
        if not await self._threads.record_offer(handoff_id, channel, ts):
            await self._client.chat_delete(channel=channel, ts=ts)
            return
        _LOGGER.info("slack_desk.offered handoff=%d agent=%s", handoff_id, agent_id)

    async def settle(self, handoff_id: int, state: str) -> None:
        """Every standing offer of the handoff now says ``state`` and loses its buttons."""
        for offer in await self._threads.open_offers(handoff_id):
            if await self._threads.finish_offer(offer):
                await self._show(handoff_id, offer, state)

    async def accept(self, handoff_id: int, user: str, offer: SlackThread) -> None:
        """Accept: the agent claims the handoff (the offer is then edited by the ``HandoffClaimed`` event)."""
        agent = await self._roster.agent_for(user)
        if agent is None:
            await self._ephemeral(offer.channel, user, self._texts.not_an_agent, None)
            return
        outcome = await self._handoffs.claim(handoff_id, agent.id, via="slack")
        refused = self._texts.claim_refused(outcome)
        if refused is not None:
            await self._ephemeral(offer.channel, user, refused, None)
        if outcome in ("taken", "resolved", "not_found") and await self._threads.finish_offer(offer):
            await self._show(handoff_id, offer, self._texts.offer_passed)

    async def decline(self, handoff_id: int, user: str, offer: SlackThread) -> None:
        """Decline: the router offers the handoff to someone else (or to the team)."""
        agent = await self._roster.agent_for(user)
        if agent is None:
            await self._ephemeral(offer.channel, user, self._texts.not_an_agent, None)
            return
        outcome = await self._handoffs.decline(handoff_id, agent.id, via="slack")
        if outcome == "declined":
            await self._threads.finish_offer(offer)  # before the passed-on offer's jobs run: they skip it
            await self._show(handoff_id, offer, self._texts.offer_declined)
            return
        answer = self._texts.not_offered if outcome == "not_offered" else self._texts.handoff_missing
        await self._ephemeral(offer.channel, user, answer, None)
        if await self._threads.finish_offer(offer):
            await self._show(handoff_id, offer, self._texts.offer_passed)

    async def post_in_offer(self, handoff_id: int, text: str) -> bool:
        """Post ``text`` under the handoff's standing offer; False when there is none."""
        offers = await self._threads.open_offers(handoff_id)
        if not offers:
            return False
        offer = offers[-1]
        response = await self._client.chat_postMessage(
            channel=offer.channel, thread_ts=offer.ts, text=text, unfurl_links=False, unfurl_media=False
        )
        channel, ts = str(response["channel"]), str(response["ts"])
        if not await self._threads.record(handoff_id, channel, ts):
            await self._client.chat_delete(channel=channel, ts=ts)
        return True

    async def _show(self, handoff_id: int, offer: SlackThread, state: str) -> None:
        card = await self._card(handoff_id)
        if card is None:
            await self._client.chat_update(channel=offer.channel, ts=offer.ts, text=state, blocks=[])
            return
        text, blocks = offer_message(card, self._texts, state=state, open_offer=False)
        await self._client.chat_update(channel=offer.channel, ts=offer.ts, text=text, blocks=blocks)
