"""A fake GitHub (Enterprise Server layout) for tests, benchmarks and the demo."""

from conduit.sandbox.github.sandbox import GitHubSandbox

__all__ = ["GitHubSandbox"]
