"""mist.auth.passwords: argon2 on a pool of its own, never on the event loop's shared one."""

from __future__ import annotations

import asyncio
import threading

import pytest

from mist.auth import passwords


def test_hash_and_verify_run_on_the_argon2_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real_verify = passwords._verify

    def spy(password_hash: str | None, password: str) -> bool:
        seen.append(threading.current_thread().name)
        return real_verify(password_hash, password)

    monkeypatch.setattr(passwords, "_verify", spy)

    async def scenario() -> tuple[bool, bool, bool]:
        stored = await passwords.hash_password("a long passphrase")
        return (await passwords.verify_password(stored, "a long passphrase"),
                await passwords.verify_password(stored, "wrong"),
                await passwords.verify_password(None, "a long passphrase"))

    assert asyncio.run(scenario()) == (True, False, False)
    assert seen and all(name.startswith("mist-argon2") for name in seen)

