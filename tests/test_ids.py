"""Global ids are canonical: one decoder, ASCII digits within BIGINT, and a typed error for anything else —
property-tested on the decoder, and over HTTP on every operation that takes an id."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from conduit import ids
from tests.conftest import Tenant

NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,20}", fullmatch=True)
PKS = st.integers(min_value=1, max_value=ids.MAX_PK)


def raw(text: str) -> str:
    """An id made by hand from any `Type:pk` text, as a client might forge it."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@given(NAMES, PKS)
def test_round_trip(name: str, pk: int) -> None:
    assert ids.decode(ids.encode(name, pk)) == (name, pk)
    assert ids.decode_as(ids.encode(name, pk), name) == pk


@given(st.text(max_size=200))
@example("")
@example("SXNzdWU6MQ==")  # padded
@example("SXNz dWU6MQ")  # a character the lenient base64 decoder would skip
@example("SXNzdWU6MQ\n")
def test_any_text_is_an_id_or_a_clean_error(text: str) -> None:
    try:
        name, pk = ids.decode(text)
    except ids.InvalidId as exc:
        assert "is not a valid id" in str(exc)
        return
    # Whatever decodes is exactly what encode makes.
    assert 1 <= pk <= ids.MAX_PK and ids.encode(name, pk) == text


@given(st.binary(max_size=60))
def test_any_decoded_bytes_are_canonical_or_refused(data: bytes) -> None:
    text = base64.urlsafe_b64encode(data).decode().rstrip("=")
    try:
        name, pk = ids.decode(text)
    except ids.InvalidId:
        return
    assert data == f"{name}:{pk}".encode()


@pytest.mark.parametrize(
    "forged",
    [
        "Issue:01",
        "Issue:+1",
        "Issue:-1",
        "Issue:0",
        "Issue: 1",
        "Issue:1 ",
        "Issue:1_0",
        "Issue:\u0661",  # Arabic-Indic one
        "Issue:\uff11",  # fullwidth one
        "Issue:1.0",
        f"Issue:{2**63}",
        f"Issue:{2**64 + 1}",
        "Issue:" + "9" * 40,
        ":1",
        "Issue",
        "Is sue:1",
        "Issue:1:2",
    ],
)
def test_non_canonical_forms_are_refused(forged: str) -> None:
    with pytest.raises(ids.InvalidId):
        ids.decode(raw(forged))


def test_the_largest_bigint_is_an_id() -> None:
    assert ids.decode(raw(f"Issue:{ids.MAX_PK}")) == ("Issue", ids.MAX_PK)


# Each operation that names a row by id, with how it answers an id it cannot use.
OPERATIONS: list[tuple[str, str, str]] = [
    ("issue", "query($id: ID!) { issue(id: $id) { id } }", "BAD_USER_INPUT"),
    ("node", "query($id: ID!) { node(id: $id) { id } }", "BAD_USER_INPUT"),
    ("project", "query($id: ID!) { project(id: $id) { id } }", "BAD_USER_INPUT"),
    ("installation", "query($id: ID!) { installation(id: $id) { id } }", "null"),
    ("ticketRequest", "query($id: ID!) { ticketRequest(id: $id) { id } }", "null"),
    ("app", "query($id: ID!) { app(id: $id) { id } }", "BAD_USER_INPUT"),
    ("updateIssue", "mutation($id: ID!) { updateIssue(input: {id: $id}) { __typename } }", "ValidationError"),
    (
        "addComment",
        'mutation($id: ID!) { addComment(issueId: $id, body: "x") { __typename } }',
        "ValidationError",
    ),
    ("retryJob", "mutation($id: ID!) { retryJob(id: $id) { __typename } }", "NotFoundError"),
    ("redeliver", "mutation($id: ID!) { redeliver(deliveryId: $id) { __typename } }", "NotFoundError"),
    ("installApp", "mutation($id: ID!) { installApp(appId: $id) { __typename } }", "NotFoundError"),
    ("revokeApiToken", "mutation($id: ID!) { revokeApiToken(id: $id) { __typename } }", "NotFoundError"),
    (
        "uninstallApp",
        "mutation($id: ID!) { uninstallApp(installationId: $id) { __typename } }",
        "NotFoundError",
    ),
    ("rotateAppSecret", "mutation($id: ID!) { rotateAppSecret(appId: $id) { __typename } }", "NotFoundError"),
    (
        "unlinkExternalIssue",
        "mutation($id: ID!) { unlinkExternalIssue(linkId: $id) { __typename } }",
        "NotFoundError",
    ),
]
TYPES = {
    "issue": "Issue",
    "node": "Issue",
    "project": "Project",
    "installation": "Installation",
    "ticketRequest": "TicketRequest",
    "app": "App",
    "updateIssue": "Issue",
    "addComment": "Issue",
    "retryJob": "Job",
    "redeliver": "Delivery",
    "installApp": "App",
    "revokeApiToken": "ApiToken",
    "uninstallApp": "AppInstallation",
    "rotateAppSecret": "App",
    "unlinkExternalIssue": "IssueLink",
}


async def test_unusable_ids_get_typed_answers_over_http(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """Ids past BIGINT, with leading zeros, signs or non-ASCII digits: never an unexpected error."""
    client.headers.update(tenant.auth)
    for field, query, answer in OPERATIONS:
        name = TYPES[field]
        for forged in (
            f"{name}:{2**63}",
            f"{name}:{2**64}",
            f"{name}:01",
            f"{name}:+1",
            f"{name}:\u0661",
            f"{name}:\uff11",
        ):
            r = await client.post("/graphql", json={"query": query, "variables": {"id": raw(forged)}})
            assert r.status_code == 200, (field, forged, r.text)
            body: dict[str, Any] = r.json()
            where = (field, forged, body)
            if answer == "BAD_USER_INPUT":
                assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], where
                assert body["errors"][0]["extensions"]["argument"] == "id", where
                assert "is not a valid id" in body["errors"][0]["message"], where
            elif answer == "null":
                assert "errors" not in body and body["data"] == {field: None}, where
            else:
                assert "errors" not in body and body["data"][field]["__typename"] == answer, where
