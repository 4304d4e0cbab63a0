"""Troubleshooting as a conversation: start, answer, pause, resume, give up.

Pure functions over two small JSON values that the dialogue keeps in slots:

* ``active``: the guide being walked (:func:`bot.diagnostics.state.active_state`), or ``None``;
* ``paused``: guides the customer left, most recent first, at most one per guide.

Each call returns a :class:`FlowTurn`: what to say, the new slot values and, when a guide
runs out of steps, the handoff to request. Customer-visible wording of the flow itself
(as opposed to the guides' own texts) is named by response keys of the Rasa domain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.diagnostics.engine import DiagnosticSession, SessionError, Step
from bot.diagnostics.matching import normalise
from bot.diagnostics.model import DiagnosticTree
from bot.diagnostics.state import State, active_state

#: Answers not understood in a row after which the step also offers a person.
OFFER_HUMAN_AFTER_MISSES = 2
#: Payload of the "back to ..." button; the entity names the guide.
RESUME_INTENT = "resume_diagnostic"
HUMAN_PAYLOAD = "/request_human"

Guides = Mapping[str, DiagnosticTree]


@dataclass(frozen=True)
class Say:
    """One bot message: a domain response (with template values) or a literal text.

    Attributes:
        response: Name of a domain response, e.g. ``utter_diag_paused``; ``None`` for ``text``.
        text: Literal text (a guide's own step text).
        buttons: (title, payload) pairs.
        values: Values for the response's ``{placeholders}``.
    """

    response: str | None = None
    text: str | None = None
    buttons: tuple[tuple[str, str], ...] = ()
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HandoffNeeded:
    """A guide ended in a handoff: why, and what the agent should see."""

    reason: str
    packet: Mapping[str, Any]


@dataclass(frozen=True)
class FlowTurn:
    """The outcome of one flow call: messages, the new slot values and an optional handoff.

    ``followup`` names a domain action to run next (``utter_anything_else`` after a fix).
    ``outcome`` says what happened: ``started``, ``resumed``, ``next_step``, ``corrected`` (the
    previous answer was taken back), ``not_understood``, ``paused``, ``resolved``, ``handoff``
    or ``none``.
    """

    messages: tuple[Say, ...]
    active: State | None
    paused: list[State]
    handoff: HandoffNeeded | None = None
    outcome: str = "next_step"
    followup: str | None = None


def _buttons(step: Step) -> tuple[tuple[str, str], ...]:
    return tuple((button.title, button.payload) for button in step.buttons)


def resume_payload(guide_id: str) -> str:
    """Return the payload of a "back to <guide>" button."""
    return f'/{RESUME_INTENT}{{"guide":"{guide_id}"}}'


def back_button(guide_id: str, title: str) -> tuple[str, str]:
    """The (title, payload) of the button that goes back to a paused guide."""
    return (f"Back to: {title}", resume_payload(guide_id))


def _restore(guides: Guides, state: Mapping[str, Any] | None) -> DiagnosticSession | None:
    if not state:
        return None
    try:
        return DiagnosticSession.from_dict(state, guides)
    except SessionError:
        return None  # the guide was edited or removed since; the customer starts afresh


def _copy(paused: Sequence[Mapping[str, Any]]) -> list[State]:
    return [dict(item) for item in paused]


def _without(paused: Sequence[Mapping[str, Any]], guide_id: str) -> list[State]:
    return [dict(item) for item in paused if item.get("guide") != guide_id]


def _paused_entry(session: DiagnosticSession) -> State:
    entry = session.to_dict()
    entry["title"] = session.tree.title
    return entry


def _show(session: DiagnosticSession, lead: Say | None = None) -> tuple[Say, ...]:
    step = session.current_step()
    buttons = _buttons(step)
    if session.misses >= OFFER_HUMAN_AFTER_MISSES:
        buttons = (*buttons, ("Talk to a person", HUMAN_PAYLOAD))
    shown = Say(text=step.text, buttons=buttons)
    return (lead, shown) if lead is not None else (shown,)


def repeat(
    guides: Guides, active: Mapping[str, Any] | None, paused: Sequence[Mapping[str, Any]], lead: Say | None = None
) -> FlowTurn:
    """Show the running guide's current step again (after a question answered on the side)."""
    session = _restore(guides, active)
    if session is None or session.finished:
        return FlowTurn((), None, _copy(paused), outcome="none")
    return FlowTurn(_show(session, lead), active_state(session), _copy(paused))


def guide_for_intent(guides: Guides, intent: str | None) -> DiagnosticTree | None:
    """Return the guide started by ``intent``, if any."""
    return next((tree for tree in guides.values() if tree.intent == intent), None)


def start(
    guides: Guides,
    intent: str | None,
    active: Mapping[str, Any] | None,
    paused: Sequence[Mapping[str, Any]],
    opener: str = "",
) -> FlowTurn:
    """Start the guide for a problem intent, or resume it when the customer left it earlier.

    A different guide that was running is paused (it can be resumed later). ``opener`` is the
    message that described the problem: when it already answers the first question(s) of a
    new guide ("my Velo AX3000 keeps dropping the wifi"), those are taken
    (:meth:`DiagnosticSession.take_opener`) and the guide's ``intro`` leads the first step
    not yet answered.
    """
    tree = guide_for_intent(guides, intent)
    if tree is None:
        return FlowTurn((Say(response="utter_diag_no_guide"),), dict(active) if active else None, _copy(paused))
    running = _restore(guides, active)
    if running is not None and running.guide_id == tree.id:
        return FlowTurn(_show(running, Say(response="utter_diag_continue")), active_state(running), _copy(paused))
    new_paused = [dict(item) for item in paused]
    if running is not None and not running.finished:
        new_paused = [_paused_entry(running), *_without(new_paused, running.guide_id)]
    earlier = next((item for item in new_paused if item.get("guide") == tree.id), None)
    resumed = _restore(guides, earlier)
    if resumed is not None and not resumed.finished:
        resumed.misses = 0
        lead = Say(response="utter_diag_resumed", values={"guide": tree.title})
        return FlowTurn(_show(resumed, lead), active_state(resumed), _without(new_paused, tree.id), outcome="resumed")
    session = DiagnosticSession.start(tree)
    answered = session.take_opener(opener) if opener else ()
    intro = Say(text=tree.intro) if answered and tree.intro else None
    return FlowTurn(_show(session, intro), active_state(session), _without(new_paused, tree.id), outcome="started")


_TITLE_STOPWORDS = frozenset({"cant", "keeps", "failed", "wont", "reset", "device", "problem"})


def _mentions(tree: DiagnosticTree, text: str) -> int:
    """How many distinctive words of the guide's title (or intent) the text contains."""

    def words(value: str) -> set[str]:
        return {w for w in normalise(value.replace("-", "")).split() if len(w) >= 4} - _TITLE_STOPWORDS

    said = words(text)
    said |= {w.removesuffix("s") for w in said}
    return len(said & (words(tree.title) | words(tree.intent.replace("_", " "))))


def resume(
    guides: Guides,
    guide_id: str | None,
    active: Mapping[str, Any] | None,
    paused: Sequence[Mapping[str, Any]],
    text: str = "",
) -> FlowTurn:
    """Go back to a guide: the one named (by button or in the text), else the most recently paused.

    Saying "back to ..." while a guide runs and others are paused means one of those others,
    unless the text names the running one.
    """
    running = _restore(guides, active)
    sessions = [s for s in (_restore(guides, item) for item in paused) if s is not None and not s.finished]
    if guide_id is None and text:
        named = [(score, s) for s in ([running] if running else []) + sessions if (score := _mentions(s.tree, text))]
        if named:
            guide_id = max(named, key=lambda pair: pair[0])[1].guide_id
    if running is not None and (running.guide_id == guide_id or (guide_id is None and not sessions)):
        return FlowTurn(_show(running, Say(response="utter_diag_continue")), active_state(running), _copy(paused))
    for session in sessions:
        if guide_id is not None and session.guide_id != guide_id:
            continue
        new_paused = _without(paused, session.guide_id)
        if running is not None and not running.finished:
            new_paused = [_paused_entry(running), *new_paused]
        session.misses = 0
        lead = Say(response="utter_diag_resumed", values={"guide": session.tree.title})
        return FlowTurn(_show(session, lead), active_state(session), new_paused, outcome="resumed")
    return FlowTurn(
        (Say(response="utter_diag_nothing_to_resume"),), dict(active) if active else None, _copy(paused), outcome="none"
    )


def pause(
    guides: Guides, active: Mapping[str, Any] | None, paused: Sequence[Mapping[str, Any]], *, announce: bool = True
) -> FlowTurn:
    """Put the running guide on hold at its current step."""
    running = _restore(guides, active)
    if running is None or running.finished:
        messages = (Say(response="utter_ok"),) if announce else ()
        return FlowTurn(messages, None, _copy(paused), outcome="none")
    new_paused = [_paused_entry(running), *_without(paused, running.guide_id)]
    messages = ()
    if announce:
        say = Say(
            response="utter_diag_paused",
            buttons=(back_button(running.guide_id, running.tree.title),),
            values={"guide": running.tree.title},
        )
        messages = (say,)
    return FlowTurn(messages, None, new_paused, outcome="paused")


def _packet(session: DiagnosticSession, ended_at: str) -> dict[str, Any]:
    return {
        "guide": session.guide_id,
        "guide_title": session.tree.title,
        "ended_at": ended_at,
        "device": session.device,
        "path": [{"step": node_id, "answer": title} for node_id, title in session.path],
    }


def answer(
    guides: Guides, text: str, active: Mapping[str, Any] | None, paused: Sequence[Mapping[str, Any]]
) -> FlowTurn:
    """Advance the running guide on a button payload or a free-text answer."""
    session = _restore(guides, active)
    if session is None or session.finished:
        # A button of a guide that has ended or was left: say so rather than guess.
        return FlowTurn((Say(response="utter_diag_nothing_to_resume"),), None, _copy(paused), outcome="none")
    before = session.node_id
    outcome = session.answer(text)
    if outcome.kind == "not_understood":
        lead = Say(response="utter_diag_not_understood")
        return FlowTurn(_show(session, lead), active_state(session), _copy(paused), outcome="not_understood")
    if outcome.kind == "next_step":
        moved = "corrected" if outcome.corrected else "next_step"
        return FlowTurn(_show(session), active_state(session), _copy(paused), outcome=moved)
    remaining = _without(paused, session.guide_id)
    if outcome.kind == "resolved":
        closing = Say(text=outcome.text) if outcome.text else Say(response="utter_diag_resolved")
        # A follow-up action rather than a message, so the rules for its answers apply.
        return FlowTurn((closing,), None, remaining, outcome="resolved", followup="utter_anything_else")
    closing = Say(text=outcome.text) if outcome.text else Say(response="utter_diag_handoff")
    handoff = HandoffNeeded("diagnostics_exhausted", _packet(session, session.node_id or before))
    return FlowTurn((closing,), None, remaining, handoff=handoff, outcome="handoff")


def give_up(guides: Guides, active: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Return the running guide's path for a handoff packet (the customer asked for a person)."""
    session = _restore(guides, active)
    if session is None or session.finished:
        return None
    return _packet(session, session.node_id)
