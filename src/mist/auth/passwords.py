"""Argon2id password hashes, computed on a small pool of their own.

Argon2 is slow and memory-hard on purpose. On the event loop's shared thread pool a flood of wrong
sign-ins would take every thread and stall requests that have nothing to do with passwords; on two
threads of their own, hashes wait in line for each other and nothing else waits for them.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mist-argon2")

# Verifying against this keeps an unknown e-mail as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("mist-dummy-password")


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool, _hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """False for a wrong password and for no hash at all (an unknown user), equally slowly."""
    return await asyncio.get_running_loop().run_in_executor(_pool, _verify, password_hash, password)
