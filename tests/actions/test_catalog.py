"""actions/catalog.py: product questions answered from the catalog, with a way back to a paused guide."""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions.catalog import ActionProductLookup, follow_up_of_a_product_answer
from actions.services import Services
from bot.diagnostics import DiagnosticTree
from tests.actions.helpers import T0, action, make_tracker, paused_entry, run, said, slot, user

BACK_TO_WIFI = ("Back to: Wi-Fi keeps dropping", '/resume_diagnostic{"guide":"wifi_drops"}')
MESHES = [
    ("Nimbus Mesh Duo", '/ask_product_price{"sku":"NM-DUO-EU"}'),
    ("Nimbus Mesh Trio", '/ask_product_price{"sku":"NM-TRIO-EU"}'),
    ("Nimbus Mesh Satellite", '/ask_product_price{"sku":"NM-SAT-EU"}'),
    ("Nimbus Mesh Duo BE5000", '/ask_product_price{"sku":"NM-BE-DUO-EU"}'),
]

#: The best-selling products (data/records/orders.yml), suggested when the product is unknown.
POPULAR = [
    ("Nimbus Velo AX3000", '/ask_product_price{"sku":"NR-AX3000-EU"}'),
    ("Nimbus Mesh Trio", '/ask_product_price{"sku":"NM-TRIO-EU"}'),
    ("Nimbus Reach AX1500 Range Extender", '/ask_product_price{"sku":"NE-AX1500-EU"}'),
]

#: Every product answer remembers its question, for follow-ups ("and the mesh trio?").
PRICE = SlotSet("product_question", "price")


def remembered(sku: str) -> list[dict[str, object]]:
    """The slots that remember the product an answer was about."""
    return [SlotSet("product_sku", sku), SlotSet("product_skus", [sku])]


def test_name_matches_the_domain() -> None:
    assert ActionProductLookup().name() == "action_product_lookup"


async def test_price_of_a_named_product(offline_services: Services) -> None:
    tracker = make_tracker("how much is the velo ax3000?", "ask_product_price", entities=[("product", "velo ax3000")])

    events, messages = await run(ActionProductLookup(), tracker)

    assert messages == [said(text="The Nimbus Velo AX3000 costs €129.99.")]
    assert events == [PRICE, *remembered("NR-AX3000-EU")]


async def test_price_of_the_product_talked_about_before(offline_services: Services) -> None:
    tracker = make_tracker("and how much is it?", "ask_product_price", slots={"product_sku": "NR-AX3000-EU"})

    events, messages = await run(ActionProductLookup(), tracker)

    assert messages == [said(text="The Nimbus Velo AX3000 costs €129.99.")]
    assert events == [PRICE, *remembered("NR-AX3000-EU")]


async def test_a_clarification_button_answers_for_the_chosen_sku(offline_services: Services) -> None:
    tracker = make_tracker(
        '/ask_product_price{"sku":"NM-TRIO-EU"}',
        "ask_product_price",
        entities=[("sku", "NM-TRIO-EU")],
        slots={"product_sku": "NR-AX3000-EU"},
    )

    events, messages = await run(ActionProductLookup(), tracker)

    assert messages == [said(text="The Nimbus Mesh Trio costs €279.99.")]
    assert events == [PRICE, *remembered("NM-TRIO-EU")]


async def test_a_button_for_a_product_no_longer_sold_asks_which_product(offline_services: Services) -> None:
    # The payload itself is not read as a product name.
    tracker = make_tracker(
        '/ask_product_price{"sku":"NR-GONE-EU"}', "ask_product_price", entities=[("sku", "NR-GONE-EU")]
    )

    events, messages = await run(ActionProductLookup(), tracker)

    assert messages == [said(text="Which product are you asking about? Here are some popular ones:", buttons=POPULAR)]
    assert events == [PRICE]


async def test_an_ambiguous_name_asks_which_product(offline_services: Services) -> None:
    events, messages = await run(ActionProductLookup(), make_tracker("how much is the mesh?", "ask_product_price"))

    assert messages == [said(text="Which one do you mean?", buttons=MESHES)]
    assert events == [PRICE]  # no product known yet


async def test_an_unknown_product_is_said_plainly_with_suggestions(offline_services: Services) -> None:
    tracker = make_tracker(
        "how much is the flux capacitor?", "ask_product_price", entities=[("product", "flux capacitor")]
    )

    events, messages = await run(ActionProductLookup(), tracker)

    assert messages == [
        said(
            text="Sorry, we don't have a product called “flux capacitor”. Did you mean one of these?",
            buttons=POPULAR,
        )
    ]
    assert events == [PRICE]


async def test_the_question_follows_the_intent(offline_services: Services) -> None:
    stock = make_tracker(
        "is the mesh trio in stock in berlin?", "ask_product_availability", entities=[("product", "mesh trio")]
    )
    compare = make_tracker("compare the ax3000 with the ax1800", "ask_product_compare")

    stock_events, stock_messages = await run(ActionProductLookup(), stock)
    compare_events, compare_messages = await run(ActionProductLookup(), compare)

    assert stock_messages == [
        said(text="Yes, the Nimbus Store Berlin Mitte in Berlin has 8 × Nimbus Mesh Trio in stock.")
    ]
    assert stock_events == [
        SlotSet("product_question", "availability"),
        *remembered("NM-TRIO-EU"),
        SlotSet("product_stores", ["ST-BER"]),
    ]
    assert compare_messages[0]["text"].startswith("Nimbus Velo AX3000 vs Nimbus AX1800:\n• Price: €129.99 | €79.99\n")
    assert compare_events == [
        SlotSet("product_question", "compare"),
        SlotSet("product_sku", "NR-AX1800-EU"),
        SlotSet("product_skus", ["NR-AX3000-EU", "NR-AX1800-EU"]),
    ]  # the last one named; both for a correction of one of them


async def test_a_guide_paused_by_this_question_gets_a_back_button(
    offline_services: Services, guides: dict[str, DiagnosticTree]
) -> None:
    left = paused_entry(guides, "wifi_drops", "status_led", [("which_device", "A router")], "router")
    paused_now = [slot("diag_active", None), slot("diag_paused", [left])]  # DiagnosticFlowPolicy, this turn

    answered = make_tracker("how much is the velo ax3000?", "ask_product_price", after=paused_now)
    asked_back = make_tracker("how much is the mesh?", "ask_product_price", after=paused_now)

    assert await run(ActionProductLookup(), answered) == (
        [PRICE, *remembered("NR-AX3000-EU")],
        [said(text="The Nimbus Velo AX3000 costs €129.99.", buttons=[BACK_TO_WIFI])],
    )
    assert await run(ActionProductLookup(), asked_back) == (
        [PRICE],
        [said(text="Which one do you mean?", buttons=[*MESHES, BACK_TO_WIFI])],
    )


async def test_a_guide_paused_in_an_earlier_turn_gets_no_back_button(
    offline_services: Services, guides: dict[str, DiagnosticTree]
) -> None:
    left = paused_entry(guides, "wifi_drops", "status_led", [("which_device", "A router")], "router")
    earlier = [
        user("forget it", "stop", at=T0 - 30),
        action("action_diagnostic_stop", at=T0 - 29),
        slot("diag_paused", [left], at=T0 - 28),
    ]
    tracker = make_tracker(
        "how much is the velo ax3000?", "ask_product_price", history=earlier, slots={"diag_paused": [left]}
    )

    events, messages = await run(ActionProductLookup(), tracker)

    assert messages == [said(text="The Nimbus Velo AX3000 costs €129.99.")]
    assert events == [PRICE, *remembered("NR-AX3000-EU")]


async def test_a_short_follow_up_asks_the_last_question_about_what_it_names(offline_services: Services) -> None:
    from actions.clarify import ActionClarify

    answered = [
        user("is the velo ax3000 in stock in berlin?", "ask_product_availability", at=T0 - 10),
        action("action_product_lookup", at=T0 - 9),
        slot("product_question", "availability", at=T0 - 9),
    ]
    follow_up = make_tracker(
        "and what about the mesh trio?",
        "nlu_fallback",
        entities=[("product", "mesh trio")],
        history=answered,
        slots={"product_question": "availability", "product_sku": "NR-AX3000-EU"},
    )
    events, messages = await run(ActionClarify(), follow_up)
    assert "Nimbus Mesh Trio" in messages[0]["text"] and "costs" not in messages[0]["text"]
    assert SlotSet("product_sku", "NM-TRIO-EU") in events

    # Not right after a product answer, or too long to be a follow-up: the usual clarification.
    later = make_tracker(
        "and what about the mesh trio?",
        "nlu_fallback",
        entities=[("product", "mesh trio")],
        history=[*answered, user("hello again", "greet", at=T0 - 6), action("utter_greet", at=T0 - 5)],
        slots={"product_question": "availability"},
    )
    assert not follow_up_of_a_product_answer(later)
    rambling = make_tracker(
        "my mesh trio makes a weird buzzing noise since yesterday evening, is that normal",
        "nlu_fallback",
        entities=[("product", "mesh trio")],
        history=answered,
        slots={"product_question": "availability"},
    )
    assert not follow_up_of_a_product_answer(rambling)
    assert follow_up_of_a_product_answer(follow_up)
