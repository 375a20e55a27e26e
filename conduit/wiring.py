"""The domains' job kinds and event subscribers, in one import.

The job system and the events core name no domain: each domain declares its job kinds and its event
subscribers in its own module, and importing that module registers them. Every process that runs
jobs or publishes events (the API with its embedded runner, `conduit worker`) imports this module,
so all of them know every kind. Subscribers are independent of each other and idempotent, so the
order they are called in carries no meaning.
"""

from __future__ import annotations

import conduit.apps.jobs
import conduit.events.broker
import conduit.events.publish
import conduit.jobs.maintenance
import conduit.rules.jobs
import conduit.sync.jobs
import conduit.webhooks.jobs  # noqa: F401 - webhook deliveries and their pruning
