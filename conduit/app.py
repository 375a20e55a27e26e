"""The Starlette application: routes from each domain, one Runtime in app.state, the domains' jobs."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from conduit import health, http_metrics, logs, tracing, wiring  # noqa: F401 - registers the domains' job kinds and subscribers
from conduit.jobs.service import JOBS, start_jobs
from conduit.runtime import Runtime
from conduit.settings import Settings, get_settings


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Starlette:
    """Build the app. Pass a `runtime` to share one (tests, the demo); otherwise the app owns its own."""
    settings = settings or (runtime.settings if runtime else get_settings())
    from conduit.apps.oauth import routes as oauth_routes
    from conduit.connectors.inhouse.contract import routes as contract_routes
    from conduit.console.routes import routes as sign_in_routes
    from conduit.console.static import routes as console_routes
    from conduit.ingest.routes import routes as ingest_routes
    from conduit.resolvers import graphql_routes
    from conduit.sync.routes import routes as sync_routes

    owned = runtime is None
    rt = runtime or Runtime.create(settings)
    # Before the routes: the GraphQL schema takes its tracing extension when tracing is on.
    tracing.install(rt.engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # One job service per runtime, even when several apps share it.
        jobs = None if rt.find(JOBS) is not None else await start_jobs(rt)
        # What lives as long as the process (modules, the schema, ORM mappers) exists by now. Frozen, the
        # collector's full passes skip it: they hold the event loop, and would take 100+ ms on it.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if jobs is not None:
                await jobs.stop()
            if owned:
                await rt.close()

    routes: list[BaseRoute] = [
        *health.routes,
        *http_metrics.routes,
        *ingest_routes,
        *sync_routes,
        *graphql_routes(rt),
        *oauth_routes(rt),
        *contract_routes,
        *sign_in_routes(rt),
        # Last: the console's pages answer `/` and the client-side routes no API route claims.
        *console_routes,
    ]
    middleware = [Middleware(logs.RequestId), Middleware(http_metrics.RequestMetrics)]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    tracing.instrument_app(app)
    app.state.runtime = rt
    return app


def create_worker_app() -> Starlette:
    """The app of one `conduit serve --workers N` process: a process of its own, so it sets up the
    logging the parent set up for itself (formats, access-log redaction) before it serves."""
    settings = get_settings()
    logs.configure_logging(settings.log_format)
    logs.install_access_log_redaction()
    return create_app(settings)
