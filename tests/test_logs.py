"""Secret query parameters and hook tokens are redacted from access-log targets; the rest is left as it was."""

from __future__ import annotations

import logging

from hypothesis import given
from hypothesis import strategies as st

from conduit.logs import REDACTED, SECRET_PARAMETERS, RedactQueryFilter, redact_target


def test_secret_parameters_are_redacted_and_others_kept() -> None:
    target = "/oauth/github/callback?code=abc123&state=s3cr3t&installation_id=7"
    assert redact_target(target) == (
        f"/oauth/github/callback?code={REDACTED}&state={REDACTED}&installation_id=7"
    )
    assert redact_target("/api/1/store/?sentry_key=k&sentry_version=7") == (
        f"/api/1/store/?sentry_key={REDACTED}&sentry_version=7"
    )
    # Spelled another way, still the same parameter to the server that parses it.
    assert redact_target("/cb?Code=x&%63ode=y&refresh%5Ftoken=z") == (
        f"/cb?Code={REDACTED}&%63ode={REDACTED}&refresh%5Ftoken={REDACTED}"
    )
    assert redact_target("/cb?code=a=b;token=c") == f"/cb?code={REDACTED};token={REDACTED}"
    assert redact_target("/healthz") == "/healthz"
    # A tracker webhook URL's last segment is the installation's hook token.
    assert redact_target("/hooks/github/Zx9-k_Q2") == f"/hooks/github/{REDACTED}"
    assert redact_target("/hooks/jira/Zx9?x=1") == f"/hooks/jira/{REDACTED}?x=1"
    assert redact_target("/x?flag&page=2") == "/x?flag&page=2"


_VALUE = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="&;#=?"), min_size=1
)


@given(
    name=st.sampled_from(sorted(SECRET_PARAMETERS)),
    value=_VALUE,
    before=st.lists(st.tuples(st.sampled_from(["page", "q", "x"]), _VALUE), max_size=3),
)
def test_no_secret_value_survives(name: str, value: str, before: list[tuple[str, str]]) -> None:
    query = "&".join([f"{k}={v}" for k, v in before] + [f"{name}={value}"])
    out = redact_target(f"/p?{query}")
    assert out.endswith(f"{name}={REDACTED}")
    assert all(f"{k}={v}" in out for k, v in before)


def test_the_filter_rewrites_only_access_records() -> None:
    access = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", "/cb?code=abc", "1.1", 200), None,
    )  # fmt: skip
    assert RedactQueryFilter().filter(access)
    assert access.getMessage() == f'127.0.0.1:1 - "GET /cb?code={REDACTED} HTTP/1.1" 200'
    other = logging.LogRecord("x", logging.INFO, "", 0, "%s", ("?code=abc",), None)
    assert RedactQueryFilter().filter(other) and other.getMessage() == "?code=abc"
