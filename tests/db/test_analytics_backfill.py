"""Migration 0015 gives installations that exist already their history, so analytics do not start at zero."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conduit.db.migrate import upgrade_async

ROWS = """
INSERT INTO organization (id, name, slug, created_at) VALUES
  (1, 'owner', 'owner', '2026-01-01 00:00:00.000000'), (2, 'user', 'user', '2026-01-01 00:00:00.000000'),
  (3, 'other', 'other', '2026-01-01 00:00:00.000000');
INSERT INTO app (id, organization_id, created_at, name, kind, client_id, client_secret_hash, events, scopes,
                 verify_install, webhook_timeout, rate_limit_per_second, max_in_flight, consecutive_failures)
  VALUES (7, 1, '2026-01-01 00:00:00.000000', 'a', 'public', 'cid', 'h', '[]', '[]', 0, 15, 10, 10, 0);
INSERT INTO app_installation (id, organization_id, created_at, app_id, status, scopes, installed_at, uninstalled_at)
  VALUES (1, 2, '2026-01-02 00:00:00.000000', 7, 'installed', '[]', '2026-01-02 00:00:00.000000', NULL),
         (2, 1, '2026-01-03 00:00:00.000000', 7, 'uninstalled', '[]', '2026-01-03 00:00:00.000000',
          '2026-01-04 00:00:00.000000'),
         (3, 3, '2026-01-05 00:00:00.000000', 7, 'pending', '[]', NULL, NULL);
"""


async def test_existing_installations_get_their_history(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'backfill.db'}"
    await upgrade_async(url, "0014")
    with sqlite3.connect(tmp_path / "backfill.db") as db:
        db.executescript(ROWS)
    await upgrade_async(url, "0015")
    with sqlite3.connect(tmp_path / "backfill.db") as db:
        rows = db.execute(
            "SELECT organization_id, app_id, installation_id, change, created_at FROM app_installation_change "
            "ORDER BY created_at"
        ).fetchall()
    # Every row belongs to the app's owner, whoever installed it; a pending install is no install yet.
    assert rows == [
        (1, 7, 1, "installed", "2026-01-02 00:00:00.000000"),
        (1, 7, 2, "installed", "2026-01-03 00:00:00.000000"),
        (1, 7, 2, "uninstalled", "2026-01-04 00:00:00.000000"),
    ]
