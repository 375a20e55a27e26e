"""What a running job is given: its row's identity and the process's shared resources."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from conduit.jobs.config import JobsSettings
from conduit.runtime import Runtime

log = logging.getLogger("conduit.jobs")


class JobLog(logging.LoggerAdapter):
    """Every line a job logs carries its id and kind, as text and as structured `extra` fields."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(self.extra or {})
        kwargs["extra"] = {**extra, **kwargs.get("extra", {})}
        return f"job={extra.get('job_id')} kind={extra.get('kind')} {msg}", kwargs


def job_log(job_id: int, kind: str, **fields: Any) -> JobLog:
    return JobLog(log, {"job_id": job_id, "kind": kind, **fields})


@dataclass
class JobContext:
    runtime: Runtime
    settings: JobsSettings
    job_id: int
    kind: str
    attempt: int
    # The row's payload: `{"args": [...]}` for a call (the handler gets them as arguments), or a record
    # (an event for `events.publish`; named fields in rows written before jobs took arguments).
    payload: dict[str, Any]
    organization_id: int | None
    key: str | None
    log: JobLog
    # Per-process resources a runner offers (the arq Redis pool, for one).
    resources: dict[str, Any] = field(default_factory=dict)
