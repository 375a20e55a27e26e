"""Choosing an installation's OAuth client: the operator's cloud client never serves a base URL, an
operator client serves exactly its own origin, and a client given with the installation wins."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from conduit.connectors.clients import (
    ClientError,
    NoOAuthClient,
    OAuthClients,
    check_own_client,
)
from conduit.connectors.oauth import ClientCredentials
from conduit.crypto import SecretBox
from conduit.settings import Settings, TrackerClient

BOX = SecretBox("k" * 40)
CLOUD = ClientCredentials("cloud-id", "cloud-secret")
GHE = ClientCredentials("ghe-id", "ghe-secret")


@dataclass
class Row:
    provider: str
    base_url: str | None
    oauth_client_id: str | None = None
    oauth_client_secret_enc: str | None = None


def clients() -> OAuthClients:
    settings = Settings(
        env="test",
        tracker_clients=[
            TrackerClient(provider="github", client_id=CLOUD.client_id, client_secret=CLOUD.client_secret),
            TrackerClient(
                provider="github",
                base_url="https://GHE.example.com/",
                client_id=GHE.client_id,
                client_secret=GHE.client_secret,
            ),
        ],
    )
    return OAuthClients(settings.tracker_clients, BOX)


def test_the_cloud_client_serves_the_cloud_only() -> None:
    chosen = clients()
    assert chosen.for_installation(Row("github", None)) == CLOUD
    assert chosen.for_installation(Row("jira", None)) is None
    for base_url in ("https://tenant.example.net", "http://127.0.0.1:9000", "https://github.com"):
        assert chosen.for_installation(Row("github", base_url)) is None


@pytest.mark.parametrize(
    "base_url",
    [
        "https://ghe.example.com",
        "https://GHE.EXAMPLE.COM:443",
        "https://ghe.example.com/",
        "https://ghe.example.com/enterprise",  # same server, under a path
    ],
)
def test_an_operator_client_serves_its_exact_origin(base_url: str) -> None:
    assert clients().for_installation(Row("github", base_url)) == GHE


@pytest.mark.parametrize(
    "base_url",
    [
        "http://ghe.example.com",  # another scheme
        "https://ghe.example.com:8443",  # another port
        "https://ghe.example.com.attacker.io",  # a longer name starting the same
        "https://attacker.io/ghe.example.com",  # the name in the path
        "https://ghe.example.com@attacker.io",  # the name as user info
        "https://xghe.example.com",
        "https://sub.ghe.example.com",
    ],
)
def test_look_alike_origins_get_no_operator_client(base_url: str) -> None:
    assert clients().for_installation(Row("github", base_url)) is None
    assert clients().for_installation(Row("jira", "https://ghe.example.com")) is None


def test_a_client_given_with_the_installation_wins_and_is_decrypted() -> None:
    row = Row("github", "https://ghe.example.com", "own-id", BOX.encrypt("own-secret"))
    assert clients().for_installation(row) == ClientCredentials("own-id", "own-secret")


def test_no_client_says_what_to_pass() -> None:
    with pytest.raises(NoOAuthClient) as caught:
        clients().require(Row("github", "https://tenant.example.net/x"))
    message = str(caught.value)
    assert "https://tenant.example.net:443" in message
    assert "clientId and clientSecret" in message and "CONDUIT_TRACKER_CLIENTS" in message
    with pytest.raises(NoOAuthClient, match="CONDUIT_JIRA_CLIENT_ID"):
        clients().require(Row("jira", None))


def test_own_clients_come_in_pairs() -> None:
    assert check_own_client(None, None) is None
    assert check_own_client(" id ", " secret ") == ClientCredentials("id", "secret")
    with pytest.raises(ClientError, match="together"):
        check_own_client("id", None)
    with pytest.raises(ClientError, match="together"):
        check_own_client("", "secret")
    with pytest.raises(ClientError, match="at most"):
        check_own_client("i" * 201, "secret")


def test_secrets_stay_out_of_reprs() -> None:
    assert "ghe-secret" not in repr(GHE)
    assert "ghe-secret" not in repr(clients().for_installation(Row("github", "https://ghe.example.com")))
