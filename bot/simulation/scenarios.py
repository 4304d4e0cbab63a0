"""The kinds of conversation the simulation plays, each as customers have them, with their share.

Each scenario plays one visit and returns what happened as a short label ("resolved, rated",
"handoff: left open", "guide did not start"): the summary counts the labels, so a conversation
the bot took elsewhere than planned shows as such instead of being hidden.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.db.models import OrderStatus
from bot.simulation.transport import CustomerChat, Reply
from bot.simulation.visit import Visit, rate_or_skip, work_handoff

#: Share of the anonymous, handoff-free conversations that come through the web widget.
WEB_SHARE = 0.3


@dataclass(frozen=True)
class Scenario:
    """A kind of visit: its weight in the mix, how many conversations it makes, and how it goes."""

    name: str
    weight: int
    play: Callable[[Visit], Awaitable[str]]
    conversations: int = 1


def _not(payload: str) -> bool:
    return not payload.startswith("/")


async def greeting(visit: Visit) -> str:
    """Says hello, maybe goodbye, and nothing else."""
    chat = await visit.chat(WEB_SHARE)
    await visit.say(chat, visit.say_phrase("greetings"))
    if visit.chance(0.5):
        await visit.say(chat, visit.say_phrase("goodbyes"))
        return "said goodbye"
    return "left after hello"


async def products(visit: Visit) -> str:
    """A product question (price, stock in a city, specs, a comparison) and follow-ups about it."""
    chat = await visit.chat(WEB_SHARE)
    names = visit.phrases.lists["products"]
    product, other = visit.rng.sample(names, 2)
    if visit.chance(0.3):
        await visit.say(chat, visit.say_phrase("greetings"))
    question = visit.say_phrase("product_questions", product=product, other=other, city=visit.say_phrase("cities"))
    await _pick_if_asked(visit, chat, await visit.say(chat, question))
    follow_ups = visit.rng.choice((0, 1, 1, 2))
    for _ in range(follow_ups):
        other = visit.rng.choice([name for name in names if name != product])
        follow_up = visit.say_phrase("product_follow_ups", other=other, city=visit.say_phrase("cities"))
        await _pick_if_asked(visit, chat, await visit.say(chat, follow_up))
    await visit.maybe_goodbye(chat, 0.4)
    return f"{1 + follow_ups} question{'s' if follow_ups else ''}"


async def _pick_if_asked(visit: Visit, chat: CustomerChat, reply: Reply) -> None:
    """Answer "which one do you mean?" (buttons naming products) by tapping one, as most customers do."""
    choices = [button for button in reply.buttons if '"sku"' in button[1]]
    if choices and visit.chance(0.8):
        await visit.tap(chat, visit.rng.choice(choices))


async def help_center(visit: Visit) -> str:
    """A policy or how-to question; the customer taps "did that help?" yes or no, or opens a suggestion."""
    chat = await visit.chat(WEB_SHARE)
    reply = await visit.say(chat, visit.say_phrase("help_questions"))
    label = "answered"
    suggestion = reply.button(lambda p: p.startswith("/help_article"))
    if reply.button(lambda p: p.startswith("/help_feedback")) is None and suggestion is not None:
        if not visit.chance(0.7):
            return "suggestions, none opened"
        reply = await visit.tap(chat, suggestion)
        label = "suggested, article opened"
    feedback_yes = reply.button(lambda p: p.startswith("/help_feedback") and '"yes"' in p)
    feedback_no = reply.button(lambda p: p.startswith("/help_feedback") and '"no"' in p)
    if feedback_yes is None or feedback_no is None:
        person = reply.button(lambda p: p == "/request_human")
        if person is not None and chat.channel == "direct" and visit.chance(0.3):
            return f"no answer, {await _to_person(visit, chat, person)}"
        return "no answer" if label == "answered" else label
    if visit.chance(0.68):
        await visit.tap(chat, feedback_yes)
        await visit.maybe_goodbye(chat, 0.3)
        return f"{label}, helpful"
    reply = await visit.tap(chat, feedback_no)
    other, person = reply.button(lambda p: p.startswith("/help_article")), reply.button(lambda p: p == "/request_human")
    roll = visit.rng.random()
    if other is not None and roll < 0.4:
        await visit.tap(chat, other)
        return f"{label}, not helpful, read another"
    if person is not None and chat.channel == "direct" and roll < 0.6:
        return f"{label}, not helpful, {await _to_person(visit, chat, person)}"
    return f"{label}, not helpful"


async def _to_person(visit: Visit, chat: CustomerChat, person: tuple[str, str]) -> str:
    reply = await visit.tap(chat, person)
    return await _handoff(visit, chat, reply)


async def _handoff(visit: Visit, chat: CustomerChat, reply: Reply) -> str:
    if reply.handoff_id is None:
        return "no handoff"
    return f"handoff: {await work_handoff(visit, chat, reply.handoff_id)}"


async def _walk(
    visit: Visit, chat: CustomerChat, guide: str, ending: str, leave_after: int | None
) -> tuple[Reply, int]:
    """Start guide ``guide`` and answer its steps towards ``ending``; the last reply and the steps answered."""
    walker = visit.walkers[guide]
    reply = await visit.say(chat, visit.phrases.opener(visit.rng, guide))
    steps = 0
    while (node := walker.shown(reply)) is not None and steps < 20:
        if leave_after is not None and steps >= leave_after:
            break
        index = walker.choose(node, ending, visit.rng)
        if index is None:
            break
        answer = walker.answer(node, index, visit.rng)
        reply = await (visit.say(chat, answer) if isinstance(answer, str) else visit.tap(chat, answer))
        steps += 1
    return reply, steps


async def guide_solved(visit: Visit) -> str:
    """A problem solved with a troubleshooting guide; the customer rates the bot or not. Some leave half-way."""
    chat = await visit.chat(WEB_SHARE)
    guide = visit.rng.choice(sorted(visit.walkers))
    leave_after = visit.rng.choice((1, 2)) if visit.chance(0.15) else None
    reply, steps = await _walk(visit, chat, guide, "resolved", leave_after)
    if steps == 0 and visit.walkers[guide].shown(reply) is None:
        return "guide did not start"
    if leave_after is not None and visit.walkers[guide].shown(reply) is not None:
        await visit.say(chat, visit.say_phrase("guide_leave"))
        await visit.maybe_goodbye(chat, 0.5)
        return "left the guide"
    return f"resolved, {await rate_or_skip(visit, chat, reply, agent=False)}"


async def guide_exhausted(visit: Visit) -> str:
    """A guide that runs out of steps: the bot hands over to a person."""
    chat = visit.direct()
    reply, _ = await _walk(visit, chat, visit.rng.choice(sorted(visit.walkers)), "handoff", None)
    return await _handoff(visit, chat, reply)


async def order_status(visit: Visit) -> str:
    """A verified customer asks where an order of theirs is, and maybe about warranty, bills or orders."""
    customer = visit.demo_customer()
    if customer is None:
        return "no demo customer with orders"
    number = visit.rng.choice(customer.orders)
    chat = visit.direct(customer.id)
    reply = await visit.say(chat, visit.say_phrase("order_status", order=number))
    answered = any(number in text for text in reply.texts)
    if visit.chance(0.4):
        await visit.say(chat, visit.say_phrase("account_questions"))
    await visit.maybe_goodbye(chat, 0.3)
    return "answered" if answered else "order not named in the answer"


async def self_service(visit: Visit) -> str:
    """A new customer cancels or returns a new order, or unsubscribes; sometimes changes their mind at the end."""
    customer = await visit.in_thread(visit.records.add_customer, visit.rng)
    kind = visit.rng.choices(("cancel", "return", "opt_out"), weights=(45, 40, 15))[0]
    chat = visit.direct(customer)
    if kind == "cancel":
        number = await visit.in_thread(visit.records.add_order, customer, OrderStatus.PROCESSING, visit.rng)
        reply = await visit.say(chat, visit.say_phrase("cancel", order=number))
    elif kind == "return":
        days = visit.rng.randrange(2, 12)
        number = await visit.in_thread(visit.records.add_order, customer, OrderStatus.DELIVERED, visit.rng, days)
        reply = await visit.say(chat, visit.say_phrase("return", order=number))
        reasons = [button for button in reply.buttons if _not(button[1])]
        if reasons:
            reply = await visit.tap(chat, visit.rng.choice(reasons))
    else:
        reply = await visit.say(chat, visit.say_phrase("opt_out"))
    yes = reply.button(lambda p: p.startswith("/service_confirm") and '"yes"' in p)
    no = reply.button(lambda p: p.startswith("/service_confirm") and '"no"' in p)
    if yes is None or no is None:
        return f"{kind}: not confirmed"
    if visit.chance(0.15):
        await visit.tap(chat, no)
        return f"{kind}: changed their mind"
    reply = await visit.tap(chat, yes)
    return f"{kind}: done, {await rate_or_skip(visit, chat, reply, agent=False)}"


async def person(visit: Visit) -> str:
    """Asks for a person straight away (half of them signed in); an agent takes it from there."""
    customer = visit.demo_customer() if visit.chance(0.5) else None
    chat = visit.direct(customer.id if customer else None)
    if visit.chance(0.4):
        await visit.say(chat, visit.say_phrase("greetings"))
    return await _handoff(visit, chat, await visit.say(chat, visit.say_phrase("ask_person")))


async def frustrated(visit: Visit) -> str:
    """Shouts or piles up exclamation marks: the bot hands over at once."""
    chat = visit.direct()
    return await _handoff(visit, chat, await visit.say(chat, visit.say_phrase("frustrated")))


async def not_understood(visit: Visit) -> str:
    """Gibberish or something no support team answers; some try again (twice not understood: a person)."""
    roll = visit.rng.random()
    chat = await visit.chat(WEB_SHARE) if roll >= 0.5 else visit.direct()
    first = visit.say_phrase("not_understood")
    await visit.say(chat, first)
    if roll < 0.3:
        second = visit.rng.choice([p for p in visit.phrases.lists["not_understood"] if p != first])
        return f"twice, {await _handoff(visit, chat, await visit.say(chat, second))}"
    if roll < 0.5:
        await visit.say(chat, visit.say_phrase("help_questions"))
        return "then asked something else"
    return "left"


async def repeat_contact(visit: Visit) -> str:
    """A verified customer asks about an order, then comes back in the web widget about the same order."""
    customer = visit.demo_customer()
    if customer is None:
        return "no demo customer with orders"
    number = visit.rng.choice(customer.orders)
    first = visit.direct(customer.id)
    await visit.say(first, visit.say_phrase("order_status", order=number))
    await visit.maybe_goodbye(first, 0.5)
    again = await visit.widget(customer.id)
    reply = await visit.say(again, visit.say_phrase("order_again", order=number))
    return "came back in the widget" + ("" if any(number in text for text in reply.texts) else ", order not named")


SCENARIOS = (
    Scenario("greeting only", 8, greeting),
    Scenario("product questions", 12, products),
    Scenario("help center", 13, help_center),
    Scenario("guide solved", 15, guide_solved),
    Scenario("guide exhausted", 7, guide_exhausted),
    Scenario("order status", 8, order_status),
    Scenario("self-service", 8, self_service),
    Scenario("asks for a person", 10, person),
    Scenario("frustrated", 3, frustrated),
    Scenario("not understood", 9, not_understood),
    Scenario("repeat contact", 7, repeat_contact, conversations=2),
)
