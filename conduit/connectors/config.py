"""Per-installation sync configuration, kept as JSON on the Installation and validated here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from conduit.connectors.records import StatusCategory
from conduit.errors import Invalid


class ConfigError(Invalid, ValueError):
    """An installation config that cannot be used; the message names the field. Still a ValueError, as
    before the error root."""


@dataclass(frozen=True, slots=True)
class SyncConfig:
    status_outbound: bool = True
    status_inbound: bool = True
    assignee_outbound: bool = True
    assignee_inbound: bool = True
    comments_outbound: bool = True
    # Tracker statuses that mean "resolved" (several allowed); empty: every status the tracker itself
    # files under done.
    resolved_statuses: tuple[str, ...] = ()
    # The status to move a ticket to when Conduit resolves / reopens it; None: the first the tracker
    # offers in the done / to-do category.
    resolve_status: str | None = None
    reopen_status: str | None = None
    # Jira: the issue type new tickets get.
    issue_type: str = "Task"

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SyncConfig:
        data = dict(data or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            default = getattr(cls(), name)
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"`{name}` must be true or false, got {value!r}")
            elif name == "resolved_statuses":
                if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
                    raise ConfigError("`resolved_statuses` must be a list of status names")
                value = tuple(value)
            elif value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigError(f"`{name}` must be a status name, got {value!r}")
            values[name] = value
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["resolved_statuses"] = list(self.resolved_statuses)
        return data

    def is_resolved(self, status: str, category: StatusCategory) -> bool:
        if self.resolved_statuses:
            return status.casefold() in {s.casefold() for s in self.resolved_statuses}
        return category is StatusCategory.DONE
