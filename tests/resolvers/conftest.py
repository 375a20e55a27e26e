"""Root queries and mutations run through the real schema, as the holder of a given token."""

from __future__ import annotations

from tests.schema.conftest import Execute, gql

__all__ = ["Execute", "gql"]
