"""Imported by test workers (CONDUIT_JOBS_MODULES): a short delivery job timeout, hence a short lease,
so a killed worker's delivery is handed out again within seconds rather than a minute."""

from __future__ import annotations

from dataclasses import replace

import conduit.webhooks.jobs  # noqa: F401 - registers the delivery kind first
from conduit.jobs.registry import registry
from conduit.webhooks.fanout import DELIVER_KIND

_spec = registry.get(DELIVER_KIND)
assert _spec is not None
registry.add(replace(_spec, timeout=3.0))
