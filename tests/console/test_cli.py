"""`conduit signin-link`: a one-time link from the command line, for the member an email names."""

from __future__ import annotations

import json
from pathlib import Path

from conduit.auth import members
from conduit.db.models import Member, MemberRole
from conduit.runtime import Runtime
from tests.conftest import make_settings
from tests.test_cli import run_cli


async def test_signin_link_prints_a_link_that_signs_the_member_in(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"CONDUIT_DATA_DIR": str(data), "CONDUIT_PUBLIC_URL": "http://console.example.com"}
    orgs = [
        json.loads(run_cli("bootstrap", "--org", name, "--project", "api", "--json", env=env).stdout)
        for name in ("Acme", "Globex")
    ]
    runtime = Runtime.create(make_settings(f"sqlite+aiosqlite:///{data / 'conduit.db'}", data))
    try:
        async with runtime.sessions() as session:
            session.add(
                Member(
                    organization_id=orgs[0]["organization_id"], email="ada@example.com", role=MemberRole.OWNER
                )
            )
            session.add(Member(organization_id=orgs[0]["organization_id"], email="both@example.com"))
            session.add(Member(organization_id=orgs[1]["organization_id"], email="both@example.com"))
            await session.commit()

        done = run_cli("signin-link", "Ada@Example.com", env=env)
        assert done.returncode == 0, done.stderr
        url = done.stdout.strip()
        assert url.startswith("http://console.example.com/console/sign-in/" + members.LINK_PREFIX)
        token = url.rsplit("/", 1)[1]
        async with runtime.sessions() as session:
            member = await members.redeem_link(session, token)
            assert member is not None and member.email == "ada@example.com"
            assert await members.redeem_link(session, token) is None

        ambiguous = run_cli("signin-link", "both@example.com", env=env)
        assert ambiguous.returncode == 1 and "--org" in ambiguous.stderr and "acme" in ambiguous.stderr
        chosen = run_cli("signin-link", "both@example.com", "--org", "globex", env=env)
        assert chosen.returncode == 0, chosen.stderr

        unknown = run_cli("signin-link", "nobody@example.com", env=env)
        assert unknown.returncode == 1 and "no member" in unknown.stderr and unknown.stdout == ""
        too_long = run_cli("signin-link", "ada@example.com", "--minutes", "999999", env=env)
        assert too_long.returncode == 2 and "days" in too_long.stderr
    finally:
        await runtime.close()
