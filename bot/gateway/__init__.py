"""The aiohttp gateway: HTTP API, web widget channel, health and static files."""
