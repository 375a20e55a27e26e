"""Tuning for the job runners, read from the environment with the ``CONDUIT_JOBS_`` prefix."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class JobsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONDUIT_JOBS_", extra="ignore")

    # Extra modules whose import registers job kinds (plugins, test kinds).
    modules: list[str] = Field(default_factory=list)
    # Jobs one process runs at once (arq max_jobs, or the embedded pool size).
    concurrency: int = Field(default=20, ge=1)
    # How long a handed-over row may wait in the queue before the sweeper hands it over again.
    handover_lease_seconds: float = Field(default=120.0, gt=0)
    # Added to a job's timeout to form its running lease: time to record the outcome.
    lease_grace_seconds: float = Field(default=15.0, gt=0)
    # The safety-net poll; commits wake the dispatcher sooner.
    poll_interval_seconds: float = Field(default=1.0, gt=0)
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    dispatch_batch: int = Field(default=200, ge=1)
    # Finished rows are kept this long for inspection, then pruned.
    retention_days: float = Field(default=7.0, gt=0)
    prune_interval_seconds: float = Field(default=3600.0, gt=0)
    queue_name: str = "conduit:jobs"
