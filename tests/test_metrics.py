"""`/metrics`: real traffic through the app moves every family; the endpoint is hidden without a token
and refuses a wrong one."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from conduit.app import create_app
from conduit.connectors.http import Target, TrackerHttp
from conduit.connectors.registry import provider
from conduit.db.models import Installation
from conduit.jobs.config import JobsSettings
from conduit.runtime import Runtime
from conduit.webhooks.fanout import DELIVER_KIND
from tests.apps.conftest import GQL
from tests.apps.helpers import issue_app, name
from tests.apps.receiver import Receiver
from tests.conftest import Tenant
from tests.ingest.helpers import event_envelope, exception_event, sentry_auth
from tests.jobs.conftest import api_side, wait_for

TOKEN = "metrics-" + secrets.token_urlsafe(24)
BEARER = {"Authorization": f"Bearer {TOKEN}"}
ENVELOPE_ROUTE = "/api/{project_id}/envelope/"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = Receiver().start()
    yield rec
    rec.stop()


@pytest.fixture(scope="module")
async def metered(runtime: Runtime) -> AsyncIterator[Runtime]:
    """The test database, with a metrics token and loopback webhook URLs allowed."""
    update = {"metrics_token": TOKEN, "allow_private_webhook_urls": True}
    own = Runtime.create(runtime.settings.model_copy(update=update))
    yield own
    await own.close()


@pytest.fixture(scope="module")
def metered_app(metered: Runtime) -> Starlette:
    return create_app(runtime=metered)


@pytest.fixture
async def http(metered_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=metered_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def scrape(http: httpx.AsyncClient) -> tuple[set[str], Samples]:
    """The family names and every sample's value, keyed by sample name and labels."""
    r = await http.get("/metrics", headers=BEARER)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    names: set[str] = set()
    samples: Samples = {}
    for family in text_string_to_metric_families(r.text):
        names.add(family.name)
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return names, samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= got)


async def test_real_traffic_moves_every_family(
    http: httpx.AsyncClient, metered: Runtime, receiver: Receiver, tenant: Tenant, tenant2: Tenant
) -> None:
    gql = GQL(metered)
    ep = name()
    app = await gql.create_app(tenant.token, **issue_app(receiver.url(ep)))
    receiver.endpoints[ep].secret = app["webhookSecret"]
    await gql.install(tenant2.token, app["app"]["id"])
    _, before = await scrape(http)

    jobs = JobsSettings(poll_interval_seconds=0.1, queue_name=f"conduit:test:{secrets.token_hex(4)}")
    async with api_side(metered, jobs):
        # An event, a refused one and a GraphQL query, all through the app.
        event = exception_event("MetricsError", secrets.token_hex(4))
        path = f"/api/{tenant2.project_id}/envelope/"
        r = await http.post(path, content=event_envelope(event), headers=sentry_auth(tenant2.public_key))
        assert r.status_code == 200, r.text
        r = await http.post(path, content=event_envelope(exception_event()), headers=sentry_auth("0" * 32))
        assert r.status_code == 401, r.text
        r = await http.post(
            "/graphql", json={"query": "query Org { organization { id } }"}, headers=tenant.auth
        )
        assert r.status_code == 200 and "errors" not in r.json(), r.text

        # The event's issue.created is published and delivered to the app's endpoint by jobs.
        async def delivered() -> bool:
            _, now = await scrape(http)
            return all(
                total(now, sample, **labels) > total(before, sample, **labels)
                for sample, labels in (
                    ("conduit_webhook_deliveries_total", {"outcome": "succeeded"}),
                    ("conduit_jobs_total", {"kind": DELIVER_KIND, "state": "done"}),
                )
            )

        await wait_for(delivered, 30, "a delivery and its job's end in the metrics")

    # A tracker call, on the one road every tracker call takes, answered with a rate-limit header.
    tracker_ep = name()
    receiver.url(tracker_ep)
    receiver.endpoints[tracker_ep].headers = {"x-ratelimit-remaining": "42"}
    async with metered.sessions() as session:
        installation = Installation(organization_id=tenant.organization_id, provider="github")
        session.add(installation)
        await session.commit()
    tracker_http = TrackerHttp(metered.sessions, allow_private=True)
    try:
        await tracker_http.request(
            Target(installation.id, tenant.organization_id, "github"),
            "metrics.probe",
            "POST",
            receiver.url(tracker_ep),
            template="/{name}",
            limits=provider("github").rate_limit,
        )
    finally:
        await tracker_http.aclose()

    names, after = await scrape(http)
    assert {
        "conduit_http_requests",
        "conduit_http_request_duration_seconds",
        "conduit_graphql_operations",
        "conduit_graphql_operation_duration_seconds",
        "conduit_ingest_events",
        "conduit_ingest_events_dropped",
        "conduit_jobs",
        "conduit_job_duration_seconds",
        "conduit_job_queue_lag_seconds",
        "conduit_webhook_attempts",
        "conduit_webhook_attempt_duration_seconds",
        "conduit_webhook_deliveries",
        "conduit_webhook_delivery_latency_seconds",
        "conduit_tracker_calls",
        "conduit_tracker_call_duration_seconds",
        "conduit_tracker_rate_limit_remaining",
    } <= names

    def moved(sample: str, **labels: str) -> bool:
        return total(after, sample, **labels) > total(before, sample, **labels)

    envelope = {"route": ENVELOPE_ROUTE, "method": "POST"}
    assert moved("conduit_http_requests_total", **envelope, status_class="2xx")
    assert moved("conduit_http_requests_total", **envelope, status_class="4xx")
    assert moved("conduit_http_request_duration_seconds_count", **envelope, status_class="2xx")
    assert moved("conduit_http_requests_total", route="/graphql", method="POST", status_class="2xx")
    # Routes are templates: no sample names the project's id.
    assert not any(str(tenant2.project_id) in dict(labels).get("route", "") for _, labels in after)

    assert moved("conduit_graphql_operations_total", type="query", outcome="success")
    assert moved("conduit_graphql_operation_duration_seconds_count", type="query")

    assert moved("conduit_ingest_events_total")
    assert moved("conduit_ingest_events_dropped_total", reason="unauthorized")

    assert moved("conduit_jobs_total", kind=DELIVER_KIND, state="done")
    assert moved("conduit_job_duration_seconds_count", kind=DELIVER_KIND)
    assert moved("conduit_job_queue_lag_seconds_count", kind=DELIVER_KIND)

    assert moved("conduit_webhook_attempts_total", outcome="success")
    assert moved("conduit_webhook_attempt_duration_seconds_count", outcome="success")
    assert moved("conduit_webhook_deliveries_total", outcome="succeeded")
    assert moved("conduit_webhook_delivery_latency_seconds_count", outcome="succeeded")

    assert moved("conduit_tracker_calls_total", tracker="github", outcome="success")
    assert moved("conduit_tracker_call_duration_seconds_count", tracker="github", outcome="success")
    assert total(after, "conduit_tracker_rate_limit_remaining", tracker="github") == 42


async def test_metrics_is_not_found_without_a_configured_token(client: httpx.AsyncClient) -> None:
    r = await client.get("/metrics", headers=BEARER)
    assert r.status_code == 404
    assert "conduit_" not in r.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
    ids=["none", "wrong", "not bearer", "longer"],
)
async def test_metrics_refuses_a_wrong_token(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    r = await http.get("/metrics", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "conduit_" not in r.text


def test_processes_sharing_a_multiprocess_directory_are_summed(tmp_path: Path) -> None:
    """prometheus-client fixes its storage when imported, so each process here is a real one."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    root = Path(__file__).resolve().parent.parent
    count = (
        "from conduit import metrics; metrics.EVENTS_INGESTED.inc(); metrics.JOBS.labels('k', 'done').inc()"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, cwd=root, check=True)
    show = "import sys; from conduit import metrics; sys.stdout.buffer.write(metrics.exposition()[0])"
    out = subprocess.run([sys.executable, "-c", show], env=env, cwd=root, check=True, capture_output=True)
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(out.stdout.decode())
        for s in family.samples
    }
    assert samples[("conduit_ingest_events_total", frozenset())] == 2
    assert samples[("conduit_jobs_total", frozenset({("kind", "k"), ("state", "done")}))] == 2
