"""Automation rules: a project's triggers, filters and actions, evaluated by jobs, never on ingest.

Ingest writes `issue.created` / `issue.unresolved` / `event.created` into the outbox; a subscriber of
published events (`jobs.py`) queues one evaluation per issue per burst, ordered by the issue. The
evaluation (`evaluate.py`) folds the issue's count into per-minute buckets (`counts.py`), decides which
rules match (`triggers.py`), and acts: a ticket through the idempotent create of `conduit.sync.links`,
limited per rule (`quota.py`); milestone comments through sync out; `rule.triggered` for each firing.
Every firing is logged with its outcome (`firings.py`); `preview.py` answers the same decisions
without writing anything.
"""
