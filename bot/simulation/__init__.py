"""Demo traffic for a fresh install: made-up customers and agents played against the running stack.

``python -m bot simulate --conversations 300`` (docs/analytics.md, "Demo data: bot simulate")
talks to the gateway only through its public interfaces: customers over the direct API and the
web widget's WebSocket, agents over the agent API with tokens issued as ``python -m bot agents
token`` does. What customers say is in ``data/simulation/customers.yml``. The only writes to the
database are those a company's own systems would make: new customers and their orders (for
self-service), and the agents' tokens. Every conversation is stamped by the gateway when it
happens; only ``--backdate-days`` moves the run's own conversations afterwards, each visit as a
whole, so a dashboard shows a week (:mod:`bot.simulation.backdate`).
"""

from __future__ import annotations

from bot.simulation.phrases import Phrasebook, load_phrasebook
from bot.simulation.runner import Simulation, Summary
from bot.simulation.transport import SimulationError, StackUnavailable

__all__ = [
    "Phrasebook",
    "Simulation",
    "SimulationError",
    "StackUnavailable",
    "Summary",
    "load_phrasebook",
]
