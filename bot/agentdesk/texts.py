"""Agent-facing texts of the Slack desk (one place, so a deploying team can reword them).

``{name}``-style fields are filled with values already escaped for Slack's mrkdwn; a text
shown as plain text (a button's title) takes none.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlackDeskTexts:
    """What agents read in Slack: the channel, the offer DMs, ``/support`` and the App Home."""

    # -- a handoff's root message in the agents' channel ------------------------------------
    new_handoff: str = "New handoff #{id}"
    reason: str = "Reason"
    customer: str = "Customer"
    anonymous: str = "not verified"
    channel: str = "Channel"
    queue: str = "Queue"
    language: str = "Language"
    unknown_language: str = "unknown"
    tags: str = "Tags"
    summary: str = "Summary"
    no_summary: str = "(no summary)"
    claim_button: str = "Claim"
    resolve_button: str = "Resolve"
    state_open: str = "Waiting for an agent"
    state_offered: str = "Offered to {name} first"
    state_claimed: str = "Claimed by {name}"
    state_resolved: str = "Resolved by {name}"
    state_handed_back: str = "Handed back to the bot by {name}"
    state_expired: str = "Expired"
    # -- posts in its thread ----------------------------------------------------------------
    escalated: str = "Still waiting for an agent: please claim this handoff."
    customer_wrote: str = "*Customer:* {text}"
    agent_wrote: str = "*{name}* (other desk): {text}"
    canned_wrote: str = "*{name}* sent the canned reply `{reply}`: {text}"
    note_added: str = ":memo: *Internal note* by *{name}* (never sent to the customer): {text}"
    transferred_to_agent: str = ":arrow_right: *{name}* transferred this handoff to {to}."
    transferred_to_queue: str = ":arrow_right: *{name}* put this handoff back in the *{queue}* queue: please claim it."
    #: The emoji (without colons) added to an agent's ``note:`` message once it is stored.
    note_reaction: str = "memo"
    # -- answers to one agent (ephemeral) ---------------------------------------------------
    already_claimed: str = "Already claimed by someone else."
    already_yours: str = "You already hold this handoff."
    offered_to_another: str = "This handoff is offered to another agent right now."
    handoff_closed: str = "This handoff is already resolved."
    handoff_missing: str = "This handoff no longer exists."
    not_an_agent: str = "You are not registered as an agent."
    claim_first: str = "Claim this handoff first: your reply was not sent to the customer."
    resolve_needs_claim: str = "Claim this handoff before resolving it."
    not_yours: str = "Only the agent who claimed this handoff can do that."
    reply_too_long: str = "Your reply is too long for the customer's channel; it was not sent."
    note_empty: str = "The note is empty; nothing was stored."
    note_too_long: str = "That note is too long; it was not stored."
    canned_unknown: str = "There is no canned reply `{reply}`: `/support canned` lists them."
    canned_unfilled: str = "The canned reply `{reply}` needs details this handoff does not have; it was not sent."
    offer_thread_reply: str = (
        "Messages here are not sent to the customer: accept the handoff, then reply in its thread "
        "in the agents' channel."
    )
    # -- the offer of a handoff to one agent (a DM) ----------------------------------------
    offer_title: str = "Handoff #{id} is offered to you"
    accept_button: str = "Accept"
    decline_button: str = "Decline"
    offer_open: str = "Accept to take it, or decline to pass it on."
    offer_claimed: str = "Claimed by {name}: the conversation is in its thread in the agents' channel."
    offer_declined: str = "You declined this handoff."
    offer_passed: str = "This offer has passed."
    offer_queued: str = "This offer has passed: the handoff went to the {queue} queue."
    offer_closed: str = "This handoff is closed."
    not_offered: str = "This handoff is no longer offered to you."
    # -- /support ---------------------------------------------------------------------------
    help: str = (
        "*/support* commands:\n"
        "• `/support online`, `/support away`, `/support offline`: your presence (online agents are offered handoffs)\n"
        "• `/support status`: your presence and how many handoffs you hold\n"
        "• `/support transfer <handoff> <AG-xx, @agent or queue> [note]`: pass a handoff you hold on\n"
        "• `/support note <handoff> <text>`: an internal note (agents only, never the customer)\n"
        "• `/support tag <handoff> <tags...>`: set a handoff's tags\n"
        "• `/support canned`: the canned replies; `/support canned <handoff> <reply>`: send one\n"
        "In a handoff's thread, `note: <text>` adds an internal note and `canned:<reply>` sends a canned reply."
    )
    command_failed: str = "That did not work (an error on our side). Please try again."
    presence_set: str = "You are now {status}."
    status: str = "You are {status} and hold {load} of {capacity} handoffs. Queues: {skills}; languages: {languages}."
    nothing: str = "none"
    usage_transfer: str = "Usage: `/support transfer <handoff> <AG-xx, @agent or queue> [note]`"
    usage_note: str = "Usage: `/support note <handoff> <text>`"
    usage_tag: str = "Usage: `/support tag <handoff> <tags...>`"
    usage_canned: str = "Usage: `/support canned` or `/support canned <handoff> <reply>`"
    bad_handoff: str = "`{value}` is not a handoff number."
    transferred_agent: str = "Handoff #{id} is now with {name}."
    transferred_queue: str = "Handoff #{id} is back in the {queue} queue."
    unknown_agent: str = "There is no agent `{target}`."
    agent_unavailable: str = "{name} cannot take it now (not online, or at capacity)."
    unknown_queue: str = "There is no queue `{target}`."
    same_agent: str = "You already hold this handoff: name another agent or a queue."
    note_stored: str = "Internal note added to handoff #{id}."
    tagged: str = "Handoff #{id} is tagged {tags}."
    untagged: str = "Handoff #{id} has no tags now."
    tags_invalid: str = "Those tags are not valid: use short words of letters, digits, `-` and `_`."
    canned_sent: str = "The canned reply `{reply}` was sent to the customer of handoff #{id}."
    canned_header: str = "Canned replies (send one with `canned:<reply>` in a handoff's thread):"
    canned_line: str = "• `{reply}`: {title}"
    canned_line_missing: str = "• `{reply}`: {title} (needs {missing})"
    canned_none: str = "There are no canned replies."
    # -- the App Home tab -------------------------------------------------------------------
    home_title: str = "Support desk"
    online_button: str = "Go online"
    away_button: str = "Away"
    offline_button: str = "Go offline"
    home_hint: str = "Type `/support` anywhere for the desk's commands."
    # -- privacy ----------------------------------------------------------------------------
    erased: str = "This handoff's details were erased at the customer's request."

    def claim_refused(self, outcome: str) -> str | None:
        """What an agent is told when a claim (Claim or Accept) did not make the handoff theirs now."""
        return {
            "already_yours": self.already_yours,
            "taken": self.already_claimed,
            "offered_to_another": self.offered_to_another,
            "resolved": self.handoff_closed,
            "not_found": self.handoff_missing,
            "unknown_agent": self.not_an_agent,
        }.get(outcome)
