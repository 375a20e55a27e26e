"""A fake Linear (OAuth and the GraphQL API, on one origin) for tests, benchmarks and the demo."""

from conduit.connectors.linear.sandbox.sandbox import LinearSandbox

__all__ = ["LinearSandbox"]
