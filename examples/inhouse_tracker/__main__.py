"""Run the reference tracker: `python -m examples.inhouse_tracker`; act in it as a person would:
`python -m examples.inhouse_tracker close OPS-1` (or `reopen`), which sends the change to Conduit.

INHOUSE_SECRET   the secret Conduit signs its calls with (whsec_...; several, comma-separated)
INHOUSE_DB       the SQLite file (default inhouse.db)
INHOUSE_URL      where people open it (default http://127.0.0.1:8600)
INHOUSE_PORT     the port to listen on (default 8600)
"""

from __future__ import annotations

import base64
import os
import secrets
import sys

import uvicorn

from examples.inhouse_tracker.service import Store, create_app, send_deliveries, send_now

PERSON = "conduit-guide"


def act(action: str, key: str) -> None:
    """Change a ticket as a person at the tracker: the change goes to Conduit's registered webhooks."""
    store = Store(
        os.environ.get("INHOUSE_DB", "inhouse.db"), url=os.environ.get("INHOUSE_URL", "http://127.0.0.1:8600")
    )
    if store.person(PERSON) is None:
        store.add_person(PERSON, "A person at the tracker", None)
    send_deliveries(store, send_now)
    ticket = store.set_status(PERSON, key, "Done" if action == "close" else "Open")
    print(f"{ticket['key']} is {ticket['status']}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] in ("close", "reopen"):
        act(sys.argv[1], sys.argv[2])
        return
    given = [s.strip() for s in os.environ.get("INHOUSE_SECRET", "").split(",") if s.strip()]
    if not given:
        made = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        sys.exit(f"set INHOUSE_SECRET to the secret Conduit will sign with, for example:\n  {made}")
    port = int(os.environ.get("INHOUSE_PORT", "8600"))
    store = Store(
        os.environ.get("INHOUSE_DB", "inhouse.db"),
        url=os.environ.get("INHOUSE_URL", f"http://127.0.0.1:{port}"),
    )
    uvicorn.run(create_app(store, given), host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
