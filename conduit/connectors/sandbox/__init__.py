"""Sandbox trackers: real HTTP servers imitating each registered tracker's API, with faults injectable
at run time. This package is the machinery they share; each tracker's own sandbox lives in its
package (`conduit/connectors/<name>/sandbox/`)."""

from conduit.connectors.sandbox.core import Sandbox
from conduit.connectors.sandbox.fleet import every_sandbox, operator_settings
from conduit.connectors.sandbox.server import SandboxServer

__all__ = ["Sandbox", "SandboxServer", "every_sandbox", "operator_settings"]
