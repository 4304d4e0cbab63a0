"""Printable return labels (``/returns/{rma}/label``), which the bot links to when a return starts.

The RMA number is random (9 of 32 characters, about 45 bits) and is the only key to the page,
as with a carrier's label link: the page says who sends what to the returns warehouse, is
never cached or indexed, and an unknown or closed return is a plain 404.
"""

from __future__ import annotations

import asyncio
import html
import re

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.db.models import Customer, Order, ReturnRequest
from bot.gateway.keys import ENGINE

routes = web.RouteTableDef()

_RMA = re.compile(r"^R[A-Z0-9]{9}$")
_WAREHOUSE = ("Nimbus Networks Returns", "Am Exer 21", "04158 Leipzig", "Germany")
_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"}


def _label(engine: Engine, rma: str) -> dict[str, str] | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(ReturnRequest.rma, ReturnRequest.order_number, Customer.name, Order.shipping_address)
            .join(Order, Order.number == ReturnRequest.order_number)
            .join(Customer, Customer.id == ReturnRequest.customer_id)
            .where(ReturnRequest.rma == rma, ReturnRequest.status == "awaiting_parcel")
        ).first()
    if row is None:
        return None
    return {"rma": row[0], "order": row[1], "name": row[2], "address": row[3] or ""}


def label_html(label: dict[str, str]) -> str:
    """The label page (every value escaped)."""
    sender = "<br>".join(html.escape(part) for part in [label["name"], *label["address"].split(", ")] if part)
    to = "<br>".join(html.escape(part) for part in _WAREHOUSE)
    rma = html.escape(label["rma"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Return label {rma}</title>
<meta name="robots" content="noindex">
<style>body{{font-family:sans-serif;max-width:40rem;margin:2rem auto}}
.label{{border:3px solid #000;padding:1.5rem}}.rma{{font:bold 2rem monospace;letter-spacing:.2rem}}
@media print{{button{{display:none}}}}</style></head>
<body><div class="label">
<p>DHL Retoure — prepaid by Nimbus Networks</p>
<p><strong>From</strong><br>{sender}</p>
<p><strong>To</strong><br>{to}</p>
<p>Return number (RMA)</p><p class="rma">{rma}</p>
<p>Order {html.escape(label["order"])}</p>
</div>
<p>Print this page, stick it on the parcel over any old labels, and drop the parcel at a DHL point.</p>
<button onclick="window.print()">Print</button>
</body></html>"""


@routes.get("/returns/{rma}/label")
async def return_label(request: web.Request) -> web.Response:
    """The label of an open return; 404 for an unknown, malformed or finished one."""
    rma = request.match_info["rma"].upper()
    label = await asyncio.to_thread(_label, request.app[ENGINE], rma) if _RMA.match(rma) else None
    if label is None:
        raise web.HTTPNotFound(text="No open return with this number.", headers=_HEADERS)
    return web.Response(text=label_html(label), content_type="text/html", headers=_HEADERS)
