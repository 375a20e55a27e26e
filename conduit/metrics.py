"""Every Prometheus metric family Conduit exposes, defined once here so any layer may record into it.

Labels are bounded by construction: route templates (never raw paths), methods, status classes, job
kinds and tracker keys from the registries, outcomes from small enums. Never an id, a URL or a tenant:
each label value is a time series kept forever by whoever scrapes.

Several processes (`conduit serve` workers, `conduit worker`) can share one exposition: with
`PROMETHEUS_MULTIPROC_DIR` set before they start, prometheus-client keeps every value in files there and
`exposition()` merges them (clear the directory when the processes restart). Without it, each process
exposes its own values from the default registry.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

# From a fast local call to a slow remote one; the top buckets catch the time budgets (15 s, 30 s).
FAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Waits measured in queues and retry schedules: milliseconds when healthy, hours when an endpoint is down.
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0, 7200.0, 86400.0)

HTTP_REQUESTS = Counter(
    "conduit_http_requests_total",
    "HTTP requests answered, by route template, method and status class.",
    ["route", "method", "status_class"],
)
HTTP_DURATION = Histogram(
    "conduit_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response.",
    ["route", "method", "status_class"],
    buckets=FAST_BUCKETS,
)

GRAPHQL_OPERATIONS = Counter(
    "conduit_graphql_operations_total",
    "GraphQL operations, by type and outcome (success, error, rejected before execution).",
    ["type", "outcome"],
)
GRAPHQL_DURATION = Histogram(
    "conduit_graphql_operation_duration_seconds",
    "Time to parse, validate and execute one GraphQL operation.",
    ["type"],
    buckets=FAST_BUCKETS,
)

EVENTS_INGESTED = Counter("conduit_ingest_events_total", "Events stored by ingest.")
EVENTS_DROPPED = Counter(
    "conduit_ingest_events_dropped_total",
    "Ingest requests that stored no event, by reason (a refusal's kind, or a resent duplicate).",
    ["reason"],
)

JOBS = Counter(
    "conduit_jobs_total",
    "Job runs, by kind and the state they settled in (done, retry, dead, interrupted).",
    ["kind", "state"],
)
JOB_DURATION = Histogram(
    "conduit_job_duration_seconds", "Time one job run took.", ["kind"], buckets=FAST_BUCKETS
)
JOB_QUEUE_LAG = Histogram(
    "conduit_job_queue_lag_seconds",
    "Time from when a job was due (its run_after) to when a runner started it.",
    ["kind"],
    buckets=WAIT_BUCKETS,
)

WEBHOOK_ATTEMPTS = Counter(
    "conduit_webhook_attempts_total",
    "Webhook delivery attempts, by outcome (success, retry, throttle, disable).",
    ["outcome"],
)
WEBHOOK_ATTEMPT_DURATION = Histogram(
    "conduit_webhook_attempt_duration_seconds",
    "Time one webhook attempt took, connect to last byte read.",
    ["outcome"],
    buckets=FAST_BUCKETS,
)
WEBHOOK_DELIVERIES = Counter(
    "conduit_webhook_deliveries_total",
    "Webhook deliveries that reached their end, by outcome (succeeded, failed).",
    ["outcome"],
)
WEBHOOK_DELIVERY_LATENCY = Histogram(
    "conduit_webhook_delivery_latency_seconds",
    "Time from a delivery's creation to its end, retries included.",
    ["outcome"],
    buckets=WAIT_BUCKETS,
)

TRACKER_CALLS = Counter(
    "conduit_tracker_calls_total",
    "Calls to trackers, by tracker and outcome (success, failure, halted, rate_limited).",
    ["tracker", "outcome"],
)
TRACKER_CALL_DURATION = Histogram(
    "conduit_tracker_call_duration_seconds",
    "Time one tracker call took.",
    ["tracker", "outcome"],
    buckets=FAST_BUCKETS,
)
TRACKER_RATE_LIMIT_REMAINING = Gauge(
    "conduit_tracker_rate_limit_remaining",
    "Requests left in the tracker's rate-limit window, as its last answer said.",
    ["tracker"],
    multiprocess_mode="mostrecent",
)


def status_class(status: int) -> str:
    """`2xx`, `4xx`, ...: one series per class rather than per code."""
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


def exposition() -> tuple[bytes, str]:
    """The current values in the Prometheus text format, and its content type."""
    if os.environ.get(MULTIPROC_DIR_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
