"""The one mapping from the error root to the GraphQL error types, by base."""

from __future__ import annotations

import pytest

from conduit import errors
from conduit.connectors import errors as tracker
from conduit.schema.errors import (
    ForbiddenError,
    NotFoundError,
    TrackerFailure,
    UserError,
    ValidationError,
    user_error,
)


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
