from __future__ import annotations

from pathlib import Path

import pytest

from conduit.auth.crypto import SecretBox
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
