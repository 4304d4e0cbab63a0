"""Agent-facing texts of the Slack desk (one place, so a deploying team can reword them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlackDeskTexts:
    """What agents read in Slack; ``{name}``-style fields are filled with escaped values."""

    new_handoff: str = "New handoff #{id}"
    reason: str = "Reason"
    customer: str = "Customer"
    anonymous: str = "not verified"
    channel: str = "Channel"
    summary: str = "Summary"
    no_summary: str = "(no summary)"
    claim_button: str = "Claim"
    resolve_button: str = "Resolve"
    state_open: str = "Waiting for an agent"
    state_claimed: str = "Claimed by {name}"
    state_resolved: str = "Resolved by {name}"
    state_handed_back: str = "Handed back to the bot by {name}"
    state_expired: str = "Expired"
    escalated: str = "Still waiting for an agent: please claim this handoff."
    customer_wrote: str = "*Customer:* {text}"
    agent_wrote: str = "*{name}* (other desk): {text}"
    already_claimed: str = "Already claimed by someone else."
    already_yours: str = "You already hold this handoff."
    handoff_closed: str = "This handoff is already resolved."
    handoff_missing: str = "This handoff no longer exists."
    not_an_agent: str = "You are not registered as an agent."
    claim_first: str = "Claim this handoff first: your reply was not sent to the customer."
    resolve_needs_claim: str = "Claim this handoff before resolving it."
    not_yours: str = "Only the agent who claimed this handoff can do that."
    reply_too_long: str = "Your reply is too long for the customer's channel; it was not sent."
    erased: str = "This handoff's details were erased at the customer's request."
