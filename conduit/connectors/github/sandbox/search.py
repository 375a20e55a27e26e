"""The part of GitHub's issue search syntax connectors use: `repo:o/r is:open updated:>=2026-01-01 words`."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from conduit.connectors.github.sandbox.model import Issue
from conduit.connectors.sandbox.state import parse_time

Cmp = Callable[[datetime], bool]
COMPARATORS: list[tuple[str, Callable[[datetime, datetime], bool]]] = [
    (">=", operator.ge),
    ("<=", operator.le),
    (">", operator.gt),
    ("<", operator.lt),
]


@dataclass
class Query:
    repos: list[str] = field(default_factory=list)
    state: str | None = None
    pull_request: bool | None = None
    labels: list[str] = field(default_factory=list)
    assignee: str | None = None
    author: str | None = None
    updated: list[Cmp] = field(default_factory=list)
    created: list[Cmp] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)


def _date_filter(value: str) -> Cmp:
    if ".." in value:
        low, high = (parse_time(v) for v in value.split("..", 1))
        return lambda t: low <= t <= high
    for prefix, op in COMPARATORS:
        if value.startswith(prefix):
            bound = parse_time(value[len(prefix) :])
            return lambda t: op(t, bound)
    day = parse_time(value)
    return lambda t: t.date() == day.date()


def parse_query(q: str) -> Query:
    query = Query()
    for token in q.split():
        key, sep, value = token.partition(":")
        if not sep:
            query.terms.append(token.lower())
            continue
        value = value.strip('"')
        if key == "repo":
            query.repos.append(value)
        elif (key == "is" and value in ("open", "closed")) or key == "state":
            if value not in ("open", "closed"):
                raise ValueError(f"state must be open or closed, got {value!r}")
            query.state = value
        elif key in ("is", "type") and value in ("issue", "pr", "pull-request"):
            query.pull_request = value != "issue"
        elif key == "label":
            query.labels.append(value)
        elif key == "assignee":
            query.assignee = value
        elif key == "author":
            query.author = value
        elif key in ("updated", "created"):
            try:
                getattr(query, key).append(_date_filter(value))
            except ValueError:
                raise ValueError(f"{key}:{value} is not a valid date filter") from None
        elif key == "in":
            continue  # where to look for the words; the sandbox always looks in title and body
        else:
            raise ValueError(f"the qualifier {key}:{value} is not supported")
    return query


def matches_query(query: Query, issue: Issue) -> bool:
    text = f"{issue.title}\n{issue.body or ''}".lower()
    return (
        (not query.repos or issue.repo in query.repos)
        and (query.state is None or issue.state == query.state)
        and (query.pull_request is None or issue.pull_request == query.pull_request)
        and all(label in issue.labels for label in query.labels)
        and (query.assignee is None or query.assignee in issue.assignees)
        and (query.author is None or query.author == issue.user)
        and all(f(issue.updated_at) for f in query.updated)
        and all(f(issue.created_at) for f in query.created)
        and all(term in text for term in query.terms)
    )
