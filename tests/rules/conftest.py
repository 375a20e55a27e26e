"""The rules tests run against Conduit served with its job runner and the sandbox trackers, as the
sync tests do: their fixtures, shared."""

from tests.sync.conftest import conduit, conduit_server, side, sides

__all__ = ["conduit", "conduit_server", "side", "sides"]
