"""How a tracker failure steers a job: wait when told to, stop when only a person can fix it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from conduit.connectors.errors import (
    AddressRefused,
    Forbidden,
    InvalidRequest,
    RateLimited,
    Unauthorized,
)
from conduit.jobs.errors import PermanentFailure, Retry


@contextlib.contextmanager
def job_outcome(what: str) -> Iterator[None]:
    """`RateLimited` → Retry after the tracker's delay; refused or revoked credentials, missing rights,
    refused requests and a tracker address Conduit may not call → PermanentFailure. `Unavailable`
    passes through: retried with backoff. Messages are the errors' own, already one bounded line."""
    try:
        yield
    except RateLimited as exc:
        raise Retry(defer=exc.retry_after, reason=f"{what}: rate limited") from exc
    except (Unauthorized, Forbidden, InvalidRequest, AddressRefused) as exc:
        raise PermanentFailure(f"{what}: {type(exc).__name__}: {exc.message}") from exc
