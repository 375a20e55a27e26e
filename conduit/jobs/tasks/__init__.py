"""Job kinds that ship with Conduit, one module per domain; importing one registers its kinds."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

BUILTIN = ("conduit.jobs.tasks.events", "conduit.jobs.tasks.maintenance", "conduit.jobs.tasks.webhooks")


def load(extra: Iterable[str] = ()) -> None:
    """Import the built-in task modules and any configured ones (CONDUIT_JOBS_MODULES)."""
    for name in (*BUILTIN, *extra):
        importlib.import_module(name)
