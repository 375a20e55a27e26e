"""Mounting the GraphQL endpoint."""

from __future__ import annotations

from starlette.routing import BaseRoute

from conduit.runtime import Runtime


def graphql_routes(runtime: Runtime) -> list[BaseRoute]:
    return []
