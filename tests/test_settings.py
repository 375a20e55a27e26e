from __future__ import annotations

from pathlib import Path

import pytest

from conduit.crypto import SecretBox
from conduit.settings import ConfigurationError, Settings


def test_defaults_are_embedded(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path.as_posix()}/conduit.db"
    assert s.redis_url is None and s.is_sqlite


def test_generated_key_is_stable_across_restarts(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).resolved_secret_key()
    assert Settings(data_dir=tmp_path).resolved_secret_key() == first
    assert len(first) >= 32


@pytest.mark.parametrize("value", [None, "", "changeme", "short"])
def test_production_requires_a_real_key(tmp_path: Path, value: str | None) -> None:
    with pytest.raises(ConfigurationError, match="CONDUIT_SECRET_KEY"):
        Settings(env="production", data_dir=tmp_path, secret_key=value).resolved_secret_key()


def test_secret_box_rotation() -> None:
    old = SecretBox("o" * 40)
    token = old.encrypt("ghu_secret")
    assert "ghu_secret" not in token
    rotated = SecretBox("n" * 40 + "," + "o" * 40)
    assert rotated.decrypt(token) == "ghu_secret"
    fresh = rotated.rotate(token)
    assert SecretBox("n" * 40).decrypt(fresh) == "ghu_secret"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox("z" * 40).decrypt(token)


def test_tracker_clients_are_read_as_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(
        "CONDUIT_TRACKER_CLIENTS",
        '[{"provider": "GitHub", "base_url": "https://GHE.example.com/", "client_id": "ghe",'
        ' "client_secret": "ghe-secret"}, {"provider": "jira", "client_id": "cloud", "client_secret": "s"}]',
    )
    monkeypatch.setenv("CONDUIT_GITHUB_CLIENT_ID", "gh-cloud")
    monkeypatch.setenv("CONDUIT_GITHUB_CLIENT_SECRET", "gh-cloud-secret")
    s = Settings(data_dir=tmp_path)
    found = {(c.provider, c.origin, c.client_id) for c in s.tracker_clients}
    assert found == {
        ("github", None, "gh-cloud"),
        ("github", "https://ghe.example.com:443", "ghe"),
        ("jira", None, "cloud"),
    }
    assert "ghe-secret" not in repr(s)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ('[{"provider": "github", "client_id": "a", "client_secret": "b"}]', "two OAuth clients"),
        (
            '[{"provider": "jira", "base_url": "https://j.example.com", "client_id": "a", "client_secret": "b"},'
            ' {"provider": "jira", "base_url": "https://J.example.com:443/x", "client_id": "c",'
            ' "client_secret": "d"}]',
            "two OAuth clients",
        ),
        ('[{"provider": "github", "base_url": "ftp://x", "client_id": "a", "client_secret": "b"}]', "http"),
        (
            '[{"provider": "github", "base_url": "https://u:p@x.example", "client_id": "a", "client_secret": "b"}]',
            "credentials",
        ),
        ('[{"provider": "github", "client_id": "a"}]', "client_secret"),
    ],
)
def test_bad_tracker_clients_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, entries: str, message: str
) -> None:
    monkeypatch.setenv("CONDUIT_TRACKER_CLIENTS", entries)
    monkeypatch.setenv("CONDUIT_GITHUB_CLIENT_ID", "gh-cloud")
    monkeypatch.setenv("CONDUIT_GITHUB_CLIENT_SECRET", "gh-cloud-secret")
    with pytest.raises(ValueError, match=message):
        Settings(data_dir=tmp_path)


def test_private_tracker_urls_are_refused_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).allow_private_tracker_urls is False
    monkeypatch.setenv("CONDUIT_ALLOW_PRIVATE_TRACKER_URLS", "true")
    assert Settings(data_dir=tmp_path).allow_private_tracker_urls is True


def test_cloud_clients_are_read_for_any_provider_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings know no tracker by name: CONDUIT_<KEY>_CLIENT_ID / _SECRET is read for whatever key."""
    monkeypatch.setenv("CONDUIT_JIRA_CLIENT_ID", "jira-cloud")
    monkeypatch.setenv("CONDUIT_JIRA_CLIENT_SECRET", "jira-cloud-secret")
    monkeypatch.setenv("CONDUIT_SOME_TRACKER_CLIENT_ID", "other")
    monkeypatch.setenv("CONDUIT_SOME_TRACKER_CLIENT_SECRET", "other-secret")
    monkeypatch.setenv("CONDUIT_HALF_CLIENT_ID", "no-secret-given")
    s = Settings(data_dir=tmp_path)
    found = {(c.provider, c.origin, c.client_id) for c in s.tracker_clients}
    assert found == {("jira", None, "jira-cloud"), ("some_tracker", None, "other")}
    assert not [name for name in Settings.model_fields if name.endswith("_client_id")]
