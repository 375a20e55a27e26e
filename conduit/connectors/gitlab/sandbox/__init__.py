"""A fake GitLab (REST v4, OAuth, project webhooks) for tests, benchmarks and the demo."""

from conduit.connectors.gitlab.sandbox.sandbox import GitLabSandbox

__all__ = ["GitLabSandbox"]
