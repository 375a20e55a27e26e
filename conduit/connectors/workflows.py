"""What a tracker's workflows allow, kept per installation so a status change costs one call.

Moving a ticket needs to know where it may go: Linear's workflow states of its team, the transitions
of a Jira workflow from the ticket's status. Reading that with every change doubles its cost, and it
changes only when someone edits a workflow. So it is kept here for `TTL`, by API root, installation
and what it depends on (a team; a project, issue type and status), and dropped when the tracker
refuses a move made with it — the change is then made the long way, reading the ticket first.

Connectors are bound afresh for every job; what they learn of a workspace lives in this process.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable

# How long a copy is used before it is read again.
TTL = 600.0
# Entries kept per process: a workspace has few teams and workflows; this bounds a hostile one.
MAX_ENTRIES = 10_000


class WorkflowCache:
    """Values by (API root, installation id, key), each for `TTL` seconds, least recent dropped first."""

    def __init__(self, ttl: float = TTL, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._values: OrderedDict[tuple[str, int, Hashable], tuple[float, object]] = OrderedDict()

    def get(self, api: str, installation_id: int, key: Hashable) -> object | None:
        entry = self._values.get((api, installation_id, key))
        if entry is None:
            return None
        stored_at, value = entry
        if time.monotonic() - stored_at >= self.ttl:
            del self._values[(api, installation_id, key)]
            return None
        self._values.move_to_end((api, installation_id, key))
        return value

    def put(self, api: str, installation_id: int, key: Hashable, value: object) -> None:
        self._values[(api, installation_id, key)] = (time.monotonic(), value)
        self._values.move_to_end((api, installation_id, key))
        while len(self._values) > self.max_entries:
            self._values.popitem(last=False)

    def drop(self, api: str, installation_id: int, key: Hashable) -> None:
        self._values.pop((api, installation_id, key), None)
