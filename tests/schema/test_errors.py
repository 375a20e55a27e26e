"""The one mapping from the error root to the GraphQL error types, by base."""

from __future__ import annotations

import pytest

from conduit import errors
from conduit.connectors import WebhookRejected
from conduit.connectors import errors as tracker
from conduit.connectors.clients import ClientError, NoOAuthClient
from conduit.connectors.config import ConfigError
from conduit.connectors.http import MAX_REPLY_BYTES, ReplyTooLarge
from conduit.schema.errors import (
    ForbiddenError,
    NotFoundError,
    TrackerFailure,
    UserError,
    ValidationError,
    user_error,
)
from conduit.sync import inbound, install, links, statuses


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (errors.NotFound("no such app"), NotFoundError(message="no such app")),
        (
            errors.Forbidden("needs app:write", required_scope="app:write"),
            ForbiddenError(message="needs app:write", required_scope="app:write"),
        ),
        (errors.Forbidden("owners only"), ForbiddenError(message="owners only", required_scope="admin")),
        # The error's own field wins; the resolver's names the argument when the error does not.
        (
            errors.Invalid("bad url", field="webhookUrl"),
            ValidationError(message="bad url", field="webhookUrl"),
        ),
        (errors.Invalid("bad input"), ValidationError(message="bad input", field="appId")),
        (errors.ConduitError("cannot"), ValidationError(message="cannot", field="appId")),
        (errors.Upstream("endpoint down"), TrackerFailure(message="endpoint down")),
    ],
)
def test_each_base_has_its_type(exc: errors.ConduitError, expected: UserError) -> None:
    assert user_error(exc, field="appId") == expected


@pytest.mark.parametrize(
    "exc",
    [
        tracker.NotFound("no such ticket", status=404),
        tracker.Forbidden("not yours", status=403),
        tracker.Unauthorized("bad token", status=401),
        tracker.InvalidRequest("malformed key", status=422),
    ],
)
def test_a_tracker_refusing_the_input_is_the_callers_to_fix(exc: tracker.TrackerError) -> None:
    assert user_error(exc, field="key") == ValidationError(message=exc.message, field="key")


@pytest.mark.parametrize(
    ("exc", "retry_after"),
    [
        (tracker.RateLimited("slow down", 30.0, status=429), 30.0),
        # Rate limited by a 403 with no requests left: still a rate limit, not a refusal.
        (tracker.RateLimited("slow down", 12.0, status=403), 12.0),
        (tracker.Unavailable("502 from the tracker", status=502), None),
        (tracker.Unavailable("connection refused"), None),
    ],
)
def test_a_tracker_failing_is_retryable(exc: tracker.TrackerError, retry_after: float | None) -> None:
    assert user_error(exc, field="key") == TrackerFailure(message=exc.message, retry_after=retry_after)


# Domain errors raised by install, links, config checks and webhooks: each is a ConduitError by its base,
# so `user_error` maps it, and stays the builtin it was before the error root for callers that catch that.
@pytest.mark.parametrize(
    ("exc", "base", "builtin", "expected"),
    [
        (
            install.InstallError("baseUrl has no host", "baseUrl"),
            errors.Invalid,
            ValueError,
            ValidationError(message="baseUrl has no host", field="baseUrl"),
        ),
        (
            install.InstallError("unknown provider 'x'"),
            errors.Invalid,
            ValueError,
            ValidationError(message="unknown provider 'x'", field="provider"),
        ),
        (
            links.LinkError("installation not found"),
            errors.Invalid,
            ValueError,
            ValidationError(message="installation not found", field="arg"),
        ),
        (
            ConfigError("unknown config field(s): x"),
            errors.Invalid,
            ValueError,
            ValidationError(message="unknown config field(s): x", field="arg"),
        ),
        (
            ClientError("pass clientId and clientSecret together"),
            errors.Invalid,
            ValueError,
            ValidationError(message="pass clientId and clientSecret together", field="arg"),
        ),
        (
            NoOAuthClient("no OAuth client is configured"),
            errors.Invalid,
            LookupError,
            ValidationError(message="no OAuth client is configured", field="arg"),
        ),
        (
            WebhookRejected("not signed"),
            errors.Invalid,
            ValueError,
            ValidationError(message="not signed", field="arg"),
        ),
        (
            inbound.Refused(400, "malformed"),
            errors.Invalid,
            ValueError,
            ValidationError(message="malformed", field="arg"),
        ),
        (
            inbound.Unverified("no installation has this hook token"),
            errors.Forbidden,
            LookupError,
            ForbiddenError(message="no installation has this hook token", required_scope="admin"),
        ),
        (
            ReplyTooLarge(),
            errors.Upstream,
            Exception,
            TrackerFailure(message=f"the reply is larger than {MAX_REPLY_BYTES} bytes"),
        ),
    ],
)
def test_domain_errors_are_rooted(
    exc: errors.ConduitError, base: type[errors.ConduitError], builtin: type[Exception], expected: UserError
) -> None:
    assert isinstance(exc, base)
    assert isinstance(exc, builtin)
    assert str(exc) == exc.message
    assert user_error(exc, field="arg") == expected


def test_unknown_statuses_is_an_invalid_naming_its_field() -> None:
    """By base a ValidationError naming the config field; the config mutation shows its own type."""
    exc = statuses.UnknownStatuses("resolveStatus", ["Shipped"], ["Open", "Done"])
    assert isinstance(exc, errors.Invalid)
    assert isinstance(exc, ValueError)
    assert (exc.field, exc.unknown, exc.valid) == ("resolveStatus", ["Shipped"], ["Open", "Done"])
    assert user_error(exc, field="config") == ValidationError(message=exc.message, field="resolveStatus")


def test_refused_keeps_its_status() -> None:
    assert inbound.Refused(400, "malformed").status == 400
