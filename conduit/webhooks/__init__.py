"""Webhook delivery primitives: Standard Webhooks signing, URL guard, retry schedule, throttle, sender.

Modules are imported directly (`from conduit.webhooks import signing`); this package imports nothing
itself so the event catalog can use its schemas without pulling in httpx or Redis.
"""
