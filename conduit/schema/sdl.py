"""The schema's SDL, as committed in schema.graphql."""

from __future__ import annotations

from conduit.schema import build_schema


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
