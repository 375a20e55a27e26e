"""Members' passwords: argon2id hashes, and the rules a new password must meet.

Verification costs the same whether or not the member exists (or has a password): a caller who has no
hash to check against verifies against `DUMMY_HASH`, so timing does not tell an unknown email from a
wrong password.
"""

from __future__ import annotations

import asyncio
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from conduit.errors import Invalid

MIN_LENGTH = 12
# argon2 reads the whole input, so a megabyte "password" costs the server more than it costs the caller.
MAX_LENGTH = 1024

# Each hash takes 64 MiB and tens of milliseconds of a core: a few at a time, off the event loop, so a
# burst of sign-ins neither stalls other requests nor exhausts memory.
CONCURRENT = 2
# A thread semaphore, not an asyncio one: it serves every event loop of the process.
_slots = threading.BoundedSemaphore(CONCURRENT)

# argon2-cffi's defaults follow RFC 9106's second recommendation (argon2id, 64 MiB, t=3, p=4).
_hasher = PasswordHasher()
DUMMY_HASH = _hasher.hash("no member has this password, it only spends the time a check takes")


class WeakPassword(Invalid):
    def __init__(self, message: str) -> None:
        super().__init__(message, field="new")


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password may have at most {MAX_LENGTH} characters")
    if "\x00" in password:
        raise WeakPassword("a password may not contain NUL characters")


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no stored hash, spends the same time and answers False."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash or DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def _verify_in_slot(stored_hash: str | None, password: str) -> bool:
    with _slots:
        return verify(stored_hash, password)


def _hash_in_slot(password: str) -> str:
    with _slots:
        return _hasher.hash(password)


async def verify_async(stored_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(_verify_in_slot, stored_hash, password)


async def hash_async(password: str) -> str:
    check_policy(password)
    return await asyncio.to_thread(_hash_in_slot, password)
