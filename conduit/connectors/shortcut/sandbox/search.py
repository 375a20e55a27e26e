"""The part of Shortcut's search operators connectors use: words, `"quoted phrases"`, `id:`, `is:`,
`state:`, `type:`, `owner:` and `team:`, each negated by a leading `!`."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conduit.connectors.shortcut.sandbox.model import Story

if TYPE_CHECKING:
    from conduit.connectors.shortcut.sandbox.sandbox import ShortcutSandbox

IS = {"unstarted", "started", "done", "backlog", "archived"}


@dataclass
class Term:
    key: str | None  # None: text to find in the name or the description
    value: str
    negated: bool = False


@dataclass
class Query:
    terms: list[Term] = field(default_factory=list)


def parse_query(text: str) -> Query:
    try:
        tokens = shlex.split(text)
    except ValueError:
        raise ValueError("The search query has an unclosed quote.") from None
    query = Query()
    for token in tokens:
        negated = token.startswith("!")
        token = token[1:] if negated else token
        key, sep, value = token.partition(":")
        if not sep or not key.isalpha():
            query.terms.append(Term(None, token.lower(), negated))
            continue
        key = key.lower()
        if key not in ("id", "is", "state", "type", "owner", "team"):
            raise ValueError(f"Unknown search operator: {key}")
        if key == "is" and value.lower() not in IS:
            raise ValueError(f"Unknown value for is: {value}")
        query.terms.append(Term(key, value.lower(), negated))
    return query


def _hit(term: Term, sb: ShortcutSandbox, story: Story) -> bool:
    found = sb.state(story.workflow_state_id)
    state = found[1] if found else None
    if term.key is None:
        return term.value in f"{story.name}\n{story.description}".lower()
    if term.key == "id":
        return str(story.id) in term.value.split(",")
    if term.key == "is":
        return story.archived if term.value == "archived" else state is not None and state.type == term.value
    if term.key == "state":
        return state is not None and state.name.lower() == term.value
    if term.key == "type":
        return story.story_type == term.value
    if term.key == "owner":
        return any(
            sb.members[o].mention_name.lower() == term.value.lstrip("@")
            for o in story.owner_ids
            if o in sb.members
        )
    group = sb.groups.get(story.group_id or "")
    return group is not None and group.mention_name.lower() == term.value.lstrip("@")


def matches(query: Query, sb: ShortcutSandbox, story: Story) -> bool:
    return all(_hit(t, sb, story) != t.negated for t in query.terms)
