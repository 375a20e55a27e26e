"""A fake Shortcut (REST v3, API tokens, workspace webhooks) for tests, benchmarks and the demo."""

from conduit.connectors.shortcut.sandbox.sandbox import ShortcutSandbox

__all__ = ["ShortcutSandbox"]
