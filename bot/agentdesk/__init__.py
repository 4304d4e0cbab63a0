"""Agent desks: the places agents work handoffs from (Slack today; any ``HandoffListener``)."""
