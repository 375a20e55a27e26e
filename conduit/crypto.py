"""Secrets at rest (tracker tokens, app and webhook secrets) are encrypted with a rotatable key.

Keys are derived from CONDUIT_SECRET_KEY values; several may be given, comma-separated, newest first:
new data is encrypted with the first and every one of them can still decrypt.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBox:
    def __init__(self, secret_keys: str) -> None:
        keys = [k.strip() for k in secret_keys.split(",") if k.strip()]
        if not keys:
            raise ValueError("no secret key given")
        self._fernet = MultiFernet([Fernet(self._derive(k)) for k in keys])

    @staticmethod
    def _derive(key: str) -> bytes:
        digest = hashlib.sha256(b"conduit-secret-box:" + key.encode()).digest()
        return base64.urlsafe_b64encode(digest)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("secret cannot be decrypted with the configured keys") from exc

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt under the newest key."""
        return self._fernet.rotate(ciphertext.encode()).decode()
