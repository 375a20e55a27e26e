"""GitLab's offset pagination: `page`/`per_page` (20 by default, 100 at most), the `x-*` page headers
and a `Link` header; `x-total` and `x-total-pages` are left out past 10,000 items, as GitLab does."""

from __future__ import annotations

from typing import TypeVar

from starlette.requests import Request

T = TypeVar("T")
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
COUNTED = 10_000


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def paginate(request: Request, items: list[T]) -> tuple[list[T], dict[str, str]]:
    per_page = min(max(_int(request.query_params.get("per_page"), DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
    page = max(_int(request.query_params.get("page"), 1), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = items[(page - 1) * per_page : page * per_page]

    def url(n: int) -> str:
        return str(request.url.include_query_params(page=n, per_page=per_page))

    headers = {
        "x-page": str(page),
        "x-per-page": str(per_page),
        "x-next-page": str(page + 1) if page < last else "",
        "x-prev-page": str(page - 1) if page > 1 else "",
    }
    links = []
    if page > 1:
        links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
    if page < last:
        links.append(f'<{url(page + 1)}>; rel="next"')
    links.append(f'<{url(1)}>; rel="first"')
    if len(items) <= COUNTED:
        headers |= {"x-total": str(len(items)), "x-total-pages": str(last)}
        links.append(f'<{url(last)}>; rel="last"')
    headers["link"] = ", ".join(links)
    return chunk, headers
