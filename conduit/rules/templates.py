"""Ticket templates: `{field}` placeholders from a fixed set, nothing else, trimmed to what trackers take.

A template is parsed with `string.Formatter.parse`, and only bare names from `FIELDS` are accepted: no
attribute or index access (`{title.__class__}`), no conversion (`{title!r}`), no format spec (a spec
like `{title:>999999999}` would build a gigabyte string). Rendering substitutes the parsed pieces
itself; no format machinery runs on the values, so a value holding braces is copied as it is.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from conduit.errors import Invalid

FIELDS = (
    "title",
    "culprit",
    "level",
    "count",
    "first_seen",
    "last_seen",
    "link",
    "stacktrace",
    "environment",
    "release",
    "project",
)
# The strictest tracker limits: titles (Jira, GitLab, Linear: 255) and descriptions (Jira: 32,767).
MAX_TITLE = 250
MAX_DESCRIPTION = 30_000
MAX_STACKTRACE = 4_000
MAX_TITLE_TEMPLATE = 1_000
MAX_DESCRIPTION_TEMPLATE = 10_000
TRIMMED = "…"


class TemplateError(Invalid, ValueError):
    """A template that does not render; the message says where, `field` names the input."""


Piece = tuple[str, str | None]


def parse(template: str, field: str) -> list[Piece]:
    """The template as (literal text, placeholder name or None) pieces; TemplateError if it has
    anything but `{name}` placeholders from FIELDS."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(
            f"the template does not parse: {exc}; write braces as {{{{ and }}}}", field
        ) from None
    pieces: list[Piece] = []
    for literal, name, spec, conversion in parsed:
        if name is None:
            pieces.append((literal, None))
            continue
        if name not in FIELDS:
            shown = name if len(name) <= 40 else name[:40] + "…"
            raise TemplateError(
                f"the template names {{{shown}}}, which is not a field; fields: {', '.join(FIELDS)}", field
            )
        if spec or conversion:
            raise TemplateError(f"{{{name}}} takes no format or conversion; write it as {{{name}}}", field)
        pieces.append((literal, name))
    return pieces


def trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(TRIMMED)] + TRIMMED


def render(template: str, values: Mapping[str, str], field: str, limit: int) -> str:
    out = []
    for literal, name in parse(template, field):
        out.append(literal)
        if name is not None:
            out.append(values.get(name, ""))
    return trim("".join(out), limit)


def check(template: str | None, field: str, max_length: int) -> None:
    """Refuse a template that is too long, blank or does not render with example values."""
    if template is None:
        return
    if len(template) > max_length:
        raise TemplateError(f"the template is {len(template)} characters long; at most {max_length}", field)
    if not template.strip():
        raise TemplateError("the template is blank; leave it out to use the default", field)
    if "\x00" in template:
        raise TemplateError("the template holds a NUL character", field)
    parse(template, field)


@dataclass(frozen=True, slots=True)
class Context:
    """What a template can say about an issue, as text."""

    values: Mapping[str, str]

    @classmethod
    def of(
        cls,
        *,
        title: str,
        culprit: str,
        level: str,
        count: int,
        first_seen: datetime,
        last_seen: datetime,
        link: str,
        stacktrace: str,
        environment: str | None,
        release: str | None,
        project: str,
    ) -> Context:
        return cls(
            {
                "title": title,
                "culprit": culprit,
                "level": level,
                "count": str(count),
                "first_seen": f"{first_seen:%Y-%m-%d %H:%M} UTC",
                "last_seen": f"{last_seen:%Y-%m-%d %H:%M} UTC",
                "link": link,
                "stacktrace": trim(stacktrace, MAX_STACKTRACE),
                "environment": environment or "",
                "release": release or "",
                "project": project,
            }
        )

    def title(self, template: str | None) -> str:
        return render(template or "{title}", self.values, "ticketTitle", MAX_TITLE)

    def description(self, template: str | None) -> str | None:
        if template is None:
            return None
        return render(template, self.values, "ticketDescription", MAX_DESCRIPTION)
