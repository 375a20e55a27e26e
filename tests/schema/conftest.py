from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from conduit.auth.bearer import authenticate
from conduit.resolvers import build_schema
from conduit.runtime import Runtime
from conduit.schema.context import context_for

Execute = Callable[..., Awaitable[Any]]

_schema = build_schema()


@pytest.fixture
def gql(runtime: Runtime) -> Execute:
    """Run an operation as the holder of `token`, through the real schema and loaders."""

    async def run(token: str, query: str, variables: dict[str, Any] | None = None, ok: bool = True) -> Any:
        async with runtime.sessions() as session:
            viewer = await authenticate(session, token)
        assert viewer is not None, "token did not authenticate"
        result = await _schema.execute(
            query, variable_values=variables, context_value=context_for(runtime, viewer)
        )
        if ok:
            assert result.errors is None, result.errors
            return result.data
        return result

    return run
