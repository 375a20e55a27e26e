"""Project ids and keys as clients spell them: one canonical spelling per project, and any other input
gets a clean 4xx in Sentry's shape, never a 500 and never another project."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from conduit.ingest.auth import MAX_PROJECT_ID, key_from_request, parse_auth_header, parse_project_id
from conduit.ingest.errors import BadRequest, IngestError
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.ingest.helpers import event_envelope, events_of, exception_event, sentry_auth

# Property tests share the session's app and run many examples; the tenant is only read.
PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def assert_sentry_refusal(r: httpx.Response, *statuses: int) -> None:
    assert r.status_code in statuses, (r.status_code, r.text)
    assert r.json()["detail"] and r.headers["x-sentry-error"]


def _in_script(number: int, zero: int) -> str:
    return "".join(chr(zero + int(d)) for d in str(number))


SPELLINGS = {
    "superscript": lambda n: quote("".join("⁰¹²³⁴⁵⁶⁷⁸⁹"[int(d)] for d in str(n))),  # was a 500
    "arabic-indic": lambda n: quote(_in_script(n, 0x660)),  # int() read it as the project itself
    "fullwidth": lambda n: quote(_in_script(n, 0xFF10)),
    "devanagari": lambda n: quote(_in_script(n, 0x966)),
    "leading zero": lambda n: f"0{n}",
    "plus sign": lambda n: f"+{n}",
    "minus sign": lambda n: f"-{n}",
    "space": lambda n: f"%20{n}",
    "trailing space": lambda n: f"{n}%20",
    "underscore": lambda n: f"{n}_0",
    "exponent": lambda n: f"{n}e0",
    "past 2^63": lambda n: str(2**64 + n),
    "thirty digits": lambda n: str(n).rjust(30, "9"),
}


@pytest.mark.parametrize("spelling", list(SPELLINGS))
async def test_other_spellings_of_a_project_id_are_400_and_store_nothing(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime, spelling: str
) -> None:
    path_id = SPELLINGS[spelling](tenant.project_id)
    body = event_envelope(exception_event())
    for endpoint in ("store", "envelope"):
        r = await client.post(
            f"/api/{path_id}/{endpoint}/", content=body, headers=sentry_auth(tenant.public_key)
        )
        assert_sentry_refusal(r, 400)
        assert "invalid project id" in r.json()["detail"]
    assert await events_of(runtime, tenant.project_id) == []


async def test_zero_is_not_a_project(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.post(
        "/api/0/store/", content=b'{"message": "x"}', headers=sentry_auth(tenant.public_key)
    )
    assert_sentry_refusal(r, 400)


def test_largest_project_id_is_accepted_and_one_past_it_refused() -> None:
    assert parse_project_id(str(MAX_PROJECT_ID)) == MAX_PROJECT_ID
    with pytest.raises(BadRequest, match="from 1 to 9223372036854775807"):
        parse_project_id(str(MAX_PROJECT_ID + 1))


@given(st.text(max_size=40))
def test_any_text_is_a_canonical_id_or_a_bad_request(raw: str) -> None:
    try:
        value = parse_project_id(raw)
    except BadRequest as exc:
        assert "invalid project id" in exc.detail
        return
    assert str(value) == raw and 1 <= value <= MAX_PROJECT_ID


@given(st.integers(min_value=1, max_value=MAX_PROJECT_ID))
def test_every_id_in_range_reads_back(value: int) -> None:
    assert parse_project_id(str(value)) == value


@given(st.text(max_size=200))
def test_any_auth_header_gives_a_key_or_an_ingest_error(value: str) -> None:
    try:
        parse_auth_header(value)
        key = key_from_request({"x-sentry-auth": value}, {})
    except IngestError as exc:
        assert exc.status_code == 401
        return
    assert isinstance(key, str) and key


@PROPERTY
@given(segment=st.text(min_size=1, max_size=30))
async def test_any_path_segment_gets_a_clean_answer(app: Starlette, tenant: Tenant, segment: str) -> None:
    path = quote(segment, safe="")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.post(
            f"/api/{path}/store/", content=b'{"message": "x"}', headers=sentry_auth(tenant.public_key)
        )
    if "/" in segment or segment in (".", ".."):
        # No ingest route: a decoded `/` makes another path, dot segments are resolved by the client.
        assert r.status_code == 404
        return
    assert r.status_code < 500, r.text
    if r.status_code != 200:
        assert_sentry_refusal(r, 400, 403)
    else:
        assert segment == str(tenant.project_id)


# Header values go over the wire as latin-1 without control characters.
_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"))


@PROPERTY
@given(header=_HEADER_TEXT, query_key=_HEADER_TEXT)
async def test_any_auth_header_or_query_key_gets_a_clean_answer(
    app: Starlette, tenant: Tenant, header: str, query_key: str
) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.post(
            f"/api/{tenant.project_id}/store/",
            params={"sentry_key": query_key},
            content=b'{"message": "x"}',
            headers={"X-Sentry-Auth": header.encode("latin-1")},  # type: ignore[dict-item]
        )
    assert r.status_code < 500, r.text
    assert_sentry_refusal(r, 401)
