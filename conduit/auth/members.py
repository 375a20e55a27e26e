"""Members signing in: what a role may do, passwords, one-time sign-in links, and the changes that must
end a member's sessions (a new role, removal, a new password).

A member's scopes follow from their role, read afresh on every request, so a role change takes effect
at once; their sessions are revoked as well, so nobody keeps a console open on rights they lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.auth import credentials, passwords, sessions, tokens
from conduit.db.base import utcnow
from conduit.db.models import Member, MemberRole, Organization, SignInLink
from conduit.errors import Forbidden, Invalid

LINK_PREFIX = "cdl_"
LINK_TTL = timedelta(minutes=15)
MAX_LINK_TTL = timedelta(days=7)
MAX_EMAIL = 320
MAX_SLUG = 100

# What a plain member does in the console: read the organization, its projects, issues, events and
# installations, and work issues (status, assignment, comments, tickets). Configuring trackers, apps,
# webhooks, rules, tokens and jobs is for owners and admins.
MEMBER_SCOPES: tuple[str, ...] = (
    "org:read",
    "member:read",
    "project:read",
    "issue:write",
    "event:read",
    "installation:read",
)
ROLE_SCOPES: dict[MemberRole, tuple[str, ...]] = {
    MemberRole.OWNER: (tokens.ADMIN,),
    MemberRole.ADMIN: (tokens.ADMIN,),
    MemberRole.MEMBER: MEMBER_SCOPES,
}


def scopes_for(role: MemberRole) -> tuple[str, ...]:
    return ROLE_SCOPES[MemberRole(role)]


class SignInFailed(Forbidden):
    """One answer for an unknown email and a wrong password."""

    def __init__(self) -> None:
        super().__init__("the email or password is not right")


@dataclass(frozen=True, slots=True)
class OrganizationNeeded(Exception):
    """The password is right for several organizations: the caller must say which."""

    organizations: tuple[Organization, ...]


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def by_email(
    session: AsyncSession, email: str, organization: str | None
) -> Sequence[tuple[Member, Organization]]:
    """The memberships of an email address (in one organization, given its slug), oldest first."""
    stmt = (
        select(Member, Organization)
        .join(Organization, Organization.id == Member.organization_id)
        .where(func.lower(Member.email) == normalize_email(email))
        .order_by(Member.id)
    )
    if organization:
        stmt = stmt.where(Organization.slug == organization.strip().lower())
    return [(m, o) for m, o in (await session.execute(stmt)).all()]


async def password_sign_in(
    session: AsyncSession, email: str, password: str, organization: str | None
) -> Member:
    """The member these credentials name; raises SignInFailed or OrganizationNeeded.

    Every failure costs at least one full hash verification, so timing does not reveal whether the
    email belongs to anyone; an ambiguous email is reported only to someone who knows a password of it.
    """
    rows = await by_email(session, email, organization)
    if not rows:
        await passwords.verify_async(None, password)
        raise SignInFailed()
    matched = [(m, o) for m, o in rows if await passwords.verify_async(m.password_hash, password)]
    if not matched:
        raise SignInFailed()
    if len(matched) > 1:
        raise OrganizationNeeded(tuple(o for _, o in matched))
    member = matched[0][0]
    assert member.password_hash is not None
    if passwords.needs_rehash(member.password_hash):
        member.password_hash = await passwords.hash_async(password)
        await session.commit()
    return member


async def issue_link(
    session: AsyncSession, member: Member, ttl: timedelta = LINK_TTL
) -> tuple[SignInLink, str]:
    """A one-time sign-in link's row and token, committed; the token is shown only now."""
    if not timedelta(0) < ttl <= MAX_LINK_TTL:
        raise Invalid(f"a sign-in link lasts between a second and {MAX_LINK_TTL.days} days", field="ttl")
    value = credentials.generate(LINK_PREFIX)
    now = utcnow()
    row = SignInLink(
        organization_id=member.organization_id,
        member_id=member.id,
        token_hash=credentials.digest(value),
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    await session.commit()
    return row, value


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/console/sign-in/{token}"


async def redeem_link(session: AsyncSession, token: str) -> Member | None:
    """The member a link signs in, marking it used; None when unknown, expired or used already.

    The conditional update is the claim: of two requests racing with one link, one changes the row.
    """
    if not credentials.looks_like(token, LINK_PREFIX):
        return None
    now = utcnow()
    digest = credentials.digest(token)
    result = await session.execute(
        update(SignInLink)
        .where(SignInLink.token_hash == digest, SignInLink.used_at.is_(None), SignInLink.expires_at > now)
        .values(used_at=now)
    )
    if not getattr(result, "rowcount", 0):
        await session.rollback()
        return None
    link = (await session.execute(select(SignInLink).where(SignInLink.token_hash == digest))).scalar_one()
    member = await session.get(Member, link.member_id)
    if member is None or member.organization_id != link.organization_id:
        await session.rollback()
        return None
    await session.commit()
    return member


async def set_password(
    session: AsyncSession, member: Member, current: str, new: str, keep_session: int | None
) -> None:
    """Change a member's password; the current one is needed when there is one. Ends their other sessions."""
    passwords.check_policy(new)
    if member.password_hash is not None and not await passwords.verify_async(member.password_hash, current):
        raise Invalid("the current password is not right", field="current")
    member.password_hash = await passwords.hash_async(new)
    await sessions.revoke_member(session, member.id, keep=keep_session)
    await session.commit()


async def owners(session: AsyncSession, organization_id: int) -> Sequence[int]:
    stmt = select(Member.id).where(Member.organization_id == organization_id, Member.role == MemberRole.OWNER)
    return (await session.execute(stmt)).scalars().all()


async def _keep_an_owner(session: AsyncSession, member: Member) -> None:
    if member.role is MemberRole.OWNER and list(await owners(session, member.organization_id)) == [member.id]:
        raise Invalid("an organization keeps at least one owner: make another member owner first", field="id")


async def change_role(session: AsyncSession, member: Member, role: MemberRole) -> None:
    if member.role is role:
        return
    if role is not MemberRole.OWNER:
        await _keep_an_owner(session, member)
    member.role = role
    await sessions.revoke_member(session, member.id)
    await session.commit()


async def remove(session: AsyncSession, member: Member) -> None:
    await _keep_an_owner(session, member)
    await sessions.revoke_member(session, member.id)
    await session.delete(member)
    await session.commit()


async def ensure_owner(session: AsyncSession, organization_id: int, email: str, name: str) -> Member:
    """The organization's first owner, made with `email` when it has none."""
    stmt = (
        select(Member)
        .where(Member.organization_id == organization_id, Member.role == MemberRole.OWNER)
        .order_by(Member.id)
        .limit(1)
    )
    member = (await session.execute(stmt)).scalar_one_or_none()
    if member is None:
        member = Member(
            organization_id=organization_id, email=normalize_email(email), name=name, role=MemberRole.OWNER
        )
        session.add(member)
        await session.commit()
    return member
