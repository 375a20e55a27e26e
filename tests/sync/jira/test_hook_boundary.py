"""Jira's hook boundary as a hostile caller sees it: deliveries of dynamic webhooks carry a JWT that
signs the sender and its claims but not the body, so the claims must name this installation and a
token is spent once."""

from __future__ import annotations

import json
import time
import uuid
import warnings
from typing import Any

from joserfc import jwt
from joserfc.jwk import OctKey

from conduit.db.models import Installation, InstallationStatus
from conduit.db.models.integrations import TrackerWebhook
from conduit.sync.inbound import UNVERIFIED
from tests.sync.conftest import CLIENTS, Conduit, Side, install, wait_for
from tests.sync.helpers import create_ticket, idle
from tests.sync.hooks import Hook, hook, post

REFUSED = (401, {"error": UNVERIFIED})


def jira_claims(target: Hook, **changes: Any) -> dict[str, Any]:
    """The claims the Jira sandbox signs (see conduit/connectors/jira/sandbox/sandbox.py), with `changes`."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": target.site,
        "aud": CLIENTS["jira"].client_id,
        "sub": "5f-someone",
        "iat": now,
        "exp": now + 180,
        "jti": f"test-{time.monotonic_ns()}",
        "context": {"cloudId": target.cloud_id, "webhookId": int(target.webhook_ids[0])},
    }
    claims.update(changes)
    return claims


def jira_bearer(claims: dict[str, Any], secret: str | None = None) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short test secret is the point of some tests
        key = OctKey.import_key((secret or CLIENTS["jira"].client_secret).encode())
        return "Bearer " + jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, key)


def jira_issue_body(key: str, status: str = "Done", category: str = "done") -> bytes:
    """A `jira:issue_updated` delivery moving `key` to `status`, as an attacker would write one."""
    document = {
        "timestamp": int(time.time() * 1000),
        "webhookEvent": "jira:issue_updated",
        "issue": {
            "key": key,
            "fields": {
                "summary": "forged",
                "status": {"name": status, "statusCategory": {"key": category}},
                "updated": "2999-01-01T00:00:00.000+0000",
            },
        },
        "changelog": {"items": [{"field": "status", "fromString": "To Do", "toString": status}]},
    }
    return json.dumps(document).encode()


def jira_headers(bearer: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Authorization": bearer,
        "X-Atlassian-Webhook-Identifier": str(uuid.uuid4()),
    }


async def linked_jira(conduit: Conduit, side: Side) -> tuple[Hook, int, str]:
    """An installed Jira with its webhook registered and one ticket linked to an unresolved issue."""
    installed = await install(conduit, side)
    issue_id = await conduit.issue()
    ticket = await create_ticket(conduit, installed.gid, issue_id, side.scope)
    await wait_for(lambda: idle(conduit), "the queue to drain")
    target = await hook(conduit, side, installed.id)
    target = Hook(
        target.path, target.webhook_ids, target.site, str((await side.control("GET", "/state"))["cloud_id"])
    )
    assert target.webhook_ids and target.cloud_id
    return target, issue_id, ticket["key"]


def hs512(claims: dict[str, Any]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        key = OctKey.import_key(CLIENTS["jira"].client_secret.encode())
        return "Bearer " + jwt.encode({"alg": "HS512"}, claims, key, algorithms=["HS512"])


async def test_jira_jwt_must_name_this_installation(conduit: Conduit, sides: dict[str, Side]) -> None:
    """Finding 3: a token signed with the client secret but naming another site, app or webhook, or
    outside its time window, resolves nothing."""
    target, issue_id, key = await linked_jira(conduit, sides["jira"])
    now = int(time.time())
    body = jira_issue_body(key)
    forged_claims: dict[str, dict[str, Any]] = {
        "another issuer": {"iss": "https://other.atlassian.net"},
        "no issuer": {"iss": None},
        "another app": {"aud": "someone-elses-app"},
        "no audience": {"aud": None},
        "another webhook": {"context": {"cloudId": target.cloud_id, "webhookId": 987654321}},
        "no webhook": {"context": {"cloudId": target.cloud_id}},
        "no site": {"context": {"webhookId": int(target.webhook_ids[0])}},
        "no context": {"context": None},
        "expired": {"iat": now - 400, "exp": now - 200},
        "stale": {"iat": now - 3600, "exp": now + 60},
        "from the future": {"iat": now + 600, "exp": now + 700},
        "long-lived": {"exp": now + 30 * 86400},
        "no expiry": {"exp": None},
        "not a number": {"exp": float("nan")},
    }
    for name, changes in forged_claims.items():
        claims = {k: v for k, v in jira_claims(target, **changes).items() if v is not None}
        reply = await post(conduit, target.path, jira_headers(jira_bearer(claims)), body)
        assert (reply.status_code, reply.json()) == REFUSED, name
    for name, bearer in {
        "another secret": jira_bearer(jira_claims(target), "not-the-client-secret-" * 2),
        "HS512": hs512(jira_claims(target)),
        "not a JWT": "Bearer not.a.jwt",
    }.items():
        reply = await post(conduit, target.path, jira_headers(bearer), body)
        assert (reply.status_code, reply.json()) == REFUSED, name
    await wait_for(lambda: idle(conduit), "the queue to drain")
    assert await conduit.issue_status(issue_id) == "unresolved"


async def test_jira_jwt_is_spent_once(conduit: Conduit, sides: dict[str, Side]) -> None:
    """Finding 3: Atlassian's token binds no body, so a token seen once is never taken again: not with
    another body, and not after it was spent on a delivery about a ticket nobody links."""
    target, issue_id, key = await linked_jira(conduit, sides["jira"])
    spent = jira_bearer(jira_claims(target))
    unrelated = await post(conduit, target.path, jira_headers(spent), jira_issue_body("OPS-9999"))
    assert (unrelated.status_code, unrelated.json()) == (202, {"status": "ignored"}), unrelated.text
    forged = await post(conduit, target.path, jira_headers(spent), jira_issue_body(key))
    assert (forged.status_code, forged.json()) == (202, {"status": "duplicate"}), forged.text

    genuine = jira_bearer(jira_claims(target))
    taken = await post(conduit, target.path, jira_headers(genuine), jira_issue_body(key))
    assert (taken.status_code, taken.json()) == (202, {"status": "queued"}), taken.text
    reopened = jira_issue_body(key, "To Do", "new")
    again = await post(conduit, target.path, jira_headers(genuine), reopened)
    assert (again.status_code, again.json()) == (202, {"status": "duplicate"}), again.text
    await wait_for(lambda: idle(conduit), "the queue to drain")
    assert await conduit.issue_status(issue_id) == "resolved"


async def test_jira_cloud_site_is_its_cloud_id(conduit: Conduit, sides: dict[str, Side]) -> None:
    """Finding 3: on the cloud, `context.cloudId` must be the installation's own site."""
    site = "https://acme.atlassian.net"
    async with conduit.runtime.sessions() as session:
        row = Installation(
            organization_id=conduit.tenant.organization_id,
            provider="jira",
            base_url=None,
            status=InstallationStatus.ACTIVE,
            account_id="cloud-acme",
            account_url=site,
            # A cloud install with its own app: the client its JWTs are signed with.
            oauth_client_id=CLIENTS["jira"].client_id,
            oauth_client_secret_enc=conduit.runtime.secrets.encrypt(CLIENTS["jira"].client_secret),
        )
        session.add(row)
        await session.flush()
        session.add(
            TrackerWebhook(
                organization_id=row.organization_id, installation_id=row.id, scope="OPS", external_id="4242"
            )
        )
        await session.commit()
        target = Hook(f"/hooks/jira/{row.hook_token}", ["4242"], site, "cloud-acme")
    body = jira_issue_body("OPS-1")
    other_site = jira_claims(target, context={"cloudId": "cloud-elsewhere", "webhookId": 4242})
    reply = await post(conduit, target.path, jira_headers(jira_bearer(other_site)), body)
    assert (reply.status_code, reply.json()) == REFUSED
    reply = await post(conduit, target.path, jira_headers(jira_bearer(jira_claims(target))), body)
    assert (reply.status_code, reply.json()) == (202, {"status": "ignored"}), reply.text


async def test_hostile_signed_jira_shapes_are_400(conduit: Conduit, sides: dict[str, Side]) -> None:
    """Finding 11: shapes Jira never sends, in a delivery with a valid token, are 400s, not 500s."""
    target, _, key = await linked_jira(conduit, sides["jira"])
    issue = json.loads(jira_issue_body(key))["issue"]
    shapes: dict[str, dict[str, Any]] = {
        "changelog as a list": {"webhookEvent": "jira:issue_updated", "issue": issue, "changelog": [1]},
        "items as a number": {
            "webhookEvent": "jira:issue_updated",
            "issue": issue,
            "changelog": {"items": 7},
        },
        "comment as text": {"webhookEvent": "comment_created", "issue": issue, "comment": "hi"},
        "timestamp past year 9999": {
            "webhookEvent": "jira:issue_created",
            "issue": issue,
            "timestamp": 10**30,
        },
        "fields as a list": {"webhookEvent": "jira:issue_created", "issue": {"key": key, "fields": [1]}},
        "status as text": {
            "webhookEvent": "jira:issue_created",
            "issue": {"key": key, "fields": {"status": "Done"}},
        },
    }
    for name, document in shapes.items():
        bearer = jira_bearer(jira_claims(target))
        reply = await post(conduit, target.path, jira_headers(bearer), json.dumps(document).encode())
        assert reply.status_code == 400 and reply.json()["error"], (name, reply.text)
    nested = b"[" * 100_000
    reply = await post(conduit, target.path, jira_headers(jira_bearer(jira_claims(target))), nested)
    assert reply.status_code == 400 and "nested too deeply" in reply.json()["error"]
