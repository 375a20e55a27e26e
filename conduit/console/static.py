"""The console's page and files: one HTML shell for every console URL, and its modules and styles.

The console is hand-written HTML, CSS and native ES modules (`static/`): no build step, nothing from a
CDN. Every URL the console routes on the client (`/issues/...`, `/apps/...`) answers the same shell, so a
reload or a shared link lands on the right page. The shell is never cached (it names the current version
of the files); the files are cached for good under a versioned path (conduit.assets). The shell lists
every module for preloading, so the browser fetches them in parallel rather than import by import.

The page runs no inline script and loads nothing from elsewhere; its Content-Security-Policy says so, and
`frame-ancestors 'none'` keeps it out of other sites' frames (clickjacking).
"""

from __future__ import annotations

from importlib.resources import files

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from conduit.assets import AssetSet

ASSET_PREFIX = "/console/assets"
# The first segment of every client-side route (see static/js/routes.js).
PAGES = (
    "issues",
    "installations",
    "rules",
    "members",
    "tokens",
    "jobs",
    "apps",
    "deliveries",
    "catalog",
    "analytics",
    "sign-in",
)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
ASSETS = AssetSet.from_directory(files("conduit.console").joinpath("static"))


def _shell() -> bytes:
    base = f"{ASSET_PREFIX}/{ASSETS.version}"
    modules = [name for name in ASSETS.names() if name.endswith(".js")]
    preload = "".join(f'<link rel="modulepreload" href="{base}/{name}">' for name in modules)
    template = ASSETS.assets["index.html"].body.decode()
    return (
        template.replace("{{base}}", base)
        .replace("{{preload}}", preload)
        .replace("{{version}}", ASSETS.version)
    ).encode()


SHELL = _shell()


async def shell(request: Request) -> Response:
    return HTMLResponse(
        SHELL,
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
        },
    )


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name == "index.html":
        return Response("Not Found", status_code=404, media_type="text/plain")
    return ASSETS.response(request, name, request.path_params["version"])


routes: list[BaseRoute] = [
    Route("/", shell, methods=["GET", "HEAD"]),
    *(Route(f"/{page}", shell, methods=["GET", "HEAD"]) for page in PAGES),
    *(Route(f"/{page}/{{rest:path}}", shell, methods=["GET", "HEAD"]) for page in PAGES),
    Route(ASSET_PREFIX + "/{version}/{name:path}", asset, methods=["GET", "HEAD"]),
]
