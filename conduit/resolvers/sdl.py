"""The schema's SDL, as committed in schema.graphql (CI fails when the two drift apart)."""

from __future__ import annotations

from conduit.resolvers import build_schema


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
