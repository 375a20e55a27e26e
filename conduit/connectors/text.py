"""Text every tracker writes alike: timestamps in the ISO 8601 variants trackers send, read as aware
times; and a ticket's description in Markdown, written one way for every tracker that takes Markdown.

A time without a zone is UTC: Conduit compares every tracker's times with its own, which are aware.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from typing import Any

from conduit.connectors.base import TicketDraft


def parse_time(value: Any) -> datetime | None:
    """`2026-01-02T03:04:05.678Z`, `+00:00` or `+0000` (Jira), or GitLab webhooks' older
    `2026-01-02 03:04:05 UTC`. None for no value; ValueError for a string that is not a time."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(" UTC"):
        text = text[:-4].replace(" ", "T") + "+00:00"
    elif text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def time_or_none(value: Any) -> datetime | None:
    """`parse_time`, with a string that is not a time read as no time."""
    with contextlib.suppress(ValueError):
        return parse_time(value)
    return None


def fenced(text: str) -> str:
    """A Markdown code block that no backtick run inside `text` can close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def markdown(draft: TicketDraft) -> str:
    """The description of a new ticket: the summary, the latest exception, a link back to the issue."""
    parts = [draft.summary.strip()] if draft.summary.strip() else []
    if draft.exception:
        parts += ["**Latest exception**", fenced(draft.exception)]
    parts.append(f"[View this issue in Conduit]({draft.issue_url})")
    return "\n\n".join(parts)
