"""The hook endpoints as a hostile caller sees them, for every registered tracker: hook URLs that say
nothing about what exists, oversized and hostile bodies, parsers that take any JSON or say why.
(Each tracker's own signature schemes are tested beside it, e.g. `tests/sync/jira/`.)"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conduit.connectors import WebhookRejected
from conduit.connectors.api import Api
from conduit.connectors.base import Connector
from conduit.connectors.config import SyncConfig
from conduit.connectors.http import Target
from conduit.connectors.registry import connector_class, provider
from conduit.ids import encode
from conduit.sync.inbound import UNVERIFIED
from conduit.sync.routes import MAX_WEBHOOK_BYTES
from tests import rawhttp
from tests.connectors.drivers import KEYS, driver, installs_over_oauth
from tests.sync.conftest import START, Conduit, Side, install, wait_for
from tests.sync.helpers import create_ticket, idle

REFUSED = (401, {"error": UNVERIFIED})


async def captured(conduit: Conduit, side: Side) -> tuple[int, int]:
    """An installation with a linked ticket, and a genuine delivery about it the tracker recorded but
    did not send: (installation id, delivery id)."""
    installed = await install(conduit, side)
    issue_id = await conduit.issue()
    ticket = await create_ticket(conduit, installed.gid, issue_id, side.scope)
    await wait_for(lambda: idle(conduit), "the queue to drain")
    await side.fault(kind="drop_webhooks")
    try:
        [delivery_id] = (await side.act(ticket["key"], "close"))[-1:]
    finally:
        await side.clear_faults()
    return installed.id, delivery_id


WEBHOOK_URL = "query($id: ID!) { installation(id: $id) { webhookUrl } }"


async def test_hook_urls_tell_nothing(conduit: Conduit, sides: dict[str, Side], side: Side) -> None:
    """Findings 9 and 11: unknown, unset, other-provider, unsigned and forged all get the same bytes;
    no path can crash the handler, however numeric or strange."""
    installation_id, delivery_id = await captured(conduit, side)
    active = (await conduit.installation(installation_id)).hook_token
    at = f"{conduit.url}/hooks/{side.key}"
    not_set_up: list[dict[str, Any]] = []
    if installs_over_oauth(side.key):
        # Started, never authorized (a tracker connected with a token is never in this state).
        started = (await conduit.graphql(START, p=side.key, b=side.url))["startInstallation"]
        assert started["installation"]["status"] == "PENDING"
        not_set_up.append({"url": f"{at}/{started['webhookUrl'].rsplit('/', 1)[1]}"})
    attempts: list[dict[str, Any]] = [
        {"url": f"{at}/{active}", "signature": "none"},
        {"url": f"{at}/{active}", "signature": "forged"},
        *({"url": f"{conduit.url}/hooks/{other}/{active}"} for other in sides if other != side.key),
        *not_set_up,
        {"url": f"{at}/{'A' * 32}"},
        {"url": f"{at}/{installation_id}"},
        {"url": f"{at}/9999"},
        {"url": f"{at}/99999999999999999999"},
        {"url": f"{at}/-1"},
        {"url": f"{at}/%C2%B9"},
        {"url": f"{at}/%00"},
        {"url": f"{at}/{'a' * 5000}"},
        {"url": f"{conduit.url}/hooks/nope/{active}"},
    ]
    answers = set()
    for options in attempts:
        sent = await side.control("POST", "/webhooks/send", json={"delivery": delivery_id, **options})
        assert (sent["status"], sent["body"]) == REFUSED, options
        answers.add((sent["status"], json.dumps(sent["body"]), sent["content_type"]))
    assert len(answers) == 1
    # The URL Conduit shows carries the token, never the sequential id.
    shown = (await conduit.graphql(WEBHOOK_URL, id=encode("Installation", installation_id)))["installation"]
    assert urlsplit(shown["webhookUrl"]).path == f"/hooks/{side.key}/{active}"
    assert urlsplit(shown["webhookUrl"]).path.rsplit("/", 1)[1] != str(installation_id)


async def test_bodies_are_bounded_before_any_lookup(conduit: Conduit) -> None:
    """Finding 5: a declared size over the limit is refused before a byte is read (the client here
    sends none), on a path that names no installation; a chunked stream is counted as it comes."""
    port = urlsplit(conduit.url).port
    assert port is not None
    head = {"Content-Type": "application/json"}
    for declared in (200 * 1024 * 1024, 10_000_000_000):
        reply = await rawhttp.send(
            port, "POST", f"/hooks/{KEYS[0]}/9999", head | {"Content-Length": str(declared)}
        )
        assert reply.status == 413, reply
        assert str(MAX_WEBHOOK_BYTES) in reply.json()["error"]
    chunked = rawhttp.chunk(b" " * (MAX_WEBHOOK_BYTES // 2)) * 3 + b"0\r\n\r\n"
    reply = await rawhttp.send(
        port, "POST", f"/hooks/{KEYS[0]}/9999", head | {"Transfer-Encoding": "chunked"}, chunked
    )
    assert reply.status == 413, reply


HOSTILE_BODIES = {
    "nested brackets": (b"[" * 100_000, "nested too deeply"),
    "nested objects": (b'{"a":' * 50_000, "nested too deeply"),
    "a huge number": (b'{"action": "closed", "issue": {"number": ' + b"9" * 10_000 + b"}}", "not JSON"),
    "not UTF-8": (b'{"action": "\xff\xfe"}', "UTF-8"),
}


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
async def test_hostile_signed_bodies_are_400(conduit: Conduit, side: Side, name: str) -> None:
    """Finding 11: a correctly signed body that no JSON reader should take gets a 400 saying why."""
    _, delivery_id = await captured(conduit, side)
    body, says = HOSTILE_BODIES[name]
    status, answer = await side.send(delivery_id, body_base64=base64.b64encode(body).decode())
    assert status == 400 and says in answer["error"], answer


def _connector(key: str) -> Connector:
    spec = provider(key)
    api = Api(
        http=None,  # type: ignore[arg-type]  # parsing never calls out
        provider=spec,
        target=Target(1, 1),
        endpoints=spec.endpoints("http://tracker.invalid"),
        auth=None,
        site_url="http://tracker.invalid",
    )
    return connector_class(key)(api, SyncConfig())


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


def _documents(key: str) -> st.SearchStrategy[dict[str, Any]]:
    needed = driver(key).fuzz_fields
    nested = st.recursive(JSON, lambda inner: st.dictionaries(FIELDS, inner, max_size=6), max_leaves=40)
    base = st.dictionaries(FIELDS, nested, max_size=6)
    return base.map(lambda d: {**d, **needed})


@pytest.mark.parametrize("key", KEYS)
def test_parse_webhook_takes_any_json_or_says_why(key: str) -> None:
    """Whatever a signed body holds, parsing answers with a change or a WebhookRejected."""
    connector = _connector(key)
    headers = driver(key).fuzz_headers

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_documents(key))
    def check(document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        with contextlib.suppress(WebhookRejected):
            connector.parse_webhook(headers, body)

    check()
