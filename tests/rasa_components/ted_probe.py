"""Load the trained model's TED policy (Rasa's way, or for inference only) and print its predictions as JSON.

Run by tests/rasa_components/test_serving.py in a child process per way of loading, since
:func:`rasa_components.serving.install` patches Rasa for the whole process::

    python -m tests.rasa_components.ted_probe MODEL.tar.gz {stock|inference}
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

#: Dialogues whose every prefix TED is asked about (the action server is not running: it needs none).
DIALOGUES = (
    ("hi", "how much is the velo router?", "thanks"),
    ("my wifi keeps dropping", "yes", "no", "still broken"),
    ("I want to talk to a person",),
    ("where is my order", "190232"),
    ("this is useless!!!", "bye"),
)


async def _predictions(model: str) -> dict[str, Any]:
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.core.trackers import DialogueStateTracker

    agent = await load_agent(model_path=model)
    runner: Any = agent.processor.graph_runner  # type: ignore[union-attr]
    [ted] = [node._component for name, node in runner._instantiated_nodes.items() if "TEDPolicy" in name]
    domain = agent.domain
    found = []
    for n, dialogue in enumerate(DIALOGUES):
        for text in dialogue:
            await agent.handle_message(UserMessage(text, sender_id=f"probe-{n}"))
        tracker = await agent.tracker_store.retrieve(f"probe-{n}")
        events = list(tracker.events)  # type: ignore[union-attr]
        for end in range(1, len(events) + 1):
            if events[end - 1].as_dict()["event"] in ("user", "action"):
                prefix = DialogueStateTracker.from_events(f"probe-{n}", events[:end], domain.slots)
                found.append(ted.predict_action_probabilities(prefix, domain, precomputations=None).probabilities)
    return {"probabilities": found, "weights": len(ted.model.weights)}


def main() -> None:
    """Print the predictions of the model in ``argv[1]`` loaded the way ``argv[2]`` names."""
    model, way = sys.argv[1], sys.argv[2]
    if way == "inference":
        from rasa_components import serving

        serving.install()
    print("PREDICTIONS " + json.dumps(asyncio.run(_predictions(model))))


if __name__ == "__main__":
    main()
