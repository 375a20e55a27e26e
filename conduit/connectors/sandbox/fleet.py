"""One sandbox per registered tracker, and the settings an operator would give Conduit for them.

The demo, the benchmarks and the test suites start their sandboxes from the registry, so a new
tracker's sandbox is served wherever the others are.
"""

from __future__ import annotations

from collections.abc import Iterable

from conduit.connectors.registry import TRACKERS
from conduit.connectors.sandbox.core import Sandbox
from conduit.settings import Settings, TrackerClient


def every_sandbox() -> list[Sandbox]:
    """A fresh sandbox of each registered tracker, with its default users and scopes."""
    return [tracker.sandbox() for tracker in TRACKERS]


def operator_settings(settings: Settings, sandboxes: Iterable[Sandbox]) -> Settings:
    """`settings` as an operator would set them for served `sandboxes`: each sandbox's client
    registered for exactly its URL, and loopback tracker URLs allowed."""
    clients = [
        TrackerClient(provider=sb.name, base_url=sb.url, client_id=sb.client[0], client_secret=sb.client[1])
        for sb in sandboxes
    ]
    return settings.model_copy(
        update={
            "allow_private_tracker_urls": True,
            "tracker_clients": [*settings.tracker_clients, *clients],
        }
    )
