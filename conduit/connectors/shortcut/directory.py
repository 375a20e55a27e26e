"""What a story names only by id — its workflow state, its owners — as names, kept per installation.

A Shortcut story carries `workflow_state_id` and `owner_ids`, never the state's name and type or the
owner's handle, and Conduit needs both in every `TicketRecord`. Reading the workflows and members with
every story would double every read (and a page of fifty tickets must cost one call), so they are kept
here for a while: states change when someone edits a workflow, members when someone joins. An id not
known yet is a sign the copy is old: it is read again then, at most once per `REFRESH_AFTER_MISS`, so
an id that stays unknown (a deleted state, a removed member) cannot make every read cost two calls.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# How long a copy is used before it is read again, whatever ids it meets.
TTL = 600.0
# After a read that still lacked an id, how long before another miss may read again.
REFRESH_AFTER_MISS = 30.0


@dataclass(frozen=True, slots=True)
class State:
    id: int
    name: str
    type: str  # backlog | unstarted | started | done
    position: int
    workflow_id: int


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    name: str
    mention_name: str
    email: str | None


@dataclass
class _Entry:
    values: dict[object, object] = field(default_factory=dict)
    read_at: float = 0.0

    def fresh(self, now: float) -> bool:
        return self.read_at > 0 and now - self.read_at < TTL


class Directory:
    """One installation's workflow states and members, each read as a whole and kept for `TTL`."""

    def __init__(self) -> None:
        self._states = _Entry()
        self._members = _Entry()

    def states(self) -> dict[int, State]:
        return {k: v for k, v in self._states.values.items() if isinstance(k, int) and isinstance(v, State)}

    def members(self) -> dict[str, Member]:
        return {k: v for k, v in self._members.values.items() if isinstance(k, str) and isinstance(v, Member)}

    def needs_states(self, wanted: set[int]) -> bool:
        return self._needs(self._states, set(wanted))

    def needs_members(self, wanted: set[str]) -> bool:
        return self._needs(self._members, set(wanted))

    def put_states(self, states: list[State]) -> None:
        self._states = _Entry({s.id: s for s in states}, time.monotonic())

    def put_members(self, members: list[Member]) -> None:
        self._members = _Entry({m.id: m for m in members}, time.monotonic())

    @staticmethod
    def _needs(entry: _Entry, wanted: set[object]) -> bool:
        now = time.monotonic()
        if not entry.fresh(now):
            return True
        missing = wanted - set(entry.values)
        return bool(missing) and now - entry.read_at >= REFRESH_AFTER_MISS


class Directories:
    """The directory of each installation this process acts for, by API root and installation id (two
    sandboxes may both have an installation 1)."""

    def __init__(self) -> None:
        self._by_installation: dict[tuple[str, int], Directory] = {}

    def of(self, api: str, installation_id: int) -> Directory:
        key = (api, installation_id)
        directory = self._by_installation.get(key)
        if directory is None:
            directory = self._by_installation[key] = Directory()
        return directory


# The process's directories: connectors are bound afresh for every job, the workspace they read is not.
DIRECTORIES = Directories()
