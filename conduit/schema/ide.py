"""GraphiQL served from this process, never from a CDN: the page works on a machine with no internet.

GraphiQL's built files (React, GraphiQL, the explorer plugin, graphql-ws) come from the
`graphene-django-graphiql-static` wheel, read as package data without importing Django; the start-up
script is ours (`ide_static/ide.js`). The page has no inline script, so a strict CSP holds; GraphiQL sets
style attributes, hence `'unsafe-inline'` for styles on this page only.
"""

from __future__ import annotations

from importlib.resources import files

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from conduit.assets import AssetSet

PREFIX = "/graphql/ide"
_PACKAGE = "graphene_django_graphiql_static"
# In load order: React before what renders with it.
_SCRIPTS = (
    "fetch.umd.js",
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphql-ws.min.js",
    "graphiql-plugin-explorer.umd.js",
)
_STYLES = ("graphiql.min.css", "style.css")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'"
)


def _load() -> AssetSet:
    vendored = files(_PACKAGE).joinpath("static", _PACKAGE)
    found = [(name, vendored.joinpath(name).read_bytes()) for name in (*_SCRIPTS, *_STYLES)]
    ours = files("conduit.schema").joinpath("ide_static", "ide.js")
    return AssetSet([*found, ("ide.js", ours.read_bytes())])


ASSETS = _load()


def page() -> str:
    base = f"{PREFIX}/{ASSETS.version}"
    styles = "".join(f'<link rel="stylesheet" href="{base}/{name}">' for name in _STYLES)
    scripts = "".join(f'<script src="{base}/{name}"></script>' for name in (*_SCRIPTS, "ide.js"))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>GraphiQL · Conduit</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{styles}<style>html,body,#graphiql{{height:100%;margin:0;overflow:hidden}}</style></head>"
        f'<body><div id="graphiql">Loading GraphiQL…</div>{scripts}</body></html>'
    )


def render() -> HTMLResponse:
    return HTMLResponse(
        page(),
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


async def _asset(request: Request) -> Response:
    return ASSETS.response(request, request.path_params["name"], request.path_params["version"])


routes: list[BaseRoute] = [Route(PREFIX + "/{version}/{name}", _asset, methods=["GET", "HEAD"])]
