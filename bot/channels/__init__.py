"""Customer channels: each translates its platform's messages to and from the gateway's."""
