"""A fake Jira (Data Center layout, Cloud-style API v3) for tests, benchmarks and the demo."""

from conduit.connectors.jira.sandbox.sandbox import JiraSandbox

__all__ = ["JiraSandbox"]
