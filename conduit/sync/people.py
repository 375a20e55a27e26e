"""Who a member is in a tracker, and who a tracker user is in Conduit.

Emails are the first match, but trackers often hide them (some show only the ones a user made public), so a
match, once found by the tracker's user search, is kept as a TrackerAccount and used both ways.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.connectors.base import Connector
from conduit.db.models import Installation, Member
from conduit.db.models.integrations import TrackerAccount
from conduit.runtime import Runtime


async def stored_account(session: AsyncSession, installation_id: int, member_id: int) -> str | None:
    return (
        await session.execute(
            select(TrackerAccount.account).where(
                TrackerAccount.installation_id == installation_id, TrackerAccount.member_id == member_id
            )
        )
    ).scalar_one_or_none()


async def remember(session: AsyncSession, installation: Installation, member_id: int, account: str) -> None:
    """Keep that `member_id` is `account` in this installation's tracker; a tracker user is one member,
    so a mapping of the account to anyone else goes."""
    await session.execute(
        delete(TrackerAccount).where(
            TrackerAccount.installation_id == installation.id,
            TrackerAccount.account == account,
            TrackerAccount.member_id != member_id,
        )
    )
    row = (
        await session.execute(
            select(TrackerAccount).where(
                TrackerAccount.installation_id == installation.id, TrackerAccount.member_id == member_id
            )
        )
    ).scalar_one_or_none()
    if row is None:
        session.add(
            TrackerAccount(
                organization_id=installation.organization_id,
                installation_id=installation.id,
                member_id=member_id,
                account=account,
            )
        )
    else:
        row.account = account


async def forget(session: AsyncSession, installation: Installation, member_id: int) -> None:
    await session.execute(
        delete(TrackerAccount).where(
            TrackerAccount.installation_id == installation.id, TrackerAccount.member_id == member_id
        )
    )


async def account_for(
    runtime: Runtime, connector: Connector, installation: Installation, member: Member
) -> str | None:
    """The member's tracker user: the stored one, else found by email (and then stored)."""
    async with runtime.sessions() as session:
        known = await stored_account(session, installation.id, member.id)
    if known is not None:
        return known
    found = await connector.find_user(member.email)
    if found is not None:
        async with runtime.sessions() as session:
            await remember(session, installation, member.id, found)
            await session.commit()
    return found


async def member_for(
    session: AsyncSession, installation: Installation, email: str | None, account: str | None
) -> Member | None:
    """The member a tracker user is: by email when the tracker shows it, else by stored account."""
    if email:
        member = (
            await session.execute(
                select(Member).where(
                    Member.organization_id == installation.organization_id,
                    func.lower(Member.email) == email.lower(),
                )
            )
        ).scalar_one_or_none()
        if member is not None:
            if account:
                await remember(session, installation, member.id, account)
            return member
    if account:
        return (
            (
                await session.execute(
                    select(Member)
                    .join(TrackerAccount, TrackerAccount.member_id == Member.id)
                    .where(
                        TrackerAccount.installation_id == installation.id, TrackerAccount.account == account
                    )
                )
            )
            .scalars()
            .first()
        )
    return None
