"""Sandbox trackers: real HTTP servers imitating GitHub and Jira, with faults injectable at runtime."""

from conduit.sandbox.core import Sandbox
from conduit.sandbox.github import GitHubSandbox
from conduit.sandbox.jira import JiraSandbox
from conduit.sandbox.server import SandboxServer

__all__ = ["GitHubSandbox", "JiraSandbox", "Sandbox", "SandboxServer"]
