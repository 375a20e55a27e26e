"""Durable async work: outbox rows, handed to arq or to the embedded runner, retried until done or dead."""

from conduit.jobs.errors import PermanentFailure, Retry
from conduit.jobs.outbox import add, enqueue
from conduit.jobs.registry import JobSpec, job, registry

__all__ = ["JobSpec", "PermanentFailure", "Retry", "add", "enqueue", "job", "registry"]
