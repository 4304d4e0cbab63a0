"""The gateway's side of the dialogue engine: a client for Rasa's HTTP API."""
