"""Human handoff: requests for an agent, and (later) the desk that serves them."""
