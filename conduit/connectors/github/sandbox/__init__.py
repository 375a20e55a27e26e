"""A fake GitHub (Enterprise Server layout) for tests, benchmarks and the demo."""

from conduit.connectors.github.sandbox.sandbox import GitHubSandbox

__all__ = ["GitHubSandbox"]
