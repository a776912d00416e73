"""The streaming server: a sans-I/O session state machine under a thin asyncio layer."""
