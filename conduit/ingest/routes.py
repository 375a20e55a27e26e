"""Sentry-compatible ingest endpoints."""

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
