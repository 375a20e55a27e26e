"""Evaluating a project's rules for one issue: clear its queued mark, then in one transaction decide,
act, log and fold counts.

Run by the `rules.evaluate` job, one at a time per issue (its key), after the events that caused it
were committed. Everything it writes — counts, firings, ticket requests, quota, milestone comments and
their pushes, `rule.triggered` events — commits together or not at all, so a worker killed midway
leaves nothing behind and the re-run decides again from the same rows: a firing already logged is not
repeated (`triggers.fired`), a ticket already asked for is not asked again (the idempotent request of
`conduit.sync.links`, and the issue's live tickets checked first), a milestone already said is not
said again (`tickets.claim_milestone`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.db.models import (
    Event,
    FiringOutcome,
    Installation,
    InstallationStatus,
    Interaction,
    Issue,
    Member,
    Project,
    Rule,
    RuleFiring,
    TicketRequest,
)
from conduit.db.models.comments import Comment
from conduit.events.emit import emit
from conduit.ids import encode
from conduit.jobs import outbox
from conduit.rules import counts, quota, templates, tickets, triggers
from conduit.rules.definition import RuleSpec
from conduit.runtime import Runtime
from conduit.sync import links, outbound

EVALUATE_KIND = "rules.evaluate"
SETTLE_KIND = "rules.settle"
# A tracker that answered "rate limited" this recently is left alone: new tickets are held back.
THROTTLE_MEMORY = timedelta(seconds=60)
RULE_ACTOR = {"type": "system", "reason": "rule"}
# How long an evaluation waits for company: a burst of one issue's events within it is one evaluation.
# It is also the least a rule's reaction takes.
COALESCE = timedelta(seconds=1)
# An issue that keeps receiving events is evaluated at most this often: its events are counted by the
# next evaluation, so a steady stream costs an evaluation per SPACING, not one per event. Reacting to a
# count (a window, a milestone) can take this much longer; a new issue and a regression still take
# COALESCE.
SPACING = timedelta(seconds=5)


def issue_key(issue_id: int) -> str:
    return f"rules:issue:{issue_id}"


def queue(
    session: AsyncSession,
    organization_id: int,
    issue_id: int,
    regressed_at: str | None = None,
    evaluated_at: datetime | None = None,
) -> None:
    """Queue an evaluation of the issue, due after COALESCE (and SPACING after the issue's last one,
    `evaluated_at`): events of the issue published meanwhile find it waiting and add nothing (see
    `conduit.rules.jobs`)."""
    due = utcnow() + COALESCE
    if evaluated_at is not None and regressed_at is None:
        due = max(due, evaluated_at + SPACING)
    outbox.enqueue(
        session,
        EVALUATE_KIND,
        issue_id,
        regressed_at,
        organization_id=organization_id,
        key=issue_key(issue_id),
        run_after=due,
    )


@dataclass
class Summary:
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: FiringOutcome) -> None:
        self.outcomes[outcome.value] = self.outcomes.get(outcome.value, 0) + 1

    def __str__(self) -> str:
        return ", ".join(f"{n} {o}" for o, n in sorted(self.outcomes.items())) or "nothing fired"


async def latest_event(session: AsyncSession, issue_id: int) -> Event | None:
    return (
        await session.execute(
            select(Event).where(Event.issue_id == issue_id).order_by(Event.id.desc()).limit(1)
        )
    ).scalar_one_or_none()


def stacktrace(event: Event | None) -> str:
    if event is None:
        return ""
    lines: list[str] = []
    try:
        frames = event.data["exception"]["values"][-1]["stacktrace"]["frames"]
    except (KeyError, IndexError, TypeError):
        frames = []
    for f in frames[-20:] if isinstance(frames, list) else []:
        if isinstance(f, dict):
            lines.append(
                f'  File "{f.get("filename", "?")}", line {f.get("lineno", "?")}, in {f.get("function", "?")}'
            )
    head = f"{event.exception_type or 'Error'}: {event.exception_value or event.message or ''}".strip()
    return ("Traceback (most recent call last):\n" + "\n".join(lines) + "\n" if lines else "") + head


def context_of(runtime: Runtime, issue: Issue, latest: Event | None, project: str) -> templates.Context:
    return templates.Context.of(
        title=issue.title,
        culprit=issue.culprit or "",
        level=issue.level,
        count=issue.times_seen,
        first_seen=issue.first_seen,
        last_seen=issue.last_seen,
        link=f"{runtime.settings.public_url.rstrip('/')}/issues/{encode('Issue', issue.id)}",
        stacktrace=stacktrace(latest),
        environment=latest.environment if latest else None,
        release=latest.release if latest else None,
        project=project,
    )


async def enabled_rules(session: AsyncSession, project_id: int) -> list[Rule]:
    return list(
        (
            await session.execute(
                select(Rule).where(Rule.project_id == project_id, Rule.enabled.is_(True)).order_by(Rule.id)
            )
        ).scalars()
    )


async def throttled(session: AsyncSession, installation_id: int, now: datetime) -> datetime | None:
    """When the tracker last said "rate limited" to this installation, if it did within THROTTLE_MEMORY:
    a call that went through since (the retry of the refused one) does not lift the hold early."""
    return await session.scalar(
        select(Interaction.created_at)
        .where(
            Interaction.installation_id == installation_id,
            Interaction.created_at > now - THROTTLE_MEMORY,
            or_(Interaction.http_status == 429, Interaction.rate_limit_remaining == 0),
        )
        .order_by(Interaction.created_at.desc())
        .limit(1)
    )


def firing_resource(firing: RuleFiring) -> dict[str, Any]:
    return {
        "id": encode("RuleFiring", firing.id),
        "issue_id": encode("Issue", firing.issue_id),
        "action": firing.action,
        "cause": firing.cause,
        "outcome": firing.outcome.value,
        "reason": firing.reason,
        "count": firing.count,
        "external_issue_id": encode("ExternalIssue", firing.external_issue_id)
        if firing.external_issue_id
        else None,
        "created_at": firing.created_at.isoformat(),
    }


def rule_resource(rule: Rule) -> dict[str, Any]:
    return {
        "id": encode("Rule", rule.id),
        "project_id": encode("Project", rule.project_id),
        "name": rule.name,
        "trigger": rule.trigger.value,
    }


def settle(firing: RuleFiring, outcome: FiringOutcome, now: datetime, reason: str | None = None) -> None:
    firing.outcome, firing.reason, firing.settled_at = outcome, reason[:1000] if reason else None, now
    base = firing.event_received_at or firing.created_at
    firing.latency_ms = max(int((now - base).total_seconds() * 1000), 0) if base else None


class Evaluation:
    """One evaluation of one issue; `run` does it all in the session's transaction."""

    def __init__(self, runtime: Runtime, session: AsyncSession, issue: Issue, now: datetime) -> None:
        self.runtime, self.session, self.issue, self.now = runtime, session, issue, now
        self.summary = Summary()
        self._context: templates.Context | None = None
        self.latest: Event | None = None

    async def run(self, rules: list[Rule], regressed_at: datetime | None) -> Summary:
        session, issue = self.session, self.issue
        seen = await counts.peek(session, issue, self.now, regressed_at)
        self.latest = await latest_event(session, issue.id)
        linked = await tickets.linked(session, issue)
        last = await triggers.fired(session, [r.id for r in rules], issue.id)
        for rule in rules:
            spec = RuleSpec.of(rule)
            if not spec.filters.match(issue, self.latest):
                continue
            for cause in await triggers.causes(session, spec, issue, self.latest, seen, linked, self.now):
                if not triggers.fired_already(last, rule.id, cause, spec, self.now):
                    await self.fire(rule, spec, cause, linked)
            if rule.comment_milestones:
                await self.milestones(rule, spec, linked)
        # Last, so the issue's count row is locked only while this transaction commits.
        await counts.observe(session, issue, self.now, regressed_at, seen.state)
        return self.summary

    async def context(self) -> templates.Context:
        if self._context is None:
            project = await self.session.get(Project, self.issue.project_id)
            self._context = context_of(self.runtime, self.issue, self.latest, project.name if project else "")
        return self._context

    def _firing(self, rule: Rule, action: str, cause: str) -> RuleFiring:
        return RuleFiring(
            organization_id=self.issue.organization_id,
            rule_id=rule.id,
            project_id=self.issue.project_id,
            issue_id=self.issue.id,
            action=action,
            cause=cause,
            outcome=FiringOutcome.PENDING,
            count=self.issue.times_seen,
            event_received_at=self.latest.received_at if self.latest else None,
            created_at=self.now,
        )

    async def _log(self, rule: Rule, firing: RuleFiring) -> None:
        self.session.add(firing)
        await self.session.flush()
        self.summary.add(firing.outcome)
        data = {"rule": rule_resource(rule), "firing": firing_resource(firing)}
        emit(self.session, "rule.triggered", rule.organization_id, data, actor=RULE_ACTOR)

    async def fire(self, rule: Rule, spec: RuleSpec, cause: str, linked: list[triggers.Ticket]) -> None:
        if spec.installation_id is None or spec.target is None:
            firing = self._firing(rule, "event", cause)
            settle(firing, FiringOutcome.EMITTED, self.now)
            await self._log(rule, firing)
            return
        firing = self._firing(rule, "ticket", cause)
        await self.ticket(rule, spec, firing, linked)
        await self._log(rule, firing)
        if firing.outcome is FiringOutcome.PENDING:
            # Keyed like the request's create job, and written after it: runs once that job is over.
            outbox.enqueue(
                self.session,
                SETTLE_KIND,
                firing.id,
                organization_id=firing.organization_id,
                key=f"ticket-request:{firing.ticket_request_id}",
            )

    async def ticket(
        self, rule: Rule, spec: RuleSpec, firing: RuleFiring, linked: list[triggers.Ticket]
    ) -> None:
        """Ask for the ticket, unless the issue has one in the installation or a limit holds it back."""
        session, issue, now = self.session, self.issue, self.now
        installation = await session.get(Installation, spec.installation_id)
        if installation is None or installation.status is not InstallationStatus.ACTIVE:
            state = "gone" if installation is None else installation.status.value
            settle(firing, FiringOutcome.FAILED, now, f"the installation is {state}: no ticket was made")
            return
        there = next((t for t in linked if t.installation_id == installation.id), None)
        if there is not None:
            firing.external_issue_id = there.external_issue_id
            settle(
                firing, FiringOutcome.LINKED, now, f"the issue already has {there.key} in this installation"
            )
            return
        standing = (
            await session.execute(
                select(TicketRequest)
                .where(
                    TicketRequest.issue_id == issue.id,
                    TicketRequest.installation_id == installation.id,
                    TicketRequest.idempotency_key.is_not(None),
                )
                .limit(1)
            )
        ).scalar_one_or_none()
        if standing is not None:
            firing.ticket_request_id, firing.external_issue_id = standing.id, standing.external_issue_id
            settle(firing, FiringOutcome.LINKED, now, "a ticket for this issue was already asked for")
            return
        limited_at = await throttled(session, installation.id, now)
        if limited_at is not None:
            settle(
                firing,
                FiringOutcome.SUPPRESSED,
                now,
                f"tracker throttled: {installation.provider} answered 'rate limited' at "
                f"{limited_at:%H:%M:%S} UTC; no new tickets for "
                f"{int(THROTTLE_MEMORY.total_seconds())} s after that",
            )
            return
        context = await self.context()
        title, description = (
            context.title(spec.title_template),
            context.description(spec.description_template),
        )
        frees = await quota.take(session, rule.id, spec.max_tickets_per_hour, now)
        if frees is not None:
            settle(
                firing,
                FiringOutcome.SUPPRESSED,
                now,
                f"rule limit: {spec.max_tickets_per_hour} ticket(s) per hour reached; "
                f"the next one may be made at {frees:%H:%M:%S} UTC",
            )
            return
        request = await links.request_ticket(
            session, issue, installation, spec.target or "", title, description, spec.labels
        )
        firing.ticket_request_id = request.id

    async def milestones(self, rule: Rule, spec: RuleSpec, linked: list[triggers.Ticket]) -> None:
        reached = tickets.milestone_of(self.issue.times_seen)
        if not reached:
            return
        for ticket in linked:
            if spec.installation_id not in (None, ticket.installation_id) or ticket.milestone >= reached:
                continue
            if not await tickets.claim_milestone(self.session, ticket.external_issue_id, reached):
                continue
            comment = Comment(
                organization_id=self.issue.organization_id,
                issue_id=self.issue.id,
                body=f"This error has now happened {reached:,} times "
                f"({self.issue.times_seen:,} events so far). "
                f"Posted by the Conduit rule \u201c{rule.name}\u201d.",
            )
            self.session.add(comment)
            await self.session.flush()
            # Sync out posts it, in order with the ticket's other changes, within the installation's
            # throttle and health; only this ticket gets it, not every ticket of the issue.
            outbox.enqueue(
                self.session,
                outbound.PUSH_KIND,
                ticket.external_issue_id,
                "comment",
                comment.id,
                organization_id=self.issue.organization_id,
                key=outbound.ticket_key(ticket.external_issue_id),
            )
            firing = self._firing(rule, "comment", f"milestone:{reached}")
            firing.external_issue_id = ticket.external_issue_id
            settle(firing, FiringOutcome.COMMENTED, self.now)
            await self._log(rule, firing)


async def evaluate(
    runtime: Runtime, issue_id: int, regressed_at: datetime | None = None, now: datetime | None = None
) -> Summary:
    """Evaluate every enabled rule of the issue's project for the issue, and commit what they did."""
    now = now or utcnow()
    async with runtime.sessions() as session:
        # First, before the issue is read: events from now on queue the next evaluation. On PostgreSQL
        # it is committed on its own, or the mark's row stays locked until this evaluation commits and
        # every event of the issue published meanwhile waits on it. SQLite has one writer at a time:
        # a second commit would only queue for the database again, and no event can commit meanwhile.
        await counts.unqueue(session, issue_id, now)
        if session.get_bind().dialect.name == "postgresql":
            await session.commit()
        issue = await session.get(Issue, issue_id, populate_existing=True)
        if issue is None:
            await session.commit()
            return Summary()
        rules = await enabled_rules(session, issue.project_id)
        if not rules:
            await session.commit()
            return Summary()
        summary = await Evaluation(runtime, session, issue, now).run(rules, regressed_at)
        await session.commit()
        return summary


async def settle_firing(runtime: Runtime, firing_id: int) -> str:
    """After the create job of a firing's ticket request: created, or failed with the request's reason."""
    async with runtime.sessions() as session:
        firing = await session.get(RuleFiring, firing_id)
        if firing is None or firing.outcome is not FiringOutcome.PENDING:
            return "already settled"
        request = (
            await session.get(TicketRequest, firing.ticket_request_id) if firing.ticket_request_id else None
        )
        now = utcnow()
        if request is not None and request.external_issue_id is not None:
            firing.external_issue_id = request.external_issue_id
            settle(firing, FiringOutcome.CREATED, now)
            issue = await session.get(Issue, firing.issue_id)
            rule = await session.get(Rule, firing.rule_id)
            if issue is not None:
                await tickets.track(session, issue, request.external_issue_id)
                if rule is not None and rule.assignee_id is not None and issue.assignee_id is None:
                    await assign(session, issue, rule.assignee_id)
                # Milestones the issue reached while the ticket was being made are said now.
                queue(session, issue.organization_id, issue.id)
        else:
            reason = request.error if request is not None and request.error else "its create job gave up"
            settle(firing, FiringOutcome.FAILED, now, f"the ticket was not created: {reason}")
        await session.commit()
        return firing.outcome.value


async def assign(session: AsyncSession, issue: Issue, member_id: int) -> None:
    """Assign the issue as the rule says; sync out then assigns its tickets (`issue.assigned`)."""
    member = await session.get(Member, member_id)
    if member is None or member.organization_id != issue.organization_id:
        return
    issue.assignee_id = member.id
    data = {"issue_id": issue.id, "project_id": issue.project_id, "assignee_id": member.id}
    emit(session, "issue.assigned", issue.organization_id, data, actor=RULE_ACTOR)
