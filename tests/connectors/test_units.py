"""The pure parts: error mapping, rate-limit delays, endpoints per installation, config validation."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import pytest

from conduit.connectors import errors, http
from conduit.connectors.base import TicketDraft
from conduit.connectors.config import ConfigError, SyncConfig
from conduit.connectors.github.catalog import GITHUB
from conduit.connectors.http import Reply, default_check, outcome_of, retry_delay
from conduit.connectors.jira.catalog import JIRA
from conduit.connectors.records import StatusCategory
from conduit.connectors.registry import provider
from conduit.connectors.text import fenced, markdown, parse_time, time_or_none
from conduit.db.models import InteractionOutcome


def reply(status: int, data: object = None, **headers: str) -> Reply:
    return Reply(status, httpx.Headers(headers), data, "")


@pytest.mark.parametrize(
    ("status", "headers", "error", "outcome"),
    [
        (200, {}, None, InteractionOutcome.SUCCESS),
        (304, {}, None, InteractionOutcome.SUCCESS),
        (401, {}, errors.Unauthorized, InteractionOutcome.HALTED),
        (403, {}, errors.Forbidden, InteractionOutcome.HALTED),
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0"},
            errors.RateLimited,
            InteractionOutcome.FAILURE,
        ),
        (404, {}, errors.NotFound, InteractionOutcome.HALTED),
        (410, {}, errors.NotFound, InteractionOutcome.HALTED),
        (422, {}, errors.InvalidRequest, InteractionOutcome.FAILURE),
        (429, {"retry-after": "3"}, errors.RateLimited, InteractionOutcome.FAILURE),
        (503, {}, errors.Unavailable, InteractionOutcome.FAILURE),
    ],
)
def test_status_mapping(
    status: int, headers: dict[str, str], error: type | None, outcome: InteractionOutcome
) -> None:
    found = default_check(GITHUB.rate_limit)(reply(status, {"message": "nope"}, **headers))
    assert (type(found) if found else None) is error
    assert outcome_of(found) is outcome


def test_invalid_request_keeps_the_trackers_words() -> None:
    github = default_check(GITHUB.rate_limit)(
        reply(
            422,
            {
                "message": "Validation Failed",
                "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
            },
        )
    )
    assert isinstance(github, errors.InvalidRequest)
    assert "Validation Failed" in github.message and github.fields == {"title": "missing_field"}
    jira = default_check(JIRA.rate_limit)(
        reply(400, {"errorMessages": [], "errors": {"summary": "You must specify a summary"}})
    )
    assert isinstance(jira, errors.InvalidRequest)
    assert jira.fields == {"summary": "You must specify a summary"} and "summary" in jira.message


def test_retry_delay_from_reset_headers() -> None:
    reset = int(time.time()) + 30
    epoch = retry_delay(
        httpx.Headers({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}), GITHUB.rate_limit
    )
    assert epoch is not None and 25 <= epoch <= 30
    iso = datetime.fromtimestamp(reset + 60, UTC).strftime("%Y-%m-%dT%H:%MZ")
    jira = retry_delay(httpx.Headers({"x-ratelimit-reset": iso}), JIRA.rate_limit)
    assert jira is not None and 0 < jira <= 120
    # Retry-After wins over the reset header; remaining > 0 means the reset is no reason to wait.
    assert (
        retry_delay(httpx.Headers({"retry-after": "5", "x-ratelimit-reset": str(reset)}), GITHUB.rate_limit)
        == 5
    )
    assert (
        retry_delay(
            httpx.Headers({"x-ratelimit-remaining": "10", "x-ratelimit-reset": str(reset)}), GITHUB.rate_limit
        )
        is None
    )


def test_rate_limit_without_a_delay_uses_the_fallback() -> None:
    found = default_check(GITHUB.rate_limit)(reply(429, {}))
    assert isinstance(found, errors.RateLimited) and found.retry_after == GITHUB.rate_limit.fallback


def test_endpoints_cloud_and_self_hosted() -> None:
    assert GITHUB.endpoints(None).api == "https://api.github.com"
    assert GITHUB.endpoints(None).authorize == "https://github.com/login/oauth/authorize"
    ghes = GITHUB.endpoints("https://ghe.example.com/")
    assert (ghes.authorize, ghes.token, ghes.api) == (
        "https://ghe.example.com/login/oauth/authorize",
        "https://ghe.example.com/login/oauth/access_token",
        "https://ghe.example.com/api/v3",
    )
    cloud = JIRA.endpoints(None, "abc-123")
    assert cloud.api == "https://api.atlassian.com/ex/jira/abc-123/rest/api/3"
    assert cloud.token == "https://auth.atlassian.com/oauth/token" and cloud.resources is not None
    dc = JIRA.endpoints("https://jira.example.com")
    assert (dc.authorize, dc.api, dc.resources) == (
        "https://jira.example.com/rest/oauth2/latest/authorize",
        "https://jira.example.com/rest/api/3",
        None,
    )
    with pytest.raises(ValueError, match="unknown provider 'trello'"):
        provider("trello")


def test_config_validation_and_resolved_statuses() -> None:
    config = SyncConfig.from_json({"resolved_statuses": ["Done", "Won't Fix"], "reopen_status": "To Do"})
    assert config.is_resolved("won't fix", StatusCategory.DONE)
    assert not config.is_resolved("In Review", StatusCategory.DONE)
    assert SyncConfig().is_resolved("Shipped", StatusCategory.DONE)
    assert SyncConfig.from_json(config.to_json()) == config
    with pytest.raises(ConfigError, match="unknown config field"):
        SyncConfig.from_json({"resolve_statsu": "Done"})
    with pytest.raises(ConfigError, match="status_inbound"):
        SyncConfig.from_json({"status_inbound": "yes"})
    with pytest.raises(ConfigError, match="resolved_statuses"):
        SyncConfig.from_json({"resolved_statuses": "Done"})


def test_code_fence_outlasts_backticks() -> None:
    assert fenced("a ```` b").startswith("`````\n")
    assert fenced("plain") == "```\nplain\n```"


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-02T03:04:05Z",  # GitHub, Linear, Shortcut
        "2026-01-02T03:04:05.000+0000",  # Jira
        "2026-01-02T04:04:05+01:00",
        "2026-01-02 03:04:05 UTC",  # GitLab's older webhooks
        "2026-01-02T03:04:05",  # no zone: UTC
        " 2026-01-02T03:04:05Z ",
    ],
)
def test_tracker_times_are_read_as_aware_times(value: str) -> None:
    assert parse_time(value) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert time_or_none(value) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, "", "  ", 1767323045, {"at": "2026-01-02"}])
def test_no_time_is_none(value: object) -> None:
    assert parse_time(value) is None
    assert time_or_none(value) is None


def test_a_string_that_is_not_a_time_is_refused_or_read_as_none() -> None:
    with pytest.raises(ValueError):
        parse_time("yesterday")
    assert time_or_none("yesterday") is None


def test_markdown_description() -> None:
    draft = TicketDraft(
        title="ZeroDivisionError",
        summary=" 3 events ",
        issue_url="https://conduit.example/issues/1",
        exception="ZeroDivisionError: ```",
    )
    assert markdown(draft) == (
        "3 events\n\n**Latest exception**\n\n````\nZeroDivisionError: ```\n````\n\n"
        "[View this issue in Conduit](https://conduit.example/issues/1)"
    )
    bare = TicketDraft(title="t", summary=" ", issue_url="https://conduit.example/issues/2")
    assert markdown(bare) == "[View this issue in Conduit](https://conduit.example/issues/2)"


def test_errors_public_names() -> None:
    assert sorted(errors.__all__) == [
        "AddressRefused",
        "Forbidden",
        "InvalidRequest",
        "NotFound",
        "RateLimited",
        "Revoked",
        "TrackerError",
        "Unauthorized",
        "Unavailable",
    ]
    assert issubclass(errors.Revoked, errors.Unauthorized)
    assert outcome_of(errors.AddressRefused("10.0.0.1 is a private address")) is InteractionOutcome.HALTED


@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [
        (500, "text/plain", "ERR wrong password\nredis_password=hunter2-very-secret"),
        (502, "text/html", "<html><body>upstream config: redis_password=hunter2-very-secret</body></html>"),
        (400, "application/json", '{"detail": "redis_password=hunter2-very-secret"}'),
        (404, "application/json", "not json at all: redis_password=hunter2-very-secret"),
    ],
)
def test_a_body_without_an_error_field_is_never_quoted(status: int, content_type: str, body: str) -> None:
    """Only the tracker's own error fields are shown; whatever else a server answers stays out."""
    headers = httpx.Headers({"content-type": content_type})
    data = None
    if "json" in content_type:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
    found = default_check(GITHUB.rate_limit)(Reply(status, headers, data, body))
    assert found is not None
    assert found.message == f"HTTP {status}"
    assert "hunter2" not in found.message


def test_the_trackers_words_are_one_short_line_with_the_status() -> None:
    words = "line one\r\nline\ttwo\x1b[31m " + "x" * 1000
    found = default_check(JIRA.rate_limit)(reply(400, {"errorMessages": [words]}))
    assert found is not None
    assert found.message.startswith("HTTP 400: line one line two")
    assert "\n" not in found.message and "\x1b" not in found.message
    assert len(found.message) <= len("HTTP 400: ") + http.MAX_TRACKER_MESSAGE


def test_field_errors_under_message_are_said() -> None:
    found = default_check(JIRA.rate_limit)(
        reply(400, {"message": {"title": ["can't be blank", "is too short"]}})
    )
    assert found is not None
    assert found.message == "HTTP 400: title: can't be blank, is too short"


def test_error_messages_are_one_bounded_line_whoever_builds_them() -> None:
    built = errors.InvalidRequest("Jira refused the webhook: " + "bad\n" * 400)
    assert "\n" not in built.message and len(built.message) <= errors.MAX_MESSAGE
