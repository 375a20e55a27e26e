"""Linking issues to tickets: create one (idempotently, through a job), link an existing one, unlink."""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.connectors import TicketDraft, TicketRecord, get_connectors, registry
from conduit.connectors.errors import NotFound
from conduit.db.models import Event, ExternalIssue, Installation, InstallationStatus, Issue, IssueLink
from conduit.db.models.integrations import TicketRequest, TicketRequestState
from conduit.errors import Invalid
from conduit.events.emit import emit
from conduit.ids import encode
from conduit.jobs import outbox
from conduit.runtime import Runtime
from conduit.sync import cache

CREATE_KIND = "tracker.ticket.create"
MAX_EXCEPTION_CHARS = 4000


class LinkError(Invalid, ValueError):
    """A link that cannot be made; the message says why. Still a ValueError, as before the error root."""


def idempotency_key(issue_id: int, installation_id: int, target: str) -> str:
    return hashlib.sha256(f"{issue_id}\x00{installation_id}\x00{target.strip()}".encode()).hexdigest()


def reference(request: TicketRequest) -> str:
    """A token written into the ticket so a retried create can find the ticket a lost answer made."""
    return f"conduit-ref-{(request.idempotency_key or str(request.id))[:16]}"


def usable(installation: Installation | None) -> Installation:
    if installation is None:
        raise LinkError("installation not found")
    if installation.status is not InstallationStatus.ACTIVE:
        raise LinkError(
            f"the installation is {installation.status.value}: "
            f"{installation.status_reason or 'finish installing it first'}"
        )
    return installation


async def request_ticket(
    session: AsyncSession,
    issue: Issue,
    installation: Installation,
    target: str,
    title: str | None,
    description: str | None,
    labels: tuple[str, ...] = (),
) -> TicketRequest:
    """The standing request for this issue, installation and target, or a new one with its job."""
    key = idempotency_key(issue.id, installation.id, target)
    existing = (
        await session.execute(select(TicketRequest).where(TicketRequest.idempotency_key == key))
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    request = TicketRequest(
        organization_id=issue.organization_id,
        idempotency_key=key,
        issue_id=issue.id,
        installation_id=installation.id,
        target=target.strip(),
        title=title,
        description=description,
        labels=list(labels) or None,
    )
    try:
        async with session.begin_nested():
            session.add(request)
    except IntegrityError:
        # A second submit raced this one and won; its request is the one.
        found = (
            await session.execute(select(TicketRequest).where(TicketRequest.idempotency_key == key))
        ).scalar_one()
        return found
    outbox.enqueue(
        session,
        CREATE_KIND,
        request.id,
        organization_id=issue.organization_id,
        key=f"ticket-request:{request.id}",
    )
    return request


async def draft_for(
    runtime: Runtime, session: AsyncSession, request: TicketRequest, issue: Issue
) -> TicketDraft:
    latest = (
        await session.execute(
            select(Event).where(Event.issue_id == issue.id).order_by(Event.id.desc()).limit(1)
        )
    ).scalar_one_or_none()
    exception = None
    if latest is not None and (latest.exception_type or latest.exception_value):
        exception = f"{latest.exception_type or 'Error'}: {latest.exception_value or ''}".strip()
        frames = _frames(latest.data)
        if frames:
            exception = "Traceback (most recent call last):\n" + frames + "\n" + exception
        exception = exception[-MAX_EXCEPTION_CHARS:]
    summary = request.description or (
        f"{issue.title}\n\nSeen {issue.times_seen} time(s), first {issue.first_seen:%Y-%m-%d %H:%M} UTC, "
        f"last {issue.last_seen:%Y-%m-%d %H:%M} UTC. Culprit: {issue.culprit or 'unknown'}."
    )
    issue_url = f"{runtime.settings.public_url.rstrip('/')}/issues/{encode('Issue', issue.id)}"
    return TicketDraft(
        title=request.title or issue.title,
        summary=f"{summary}\n\nReference: {reference(request)}",
        issue_url=issue_url,
        exception=exception,
        labels=tuple(request.labels or ()),
    )


def _frames(data: object) -> str:
    try:
        values = data["exception"]["values"]  # type: ignore[index]
        frames = values[-1]["stacktrace"]["frames"]
    except (KeyError, IndexError, TypeError):
        return ""
    lines = []
    for f in frames[-20:]:
        if isinstance(f, dict):
            lines.append(
                f'  File "{f.get("filename", "?")}", line {f.get("lineno", "?")}, in {f.get("function", "?")}'
            )
    return "\n".join(lines)


async def link_record(
    session: AsyncSession, installation: Installation, issue: Issue, record: TicketRecord
) -> tuple[IssueLink, ExternalIssue]:
    """Cache the ticket and link it to the issue (once); emits `issue.linked` for a new link."""
    external = await cache.find(session, installation.id, record.key)
    if external is None:
        external = ExternalIssue(
            organization_id=installation.organization_id,
            installation_id=installation.id,
            key=record.key,
            url=record.url,
        )
        session.add(external)
    cache.store(external, record)
    await session.flush()
    link = (
        await session.execute(
            select(IssueLink).where(
                IssueLink.issue_id == issue.id, IssueLink.external_issue_id == external.id
            )
        )
    ).scalar_one_or_none()
    if link is None:
        link = IssueLink(
            organization_id=issue.organization_id, issue_id=issue.id, external_issue_id=external.id
        )
        session.add(link)
        await session.flush()
        data = {"link": cache.link_resource(link), "external_issue": cache.external_issue_resource(external)}
        emit(session, "issue.linked", issue.organization_id, data)
    return link, external


async def create_ticket(runtime: Runtime, request_id: int, attempt: int) -> tuple[ExternalIssue, str] | None:
    """The job body: make the ticket unless this request already made one, then link it."""
    async with runtime.sessions() as session:
        request = await session.get(TicketRequest, request_id)
        if request is None or request.state is not TicketRequestState.PENDING:
            return None
        issue = await session.get(Issue, request.issue_id)
        installation = usable(await session.get(Installation, request.installation_id))
        assert issue is not None
        draft = await draft_for(runtime, session, request, issue)
        target, ref = request.target, reference(request)
    connector = get_connectors(runtime).bind(installation)
    record: TicketRecord | None = None
    if attempt > 1:
        # An earlier try may have created the ticket and lost the answer (a timeout): look first.
        found = await connector.search(target, ref, limit=2)
        record = found[0] if found else None
    if record is None:
        record = await connector.create_ticket(target, draft)
    async with runtime.sessions() as session:
        request = await session.get(TicketRequest, request_id)
        issue = await session.get(Issue, request.issue_id) if request else None
        if request is None or issue is None:
            return None
        _, external = await link_record(session, installation, issue, record)
        request.state, request.external_issue_id, request.error = TicketRequestState.DONE, external.id, None
        await session.commit()
        return external, target


async def fail_request(runtime: Runtime, request_id: int, reason: str) -> None:
    async with runtime.sessions() as session:
        await session.execute(
            update(TicketRequest)
            .where(TicketRequest.id == request_id, TicketRequest.state == TicketRequestState.PENDING)
            # A failed request frees its key: submitting again makes a new attempt.
            .values(state=TicketRequestState.FAILED, error=reason[:1000], idempotency_key=None)
        )
        await session.commit()


async def link_existing(
    runtime: Runtime, session: AsyncSession, issue: Issue, installation: Installation, key: str
) -> tuple[IssueLink, ExternalIssue]:
    """Read the ticket from the tracker (it must exist) and link it."""
    connector = get_connectors(runtime).bind(installation)
    try:
        record = await connector.get_ticket(key.strip())
    except NotFound:
        raise LinkError(
            f"{connector.provider.name} has no ticket {key!r} that this installation can see"
        ) from None
    return await link_record(session, installation, issue, record)


async def unlink(session: AsyncSession, link: IssueLink) -> None:
    emit(session, "issue.unlinked", link.organization_id, {"link": cache.link_resource(link)})
    # The request that made this link no longer stands: a new create makes a new ticket.
    await session.execute(
        update(TicketRequest)
        .where(
            TicketRequest.issue_id == link.issue_id,
            TicketRequest.external_issue_id == link.external_issue_id,
        )
        .values(idempotency_key=None)
        .execution_options(synchronize_session=False)
    )
    await session.delete(link)


def scope_of(provider_key: str, key: str) -> str:
    """The repository or project a ticket key belongs to, as the provider's connector reads keys."""
    return registry.scope_of(provider_key, key)


async def link_count(session: AsyncSession, external_issue_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(IssueLink)
            .where(IssueLink.external_issue_id == external_issue_id)
        )
        or 0
    )
