"""The subset of JQL the sandbox understands: enough for sync, reconcile and webhook filters.

    project = OPS AND key in (OPS-1, OPS-2) AND updated >= "2026-01-01 10:00" ORDER BY updated DESC

Clauses `field op value` joined by AND / OR / NOT and parentheses; operators = != > >= < <= ~ !~,
`in (...)`, `not in (...)`, `is EMPTY`, `is not EMPTY`. Dates are "yyyy-MM-dd[ HH:mm]" (or with /) or
relative like -5m, -2h, -1d, -1w. A query outside this subset is refused with a message, never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>!=|>=|<=|!~|=|>|<|~)|(?P<punct>[(),])"""
    r"""|(?P<word>[^\s"'(),=!<>~]+))"""
)
DATE_FIELDS = {"updated", "created", "resolutiondate", "updateddate", "createddate"}
FIELDS = {
    "project",
    "key",
    "id",
    "status",
    "statuscategory",
    "assignee",
    "reporter",
    "creator",
    "labels",
    "issuetype",
    "type",
    "summary",
    "description",
    "text",
    "comment",
    "resolution",
} | DATE_FIELDS
RELATIVE = re.compile(r"^([+-]?)(\d+)([mhdw])$")


class JqlError(ValueError):
    pass


class Target(Protocol):
    def values(self, field: str) -> list[str]: ...
    def date(self, field: str) -> datetime | None: ...
    def text(self, field: str) -> str: ...


Predicate = Callable[[Target], bool]


@dataclass
class Query:
    where: Predicate
    order: list[tuple[str, bool]]  # (field, descending)
    fields: set[str]


@dataclass
class Tok:
    kind: str
    text: str
    pos: int


def tokenize(jql: str) -> list[Tok]:
    tokens, pos = [], 0
    while pos < len(jql):
        if jql[pos:].strip() == "":
            break
        m = TOKEN.match(jql, pos)
        if m is None or m.end() == pos:
            raise JqlError(f"Error in the JQL Query: unexpected character at position {pos}: {jql[pos]!r}")
        kind = m.lastgroup or "word"
        text = m.group(kind)
        if kind == "str":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        tokens.append(Tok(kind, text, m.start(kind)))
        pos = m.end()
    return tokens


class Parser:
    def __init__(self, jql: str, now: datetime) -> None:
        self.tokens = tokenize(jql)
        self.i = 0
        self.now = now
        self.fields: set[str] = set()

    def peek(self, *words: str) -> bool:
        if self.i >= len(self.tokens):
            return False
        tok = self.tokens[self.i]
        return tok.kind in ("word", "op", "punct") and tok.text.lower() in words

    def take(self) -> Tok:
        if self.i >= len(self.tokens):
            raise JqlError("Error in the JQL Query: the query ends too early.")
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text.lower() != text:
            raise JqlError(f"Error in the JQL Query: expecting '{text}' but got '{tok.text}' at {tok.pos}.")

    def parse(self) -> Query:
        where: Predicate = (lambda t: True) if not self.tokens or self.peek("order") else self.or_expr()
        order: list[tuple[str, bool]] = []
        if self.peek("order"):
            self.take()
            self.expect("by")
            while True:
                field = self.take().text.lower()
                descending = False
                if self.peek("asc", "desc"):
                    descending = self.take().text.lower() == "desc"
                order.append((field, descending))
                if not self.peek(","):
                    break
                self.take()
        if self.i < len(self.tokens):
            tok = self.tokens[self.i]
            raise JqlError(f"Error in the JQL Query: unexpected '{tok.text}' at position {tok.pos}.")
        return Query(where, order, self.fields)

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.peek("or"):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda t: any(p(t) for p in parts))

    def and_expr(self) -> Predicate:
        parts = [self.not_expr()]
        while self.peek("and"):
            self.take()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else (lambda t: all(p(t) for p in parts))

    def not_expr(self) -> Predicate:
        if self.peek("not"):
            self.take()
            inner = self.not_expr()
            return lambda t: not inner(t)
        if self.peek("("):
            self.take()
            inner = self.or_expr()
            self.expect(")")
            return inner
        return self.clause()

    def clause(self) -> Predicate:
        tok = self.take()
        if tok.kind not in ("word", "str"):
            raise JqlError(
                f"Error in the JQL Query: expecting a field name but got '{tok.text}' at {tok.pos}."
            )
        field = tok.text.lower()
        field = {"issuekey": "key", "issue": "key", "updateddate": "updated", "createddate": "created"}.get(
            field, field
        )
        if field not in FIELDS:
            raise JqlError(
                f"Error in the JQL Query: Field '{tok.text}' does not exist"
                " or you do not have permission to view it."
            )
        self.fields.add(field)
        if self.peek("in"):
            self.take()
            return self.membership(field, self.value_list())
        if self.peek("not"):
            self.take()
            self.expect("in")
            values = self.value_list()
            positive = self.membership(field, values)
            return lambda t: not positive(t)
        if self.peek("is"):
            self.take()
            negate = False
            if self.peek("not"):
                self.take()
                negate = True
            empty = self.take().text.lower()
            if empty not in ("empty", "null"):
                raise JqlError("Error in the JQL Query: `is` must be followed by EMPTY or NULL.")
            return lambda t: (not t.values(field)) != negate
        op = self.take()
        if op.kind != "op":
            raise JqlError(f"Error in the JQL Query: expecting an operator but got '{op.text}' at {op.pos}.")
        value = self.value()
        if op.text in ("~", "!~"):
            needle = value.lower().strip("*")
            contains = op.text == "~"
            return lambda t: (needle in t.text(field).lower()) == contains
        if field in DATE_FIELDS:
            return self.date_clause(field, op.text, self.to_date(value))
        if op.text == "=":
            return self.membership(field, [value])
        if op.text == "!=":
            positive = self.membership(field, [value])
            return lambda t: not positive(t)
        raise JqlError(f"Error in the JQL Query: the operator '{op.text}' is not supported for '{field}'.")

    def value(self) -> str:
        tok = self.take()
        if tok.kind not in ("word", "str"):
            raise JqlError(f"Error in the JQL Query: expecting a value but got '{tok.text}' at {tok.pos}.")
        return tok.text

    def value_list(self) -> list[str]:
        self.expect("(")
        values = [self.value()]
        while self.peek(","):
            self.take()
            values.append(self.value())
        self.expect(")")
        return values

    def membership(self, field: str, values: list[str]) -> Predicate:
        wanted = {v.lower() for v in values}
        if field in DATE_FIELDS:
            raise JqlError(f"Error in the JQL Query: use a comparison for the date field '{field}'.")

        return lambda t: any(v.lower() in wanted for v in t.values(field))

    def to_date(self, text: str) -> datetime:
        m = RELATIVE.match(text.strip())
        if m:
            amount = int(m.group(2)) * (-1 if m.group(1) == "-" else 1)
            unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(3)]
            return self.now + timedelta(**{unit: amount})
        for fmt in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
            try:
                return datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
        raise JqlError(
            f"Error in the JQL Query: Date value '{text}' is invalid. Use yyyy-MM-dd HH:mm or -1d."
        )

    @staticmethod
    def date_clause(field: str, op: str, bound: datetime) -> Predicate:
        compare: dict[str, Callable[[datetime], bool]] = {
            "=": lambda d: d == bound,
            "!=": lambda d: d != bound,
            ">": lambda d: d > bound,
            ">=": lambda d: d >= bound,
            "<": lambda d: d < bound,
            "<=": lambda d: d <= bound,
        }
        if op not in compare:
            raise JqlError(f"Error in the JQL Query: the operator '{op}' is not supported for dates.")
        test = compare[op]

        def check(t: Target) -> bool:
            value = t.date(field)
            return value is not None and test(value)

        return check


def parse(jql: str, now: datetime | None = None) -> Query:
    return Parser(jql, now or datetime.now(UTC)).parse()
