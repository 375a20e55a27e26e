"""GitHub's page/per_page pagination with a `Link` header (absent when everything fits on one page)."""

from __future__ import annotations

from typing import TypeVar

from starlette.requests import Request

T = TypeVar("T")
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default  # GitHub ignores a malformed page or per_page rather than failing


def paginate(request: Request, items: list[T]) -> tuple[list[T], dict[str, str]]:
    per_page = min(max(_int(request.query_params.get("per_page"), DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
    page = max(_int(request.query_params.get("page"), 1), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = items[(page - 1) * per_page : page * per_page]
    if last == 1:
        return chunk, {}

    def url(n: int) -> str:
        return str(request.url.include_query_params(page=n, per_page=per_page))

    links = []
    if page < last:
        links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
    if page > 1:
        links += [f'<{url(min(page - 1, last))}>; rel="prev"', f'<{url(1)}>; rel="first"']
    return chunk, {"link": ", ".join(links)}
