"""What a rule is, checked: its trigger and threshold, its filters, its ticket action and its limit.

`RuleSpec` is the one validated form, built from GraphQL input (`conduit.resolvers.rules`) and written
to a `Rule` row (`apply`); the preview reads the same spec without a row. Every refusal is an
`Invalid` naming the input field, so the API answers a `ValidationError` with that field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conduit.db.base import utcnow
from conduit.db.models import Event, Issue, Rule, RuleTrigger
from conduit.errors import Invalid
from conduit.rules import templates

MAX_NAME = 200
MAX_THRESHOLD = 1_000_000_000
MIN_WINDOW = 60
MAX_WINDOW = 24 * 3600
MAX_VALUES = 20  # per filter list, and tags
MAX_VALUE = 200
MAX_TICKETS_PER_HOUR = 1_000
MAX_TARGET = 300
MAX_LABELS = 10
MAX_LABEL = 50
THRESHOLD_TRIGGERS = (RuleTrigger.EVENT_RATE, RuleTrigger.EVENTS_SINCE_TICKET)


class RuleInvalid(Invalid, ValueError):
    """A rule that cannot be saved; `field` names the input."""


@dataclass(frozen=True, slots=True)
class Filters:
    """All given filters must hold; an empty one holds for every issue."""

    levels: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    releases: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    text: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "levels": list(self.levels),
            "environments": list(self.environments),
            "releases": list(self.releases),
            "tags": dict(self.tags),
            "text": self.text,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Filters:
        data = data or {}
        return cls(
            levels=tuple(data.get("levels") or ()),
            environments=tuple(data.get("environments") or ()),
            releases=tuple(data.get("releases") or ()),
            tags=dict(data.get("tags") or {}),
            text=data.get("text") or None,
        )

    def match(self, issue: Issue, latest: Event | None) -> bool:
        """Level, title and culprit are the issue's; environment, release and tags its newest event's."""
        if self.levels and issue.level not in self.levels:
            return False
        if self.environments and (latest is None or latest.environment not in self.environments):
            return False
        if self.releases and (latest is None or latest.release not in self.releases):
            return False
        if self.tags:
            tags = (latest.tags if latest is not None else None) or {}
            if any(tags.get(k) != v for k, v in self.tags.items()):
                return False
        if self.text:
            needle = self.text.casefold()
            if needle not in issue.title.casefold() and needle not in (issue.culprit or "").casefold():
                return False
        return True


@dataclass(frozen=True, slots=True)
class RuleSpec:
    name: str
    trigger: RuleTrigger
    threshold: int | None = None
    window_seconds: int | None = None
    filters: Filters = field(default_factory=Filters)
    installation_id: int | None = None
    target: str | None = None
    title_template: str | None = None
    description_template: str | None = None
    assignee_id: int | None = None
    labels: tuple[str, ...] = ()
    comment_milestones: bool = True
    max_tickets_per_hour: int = 10
    enabled: bool = True
    # Issues older than this are not new to the rule (a saved rule: when it was made).
    created_at: datetime = field(default_factory=utcnow)

    def check(self) -> RuleSpec:
        """This spec, stripped, or RuleInvalid for the first field that is wrong."""
        name = self.name.strip()
        if not name or len(name) > MAX_NAME:
            raise RuleInvalid(f"a rule needs a name of 1 to {MAX_NAME} characters", "name")
        if self.trigger in THRESHOLD_TRIGGERS:
            if self.threshold is None or not 0 <= self.threshold <= MAX_THRESHOLD:
                raise RuleInvalid(
                    f"this trigger fires above a threshold: give one from 0 to {MAX_THRESHOLD}", "threshold"
                )
        elif self.threshold is not None:
            raise RuleInvalid(f"a {self.trigger.value} trigger takes no threshold", "threshold")
        if self.trigger is RuleTrigger.EVENT_RATE:
            if self.window_seconds is None or not MIN_WINDOW <= self.window_seconds <= MAX_WINDOW:
                raise RuleInvalid(
                    f"the window is from {MIN_WINDOW} seconds to {MAX_WINDOW} seconds (a day)",
                    "windowSeconds",
                )
        elif self.window_seconds is not None:
            raise RuleInvalid(f"a {self.trigger.value} trigger takes no window", "windowSeconds")
        f = self.filters
        for label, values in (
            ("levels", f.levels),
            ("environments", f.environments),
            ("releases", f.releases),
        ):
            _values(label, values)
        _values("tags", [*f.tags.keys(), *f.tags.values()], limit=2 * MAX_VALUES)
        text = f.text.strip() if f.text else None
        if text is not None and (len(text) > MAX_VALUE or "\x00" in text):
            raise RuleInvalid(f"the text filter is at most {MAX_VALUE} characters", "text")
        target = self.target.strip() if self.target else None
        if (self.installation_id is None) != (target is None):
            raise RuleInvalid(
                "a ticket action needs both an installation and a target (a repository or project key)",
                "target" if self.installation_id is not None else "installationId",
            )
        if target is not None and (len(target) > MAX_TARGET or "\x00" in target):
            raise RuleInvalid(f"the target is at most {MAX_TARGET} characters", "target")
        labels = tuple(dict.fromkeys(" ".join(n.split()) for n in self.labels))
        if labels and target is None:
            raise RuleInvalid(
                "labels go on the rule's tickets: give an installation and a target", "ticketLabels"
            )
        if len(labels) > MAX_LABELS:
            raise RuleInvalid(f"at most {MAX_LABELS} labels", "ticketLabels")
        for label in labels:
            # A comma separates labels in some trackers' APIs (GitLab): it cannot be part of one.
            if not 0 < len(label) <= MAX_LABEL or "\x00" in label or "," in label:
                raise RuleInvalid(
                    f"each label is 1 to {MAX_LABEL} characters, without commas", "ticketLabels"
                )
        templates.check(self.title_template, "ticketTitle", templates.MAX_TITLE_TEMPLATE)
        templates.check(self.description_template, "ticketDescription", templates.MAX_DESCRIPTION_TEMPLATE)
        if not 1 <= self.max_tickets_per_hour <= MAX_TICKETS_PER_HOUR:
            raise RuleInvalid(
                f"the limit is from 1 to {MAX_TICKETS_PER_HOUR} tickets per hour", "maxTicketsPerHour"
            )
        return RuleSpec(
            name=name,
            trigger=self.trigger,
            threshold=self.threshold,
            window_seconds=self.window_seconds,
            filters=Filters(f.levels, f.environments, f.releases, dict(f.tags), text or None),
            installation_id=self.installation_id,
            target=target,
            title_template=self.title_template,
            description_template=self.description_template,
            assignee_id=self.assignee_id,
            labels=labels,
            comment_milestones=self.comment_milestones,
            max_tickets_per_hour=self.max_tickets_per_hour,
            enabled=self.enabled,
            created_at=self.created_at,
        )

    def apply(self, row: Rule) -> Rule:
        row.name, row.trigger, row.enabled = self.name, self.trigger, self.enabled
        row.threshold, row.window_seconds = self.threshold, self.window_seconds
        row.filters = self.filters.to_json()
        row.installation_id, row.target = self.installation_id, self.target
        row.title_template, row.description_template = self.title_template, self.description_template
        row.assignee_id, row.comment_milestones = self.assignee_id, self.comment_milestones
        row.ticket_labels = list(self.labels) or None
        row.max_tickets_per_hour = self.max_tickets_per_hour
        row.updated_at = utcnow()
        return row

    @classmethod
    def of(cls, row: Rule) -> RuleSpec:
        return cls(
            name=row.name,
            trigger=RuleTrigger(row.trigger),
            threshold=row.threshold,
            window_seconds=row.window_seconds,
            filters=Filters.from_json(row.filters),
            installation_id=row.installation_id,
            target=row.target,
            title_template=row.title_template,
            description_template=row.description_template,
            assignee_id=row.assignee_id,
            labels=tuple(row.ticket_labels or ()),
            comment_milestones=row.comment_milestones,
            max_tickets_per_hour=row.max_tickets_per_hour,
            enabled=row.enabled,
            created_at=row.created_at,
        )


def _values(label: str, values: Sequence[str], limit: int = MAX_VALUES) -> None:
    if len(values) > limit:
        raise RuleInvalid(f"at most {limit // (2 if label == 'tags' else 1)} {label}", label)
    for value in values:
        if not value.strip() or len(value) > MAX_VALUE or "\x00" in value:
            raise RuleInvalid(f"each of {label} is 1 to {MAX_VALUE} characters", label)
