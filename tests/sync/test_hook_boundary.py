"""The hook endpoints as a hostile caller sees them: forged and replayed Jira JWTs, hook URLs that say
nothing about what exists, replays under new delivery ids, oversized and hostile bodies."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
import warnings
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import OctKey

from conduit.connectors import WebhookRejected
from conduit.connectors.api import Api
from conduit.connectors.catalog import GITHUB, JIRA
from conduit.connectors.config import SyncConfig
from conduit.connectors.github import GitHubConnector
from conduit.connectors.http import Target
from conduit.connectors.jira import JiraConnector
from conduit.db.models import Installation, InstallationStatus
from conduit.db.models.integrations import TrackerWebhook
from conduit.ids import decode_as
from conduit.sync.inbound import UNVERIFIED
from conduit.sync.routes import MAX_WEBHOOK_BYTES
from tests import rawhttp
from tests.sync.conftest import CLIENTS, START, Conduit, Side, install, wait_for
from tests.sync.helpers import create_ticket, idle
from tests.sync.hooks import Hook, github_signature, hook, jira_bearer, jira_claims, post

REFUSED = (401, {"error": UNVERIFIED})


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


async def test_hook_urls_tell_nothing(conduit: Conduit, sides: dict[str, Side]) -> None:
    """Findings 9 and 11: unknown, unset, other-provider, unsigned and forged all get the same bytes;
    no path can crash the handler, however numeric or strange."""
    side = sides["github"]
    installed = await install(conduit, side)
    active = (await conduit.installation(installed.id)).hook_token
    started = (await conduit.graphql(START, p="github", b=side.url))["startInstallation"]
    assert started["installation"]["status"] == "PENDING"
    pending = started["webhookUrl"].rsplit("/", 1)[1]
    body = b'{"action": "closed", "issue": {"number": 1}}'
    signed = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": github_signature(installed.webhook_secret, body),
    }
    unsigned = {k: v for k, v in signed.items() if k != "X-Hub-Signature-256"}
    forged = {**signed, "X-Hub-Signature-256": github_signature("guess", body)}
    attempts = [
        (f"/hooks/github/{active}", unsigned),
        (f"/hooks/github/{active}", forged),
        (f"/hooks/jira/{active}", signed),
        (f"/hooks/github/{pending}", signed),
        (f"/hooks/github/{'A' * 32}", signed),
        (f"/hooks/github/{installed.id}", signed),
        ("/hooks/github/9999", signed),
        ("/hooks/github/99999999999999999999", signed),
        ("/hooks/github/-1", signed),
        ("/hooks/github/%C2%B9", signed),
        ("/hooks/github/%00", signed),
        (f"/hooks/github/{'a' * 5000}", signed),
        (f"/hooks/nope/{active}", signed),
    ]
    answers = set()
    for path, headers in attempts:
        reply = await post(conduit, path, headers, body)
        assert (reply.status_code, reply.json()) == REFUSED, path
        answers.add((reply.status_code, reply.content, reply.headers["content-type"]))
    assert len(answers) == 1
    # The URL Conduit shows carries the token, never the sequential id.
    assert urlsplit(started["webhookUrl"]).path == f"/hooks/github/{pending}"
    pk = decode_as(started["installation"]["id"], "Installation")
    assert f"/{pk}" not in started["webhookUrl"]


async def test_github_replay_under_a_new_delivery_id(conduit: Conduit, sides: dict[str, Side]) -> None:
    """Finding 10: a signed delivery sent again with a fresh X-GitHub-Delivery is a duplicate."""
    side = sides["github"]
    installed = await install(conduit, side)
    issue_id = await conduit.issue()
    ticket = await create_ticket(conduit, installed.gid, issue_id, side.scope)
    await wait_for(lambda: idle(conduit), "the queue to drain")
    await side.fault(kind="drop_webhooks")
    try:
        [delivery_id] = (await side.act(ticket["key"], "close"))[-1:]
    finally:
        await side.clear_faults()
    genuine = await side.delivery(delivery_id)
    body = genuine["body"].encode()
    target = await hook(conduit, side, installed.id)
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": genuine["event"],
        "X-GitHub-Delivery": genuine["guid"],
        "X-Hub-Signature-256": github_signature(installed.webhook_secret, body),
    }
    first = await post(conduit, target.path, headers, body)
    assert first.json() == {"status": "queued"}, first.text
    replay = await post(conduit, target.path, {**headers, "X-GitHub-Delivery": str(uuid.uuid4())}, body)
    assert (replay.status_code, replay.json()) == (202, {"status": "duplicate"})
    await wait_for(lambda: idle(conduit), "the queue to drain")
    assert len(await conduit.events("issue.resolved", issue_id)) == 1


async def test_bodies_are_bounded_before_any_lookup(conduit: Conduit) -> None:
    """Finding 5: a declared size over the limit is refused before a byte is read (the client here
    sends none), on a path that names no installation; a chunked stream is counted as it comes."""
    port = urlsplit(conduit.url).port
    assert port is not None
    head = {"Content-Type": "application/json"}
    for declared in (200 * 1024 * 1024, 10_000_000_000):
        reply = await rawhttp.send(
            port, "POST", "/hooks/github/9999", head | {"Content-Length": str(declared)}
        )
        assert reply.status == 413, reply
        assert str(MAX_WEBHOOK_BYTES) in reply.json()["error"]
    chunked = rawhttp.chunk(b" " * (MAX_WEBHOOK_BYTES // 2)) * 3 + b"0\r\n\r\n"
    reply = await rawhttp.send(
        port, "POST", "/hooks/github/9999", head | {"Transfer-Encoding": "chunked"}, chunked
    )
    assert reply.status == 413, reply


HOSTILE_BODIES = {
    "nested brackets": (b"[" * 100_000, "nested too deeply"),
    "nested objects": (b'{"a":' * 50_000, "nested too deeply"),
    "a huge number": (b'{"action": "closed", "issue": {"number": ' + b"9" * 10_000 + b"}}", "not JSON"),
    "not UTF-8": (b'{"action": "\xff\xfe"}', "UTF-8"),
}


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
async def test_hostile_signed_github_bodies_are_400(
    conduit: Conduit, sides: dict[str, Side], name: str
) -> None:
    """Finding 11: a correctly signed body that no JSON reader should take gets a 400 saying why."""
    installed = await install(conduit, sides["github"])
    target = await hook(conduit, sides["github"], installed.id)
    body, says = HOSTILE_BODIES[name]
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": github_signature(installed.webhook_secret, body),
    }
    reply = await post(conduit, target.path, headers, body)
    assert reply.status_code == 400 and says in reply.json()["error"], reply.text


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


def _connector(kind: str) -> JiraConnector | GitHubConnector:
    spec = JIRA if kind == "jira" else GITHUB
    api = Api(
        http=None,  # type: ignore[arg-type]  # parsing never calls out
        provider=spec,
        target=Target(1, 1),
        endpoints=spec.endpoints("http://tracker.invalid"),
        auth=None,
        site_url="http://tracker.invalid",
    )
    if kind == "jira":
        return JiraConnector(api, SyncConfig())
    return GitHubConnector(api, SyncConfig())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)
FIELDS = st.sampled_from(
    [
        "issue",
        "fields",
        "status",
        "changelog",
        "items",
        "comment",
        "timestamp",
        "user",
        "key",
        "number",
        "updated",
        "updated_at",
        "assignee",
        "state",
        "title",
        "action",
        "sender",
        "pull_request",
    ]
)


def _documents(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    event = "jira:issue_updated" if kind == "jira" else None
    nested = st.recursive(JSON, lambda inner: st.dictionaries(FIELDS, inner, max_size=6), max_leaves=40)
    base = st.dictionaries(FIELDS, nested, max_size=6)
    return base.map(lambda d: {**d, "webhookEvent": event} if event else d)


@pytest.mark.parametrize("kind", ["jira", "github"])
def test_parse_webhook_takes_any_json_or_says_why(kind: str) -> None:
    """Whatever a signed body holds, parsing answers with a change or a WebhookRejected."""
    connector = _connector(kind)
    headers = {"X-GitHub-Event": "issues", "Content-Type": "application/json"}

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_documents(kind))
    def check(document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        with contextlib.suppress(WebhookRejected):
            connector.parse_webhook(headers, body)

    check()
