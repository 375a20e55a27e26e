"""Which connector class serves which provider key."""

from __future__ import annotations

from types import MappingProxyType

from conduit.connectors.base import Connector
from conduit.connectors.github import GitHubConnector
from conduit.connectors.jira import JiraConnector

CONNECTORS: MappingProxyType[str, type[Connector]] = MappingProxyType(
    {cls.provider.key: cls for cls in (GitHubConnector, JiraConnector)}
)


def connector_class(key: str) -> type[Connector]:
    try:
        return CONNECTORS[key]
    except KeyError:
        raise ValueError(
            f"no connector for provider {key!r}; known: {', '.join(sorted(CONNECTORS))}"
        ) from None
