"""What a tracker package declares: its connector (which carries the catalog entry) and its sandbox.

A tracker is one package, `conduit/connectors/<name>/`, whose `__init__` exports `TRACKER`, plus one
line in `conduit.connectors.registry`. The package holds:

- `catalog.py`   the provider's catalog entry (`Provider`): endpoints, scopes, token and rate-limit rules;
- `connector.py` the `Connector` subclass: calls, key and scope parsing, webhook verification and parsing;
- `sandbox/`     a fake of the tracker served over real HTTP, with the shared "person at the tracker"
                 controls (`conduit.connectors.sandbox.people`) and its own setup routes.

The operator's cloud OAuth client for it is read from `CONDUIT_<KEY>_CLIENT_ID` and
`CONDUIT_<KEY>_CLIENT_SECRET` (see `conduit.settings`), and more clients from `CONDUIT_TRACKER_CLIENTS`;
nothing else in Conduit names a tracker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conduit.connectors.base import Connector
from conduit.connectors.catalog import Provider

if TYPE_CHECKING:
    from conduit.connectors.sandbox.core import Sandbox


@dataclass(frozen=True, slots=True)
class Tracker:
    connector: type[Connector]
    # Makes a fresh sandbox of the tracker with its default users and scopes. The sandbox modules are
    # imported only then: tests, benchmarks and the demo serve sandboxes, a running hub never does.
    sandbox: Callable[[], Sandbox]

    @property
    def provider(self) -> Provider:
        return self.connector.provider

    @property
    def key(self) -> str:
        return self.connector.provider.key

    @property
    def name(self) -> str:
        return self.connector.provider.name


__all__ = ["Tracker"]
