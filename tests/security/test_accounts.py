"""Attacks on accounts through the real server: guessing passwords, drowning sign-in in argon2,
racing the first sign-up, and keeping access after an account was disabled, deleted or signed out."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

import httpx
from support.client import PASSWORD, MistClient
from support.server import MistServer

if TYPE_CHECKING:
    from conftest import Team  # tests/security/conftest.py, which pytest loads itself

WRONG = "not the password at all"


def test_password_guessing_is_throttled_per_account_and_per_address(server: MistServer, owner: MistClient) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as attacker:
        statuses = [attacker.post("/api/auth/login", json={"email": "owner@example.com", "password": WRONG}
                                  ).status_code for _ in range(6)]
        assert statuses == [401] * 5 + [429]
        # Even the right password is refused while the account waits: the answer gives nothing away.
        locked = attacker.post("/api/auth/login", json={"email": "owner@example.com", "password": PASSWORD})
        assert locked.status_code == 429
        assert int(locked.headers["Retry-After"]) >= 1
        assert locked.json()["success"] is False and "too many failed sign-ins" in locked.json()["message"]
        assert "mist_session" not in locked.cookies

        # Spraying other accounts from the same address runs into the per-address limit.
        sprayed = [attacker.post("/api/auth/login", json={"email": f"guess{n}@example.com", "password": WRONG}
                                 ).status_code for n in range(30)]
        assert set(sprayed) == {401, 429} and sprayed[-1] == 429

    # The owner signed in before keeps working.
    assert owner.get("/api/auth/me")["data"]["username"] == "owner"


def test_a_login_flood_does_not_stall_other_users(server: MistServer, owner: MistClient) -> None:
    """200 concurrent wrong sign-ins for distinct e-mails from two addresses: each address gets its
    free tries, and each of those costs an argon2 hash. A signed-in user's /me must be answered
    while those hashes are still being computed, not after them."""
    cookies = dict(owner.http.cookies)
    responses: list[int] = []

    async def flood() -> tuple[int, list[int]]:
        bots = [httpx.AsyncClient(base_url=server.url, timeout=300,
                                  transport=httpx.AsyncHTTPTransport(local_address=f"127.0.0.{10 + n}"))
                for n in range(2)]
        try:
            async def wrong(n: int) -> None:
                reply = await bots[n % 2].post("/api/auth/login",
                                               json={"email": f"victim{n}@example.com", "password": WRONG})
                responses.append(reply.status_code)

            logins = [asyncio.create_task(wrong(n)) for n in range(200)]
            while not responses:  # the server is busy with the flood now
                await asyncio.sleep(0.01)
            async with httpx.AsyncClient(base_url=server.url, cookies=cookies, timeout=300) as user:
                me = await user.get("/api/auth/me")
            answered_before_me = list(responses)
            await asyncio.gather(*logins)
            return me.status_code, answered_before_me
        finally:
            for bot in bots:
                await bot.aclose()

    me_status, before_me = asyncio.run(flood())
    assert me_status == 200
    assert len(responses) == 200 and len(before_me) < 200
    assert set(responses) <= {401, 429} and 429 in responses, sorted(set(responses))
    # Had /me waited behind the hashes (as on the shared thread pool), most would be answered first.
    hashed = responses.count(401)
    assert hashed >= 20 and before_me.count(401) < hashed / 2, (before_me.count(401), hashed)


def test_concurrent_first_signups_make_exactly_one_owner(server: MistServer) -> None:
    barrier = threading.Barrier(10)
    results: dict[int, httpx.Response] = {}

    def sign_up(n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            barrier.wait()
            results[n] = http.post("/api/auth/signup", json={
                "username": f"racer{n}", "email": f"racer{n}@example.com", "password": PASSWORD})

    threads = [threading.Thread(target=sign_up, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(r.status_code for r in results.values())
    assert statuses == [200] + [409] * 9, [(r.status_code, r.text) for r in results.values()]
    assert all("sign-up is closed" in r.json()["message"] for r in results.values() if r.status_code == 409)
    winner = next(n for n, r in results.items() if r.status_code == 200)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.login(f"racer{winner}@example.com")
        everyone = owner.get("/api/users/getAll")["data"]
    assert [(u["username"], u["role"]) for u in everyone] == [(f"racer{winner}", "owner")]


def _token(member: MistClient) -> dict[str, str]:
    token = member.post("/api/tokens/create", {"name": "laptop", "scope": "admin"})["data"]["token"]
    return {"Authorization": f"Bearer {token}"}


def _locked_out(server: MistServer, team: Team, bearer: dict[str, str]) -> None:
    """The member's very next request fails, by cookie and by token, on any route."""
    for path, params in [("/api/auth/me", {}), ("/api/projects/getFromId", {"id": team.project_id})]:
        assert team.member.http.get(path, params=params).status_code == 401, path
        with httpx.Client(base_url=server.url, timeout=60) as cli:
            assert cli.get(path, params=params, headers=bearer).status_code == 401, path


def test_a_disabled_member_loses_access_at_once(server: MistServer, team: Team) -> None:
    bearer = _token(team.member)
    team.member.get("/api/projects/getFromId", id=team.project_id)

    team.owner.put("/api/users/update", {"id": team.member_id, "disabled": True})
    _locked_out(server, team, bearer)
    # Signing in again does not help, and the answer is the one a wrong password gets.
    with httpx.Client(base_url=server.url, timeout=60) as http:
        again = http.post("/api/auth/login", json={"email": "mallory@example.com", "password": PASSWORD})
        wrong = http.post("/api/auth/login", json={"email": "mallory@example.com", "password": WRONG})
    assert again.status_code == wrong.status_code == 401 and again.json() == wrong.json()

    # Re-enabling does not bring the old session or token back.
    team.owner.put("/api/users/update", {"id": team.member_id, "disabled": False})
    _locked_out(server, team, bearer)
    actions = [e["action"] for e in team.owner.get("/api/audit-logs")["data"]["logs"]]
    assert actions.count("user.update") == 2


def test_a_member_removed_from_the_project_then_deleted_loses_access_at_once(server: MistServer, team: Team) -> None:
    bearer = _token(team.member)
    team.owner.put("/api/projects/updateMembers", {"userIds": []}, id=team.project_id)
    assert team.member.http.get("/api/projects/getFromId", params={"id": team.project_id}).status_code == 404
    with httpx.Client(base_url=server.url, timeout=60) as cli:
        assert cli.get("/api/projects/getFromId", params={"id": team.project_id}, headers=bearer).status_code == 404

    team.owner.http.request("DELETE", "/api/users/delete", json={"id": team.member_id}).raise_for_status()
    _locked_out(server, team, bearer)
    assert team.member.http.post("/api/auth/login", json={"email": "mallory@example.com",
                                                          "password": PASSWORD}).status_code == 401
    assert [u["username"] for u in team.owner.get("/api/users/getAll")["data"]] == ["owner"]


def test_revoking_a_members_sessions_ends_cookie_and_token(server: MistServer, team: Team) -> None:
    bearer = _token(team.member)
    team.owner.post("/api/users/revokeSessions", {"id": team.member_id})
    _locked_out(server, team, bearer)
    team.member.login("mallory@example.com")  # not disabled: a fresh sign-in works
    actions = [e["action"] for e in team.owner.get("/api/audit-logs")["data"]["logs"]]
    assert "user.revoke_sessions" in actions


def test_a_member_cannot_manage_users(server: MistServer, team: Team) -> None:
    owner_id = team.owner.get("/api/auth/me")["data"]["id"]
    attempts = [
        ("PUT", "/api/users/update", {"id": team.member_id, "role": "admin"}),
        ("PUT", "/api/users/update", {"id": owner_id, "disabled": True}),
        ("DELETE", "/api/users/delete", {"id": owner_id}),
        ("POST", "/api/users/revokeSessions", {"id": owner_id}),
    ]
    for method, path, body in attempts:
        response = team.member.http.request(method, path, json=body)
        assert response.status_code == 403, (path, body, response.text)
        assert response.json()["message"]
    assert team.member.get("/api/auth/me")["data"]["role"] == "user"
    assert team.owner.get("/api/auth/me")["data"]["disabled"] is False


def test_a_stolen_session_cannot_change_the_password(server: MistServer, team: Team) -> None:
    refused = team.member.http.put("/api/auth/password", json={"current": WRONG, "new": "attacker's passphrase"})
    assert refused.status_code == 400 and "current" in refused.json()["message"]
    with httpx.Client(base_url=server.url, timeout=60) as http:
        MistClient(http).login("mallory@example.com")  # the password is unchanged
