"""The trackers Conduit knows: one line per tracker package, and lookups by provider key.

Adding a tracker is its package (see `conduit.connectors.tracker`) plus one line in `TRACKERS`. The
tests run the connector contract, the sandbox and the sync suites for every tracker listed here, and
fail for one that has no test driver.
"""

from __future__ import annotations

from types import MappingProxyType

from conduit.connectors import github, gitlab, inhouse, jira, linear, shortcut
from conduit.connectors.base import Connector
from conduit.connectors.catalog import Provider
from conduit.connectors.tracker import Tracker

TRACKERS: tuple[Tracker, ...] = (
    github.TRACKER,
    gitlab.TRACKER,
    inhouse.TRACKER,
    jira.TRACKER,
    linear.TRACKER,
    shortcut.TRACKER,
)

BY_KEY: MappingProxyType[str, Tracker] = MappingProxyType({t.key: t for t in TRACKERS})
PROVIDERS: MappingProxyType[str, Provider] = MappingProxyType({t.key: t.provider for t in TRACKERS})
CONNECTORS: MappingProxyType[str, type[Connector]] = MappingProxyType({t.key: t.connector for t in TRACKERS})


def tracker(key: str) -> Tracker:
    try:
        return BY_KEY[key]
    except KeyError:
        raise ValueError(f"unknown provider {key!r}; known: {', '.join(sorted(BY_KEY))}") from None


def provider(key: str) -> Provider:
    return tracker(key).provider


def connector_class(key: str) -> type[Connector]:
    return tracker(key).connector


def scope_of(key: str, ticket_key: str) -> str:
    """The repository or project `ticket_key` of provider `key` belongs to."""
    return connector_class(key).scope_of(ticket_key)


def _check() -> None:
    """Refuse, at import, a tracker whose connector leaves an abstract method out or whose key is taken."""
    if len(BY_KEY) != len(TRACKERS):
        raise RuntimeError("two tracker packages declare the same provider key")
    for entry in TRACKERS:
        missing = sorted(getattr(entry.connector, "__abstractmethods__", ()))
        if missing:
            raise TypeError(f"the {entry.key} connector does not implement {', '.join(missing)}")


_check()
