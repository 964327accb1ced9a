"""The `mist` client against a real `mist serve`, run as a user runs it: a subprocess."""

from __future__ import annotations

import json
import re
import socket
import stat
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from cli_support import CLI, cli_env
from support.client import PASSWORD, MistClient
from support.gitserver import GitServer
from support.server import MistServer

pytestmark = pytest.mark.docker

GOOD = 'FROM mist-test/busybox:1\nRUN echo building-{nonce}\nCMD ["sh","-c","sleep 3600"]\n'
BROKEN = "FROM mist-test/busybox:1\nRUN exit 3\n"
SLOW = (
    "FROM mist-test/busybox:1\n"
    "RUN echo slow-{nonce} && for i in $(seq 1 {ticks}); do echo tick-$i; sleep 0.5; done\n"
    'CMD ["sh","-c","sleep 3600"]\n'
)


def service_app(owner: MistClient, git_server: GitServer, name: str, dockerfile: str,
                project: str = "") -> tuple[dict, str]:
    repo = f"cli-{name}-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, {"Dockerfile": dockerfile}, message="first version")
    project_id = owner.project(project or f"project-{name}")["id"]
    return owner.app(project_id, name, git_server.url_for(repo), appType="service"), repo


def deployment_id_in(output: str) -> int:
    match = re.search(r"\(id (\d+)\)", output)
    assert match, output
    return int(match.group(1))


def wait_for(predicate, timeout: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_deploy_follow_success_then_a_broken_commit_then_list_and_logs(
    owner: MistClient, git_server: GitServer, mist_cli
) -> None:
    nonce = uuid.uuid4().hex
    app, repo = service_app(owner, git_server, "api", GOOD.format(nonce=nonce))

    good = mist_cli("deploy", "api", "--follow")
    assert good.returncode == 0, good.stderr
    first = owner.deployments(app["id"])[0]
    assert first["status"] == "success"
    assert f"building-{nonce}" in good.stdout  # the build's own lines, live
    assert f"deployment #1 (id {first['id']}): success" in good.stdout
    assert "==> deployment #1" in good.stdout and "building_image" in good.stdout
    assert "Traceback" not in good.stderr

    broken_sha = git_server.commit(repo, {"Dockerfile": BROKEN}, "break the build")
    bad = mist_cli("deploy", str(app["id"]), "--follow")
    second = owner.deployments(app["id"])[0]
    assert second["status"] == "failed"
    assert bad.returncode == 1, bad.stdout
    assert f"deployment #2 (id {second['id']}): failed" in bad.stdout
    assert "error: " in bad.stderr and "non-zero code: 3" in bad.stderr
    assert second["error_message"] in bad.stderr
    assert "Traceback" not in bad.stderr

    listing = mist_cli("deployments", "api")
    assert listing.returncode == 0, listing.stderr
    rows = {line.split()[1]: line for line in listing.stdout.splitlines() if line.split()[:1] in (["1"], ["2"])}
    assert set(rows) == {str(first["id"]), str(second["id"])}, listing.stdout
    assert "success" in rows[str(first["id"])] and "yes" in rows[str(first["id"])]
    assert first["commit_hash"][:7] in rows[str(first["id"])] and "first version" in rows[str(first["id"])]
    assert "failed" in rows[str(second["id"])] and broken_sha[:7] in rows[str(second["id"])]
    assert "break the build" in rows[str(second["id"])] and "building_image" in rows[str(second["id"])]

    stored = owner.logs(second["id"])
    logs = mist_cli("logs", str(second["id"]))
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.rstrip("\n") == stored.rstrip("\n")
    assert "exit 3" in logs.stdout

    apps = mist_cli("apps")
    assert apps.returncode == 0, apps.stderr
    row = next(line for line in apps.stdout.splitlines() if " api " in line)
    assert row.split()[:6] == [str(app["id"]), "api", "project-api", "service", "1", "main"]  # 1 replica
    assert "failed #2" in row


def test_deploy_stop_rollback_and_the_exit_codes_of_followers(
    owner: MistClient, git_server: GitServer, mist_cli, server: MistServer, token: str, tmp_path: Path
) -> None:
    app, repo = service_app(owner, git_server, "shop", GOOD.format(nonce=uuid.uuid4().hex))
    assert mist_cli("deploy", "shop", "--follow").returncode == 0
    git_server.commit(repo, {"Dockerfile": GOOD.format(nonce=uuid.uuid4().hex)}, "second version")
    assert mist_cli("deploy", "shop", "--follow").returncode == 0
    first, second = sorted(owner.deployments(app["id"]), key=lambda d: d["id"])

    # Without --follow: the new deployment is printed and the command returns at once.
    slow_sha = git_server.commit(repo, {"Dockerfile": SLOW.format(nonce=uuid.uuid4().hex, ticks=60)}, "slow build")
    queued = mist_cli("deploy", "shop")
    assert queued.returncode == 0, queued.stderr
    slow_id = deployment_id_in(queued.stdout)
    assert f"deployment #3 (id {slow_id})" in queued.stdout
    assert slow_sha[:7] in queued.stdout and "slow build" in queued.stdout and "pending" in queued.stdout

    # A follower of the slow build ends with 2 when the deployment is stopped.
    out_path = tmp_path / "follow.out"
    with open(out_path, "w") as out, open(tmp_path / "follow.err", "w") as err:
        follower = subprocess.Popen(
            [*CLI, "logs", str(slow_id), "--follow"], stdout=out, stderr=err, stdin=subprocess.DEVNULL,
            env=cli_env(tmp_path, MIST_URL=server.url, MIST_TOKEN=token),
        )
    try:
        wait_for(lambda: "tick-2" in out_path.read_text(), what="the slow build to tick")
        stopped = mist_cli("stop", str(slow_id))
        assert stopped.returncode == 0, stopped.stderr
        assert f"deployment #3 (id {slow_id}): stopped" in stopped.stdout
        assert follower.wait(60) == 2
    finally:
        if follower.poll() is None:
            follower.kill()
    followed = out_path.read_text()
    assert "tick-1\n" in followed and f"deployment id {slow_id}: stopped" in followed

    # Stopping it again is a conflict: the API's message, exit 1, no traceback.
    again = mist_cli("stop", str(slow_id))
    assert again.returncode == 1 and again.stderr.startswith("error: ") and "Traceback" not in again.stderr

    active = mist_cli("rollback", str(second["id"]))
    assert active.returncode == 1
    assert active.stderr.strip() == "error: deployment #2 is already the active one"

    back = mist_cli("rollback", str(first["id"]), "--follow")
    assert back.returncode == 0, back.stderr
    rollback = max(owner.deployments(app["id"]), key=lambda d: d["id"])
    assert rollback["status"] == "success" and rollback["rolled_back_from"] == second["id"]
    assert f"deployment #4 (id {rollback['id']}): success" in back.stdout

    gone = mist_cli("logs", "999999")
    assert gone.returncode == 1 and gone.stderr.startswith("error: ") and "Traceback" not in gone.stderr


def test_errors_are_one_line_without_traceback(
    owner: MistClient, git_server: GitServer, mist_cli, server: MistServer, tmp_path: Path
) -> None:
    one, _ = service_app(owner, git_server, "web", GOOD.format(nonce="x"), project="shop")
    two, _ = service_app(owner, git_server, "web", GOOD.format(nonce="y"), project="blog")
    ambiguous = mist_cli("deploy", "web")
    assert ambiguous.returncode == 1
    assert f"web (id {one['id']}, project shop)" in ambiguous.stderr
    assert f"web (id {two['id']}, project blog)" in ambiguous.stderr
    assert ambiguous.stdout == ""

    unknown = mist_cli("deployments", "nope")
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "error: no app named 'nope' (see `mist apps`)")

    refused = mist_cli("apps", MIST_TOKEN="mist_not-a-real-token")
    assert refused.returncode == 1 and refused.stderr.startswith("error: ") and "mist login" in refused.stderr

    url = f"http://127.0.0.1:{server.port + 1 if server.port < 65535 else 1}"
    with socket.socket() as probe:  # make sure nothing listens there
        if probe.connect_ex(("127.0.0.1", int(url.rsplit(":", 1)[1]))) == 0:
            pytest.skip("the neighbouring port is in use")
    unreachable = mist_cli("apps", MIST_URL=url)
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith(f"error: could not reach {url}")
    assert "Traceback" not in unreachable.stderr


def test_login_keeps_a_private_token_and_the_other_commands_use_it(
    server: MistServer, owner: MistClient, git_server: GitServer, tmp_path: Path
) -> None:
    service_app(owner, git_server, "site", GOOD.format(nonce="login"))
    env = cli_env(tmp_path, MIST_PASSWORD=PASSWORD)

    def mist(*args: str, env: dict[str, str] = env) -> subprocess.CompletedProcess:
        proc = subprocess.run([*CLI, *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120)
        print(f"$ mist {' '.join(args)} -> {proc.returncode}\n{proc.stdout}{proc.stderr}")
        return proc

    wrong = mist("login", server.url, "--email", "owner@example.com",
                 env={**env, "MIST_PASSWORD": "not the password"})
    assert wrong.returncode == 1 and wrong.stderr.startswith("error: ") and "Traceback" not in wrong.stderr
    path = tmp_path / "config" / "mist" / "credentials.json"
    assert not path.exists()

    login = mist("login", server.url + "/", "--email", "owner@example.com")
    assert login.returncode == 0, login.stderr
    assert "as owner" in login.stdout and str(path) in login.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    saved = json.loads(path.read_text())
    assert saved["url"] == server.url and saved["token"].startswith("mist_")
    assert PASSWORD not in path.read_text()
    tokens = owner.get("/api/tokens/getAll")["data"]
    assert any(t["name"] == f"mist-cli on {socket.gethostname()}"[:100] and t["scope"] == "admin" for t in tokens)

    apps = mist("apps", env=cli_env(tmp_path))  # no MIST_URL, no MIST_TOKEN, no password
    assert apps.returncode == 0, apps.stderr
    assert "site" in apps.stdout and "project-site" in apps.stdout


def test_a_follower_survives_a_server_restart_and_prints_each_line_once(
    server_factory, git_server: GitServer, tmp_path: Path
) -> None:
    import httpx

    server = server_factory()
    with httpx.Client(base_url=server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.signup()
        token = owner.post("/api/tokens/create", {"name": "ci", "scope": "deploy"})["data"]["token"]
        service_app(owner, git_server, "ticker", SLOW.format(nonce=uuid.uuid4().hex, ticks=120))

    out_path, err_path = tmp_path / "follow.out", tmp_path / "follow.err"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        follower = subprocess.Popen(
            [*CLI, "deploy", "ticker", "--follow"], stdout=out, stderr=err, stdin=subprocess.DEVNULL,
            env=cli_env(tmp_path, MIST_URL=server.url, MIST_TOKEN=token),
        )
    try:
        wait_for(lambda: "tick-3\n" in out_path.read_text(), what="the build to tick")
        server.kill()  # as in a crash: the socket drops mid-build
        time.sleep(1)
        server_factory(same_port=True)  # marks the interrupted deployment failed
        code = follower.wait(120)
    finally:
        if follower.poll() is None:
            follower.kill()
    out, err = out_path.read_text(), err_path.read_text()
    print(out, err)
    assert code == 1
    assert "reconnecting" in err
    lines = out.splitlines()
    ticks = [line for line in lines if re.fullmatch(r"tick-\d+", line)]
    assert len(ticks) >= 3 and len(ticks) == len(set(ticks)), ticks  # replayed lines skipped
    assert "failed" in lines[-1]
    assert err.rstrip().splitlines()[-1].startswith("error: ")


TALKER = (
    "FROM mist-test/busybox:1\n"
    'CMD ["sh","-c","echo started-$MODE-$LINK; i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.3; done"]\n'
)


def test_env_references_then_container_status_logs_and_restart(
    owner: MistClient, git_server: GitServer, mist_cli
) -> None:
    app, _ = service_app(owner, git_server, "talker", TALKER)
    set_env = mist_cli("env", "set", "talker", "MODE=prod", "LINK=${{talker.HOST}}")
    assert set_env.returncode == 0, set_env.stderr
    assert "redeploy to apply" in set_env.stdout
    listing = mist_cli("env", "list", "talker")
    assert "MODE" in listing.stdout and "${{talker.HOST}}" in listing.stdout

    assert mist_cli("deploy", "talker", "--follow").returncode == 0
    logs = mist_cli("container", "logs", "talker", "--tail", "50")
    assert logs.returncode == 0, logs.stderr
    assert "started-prod-talker" in logs.stdout  # the reference, filled in at deploy time

    status = mist_cli("container", "status", "talker")
    assert status.returncode == 0 and "running" in status.stdout, status.stdout
    restarted = mist_cli("container", "restart", "talker")
    assert restarted.returncode == 0 and "running" in restarted.stdout, restarted.stdout + restarted.stderr
    wait_for(lambda: mist_cli("container", "logs", "talker").stdout.count("started-prod-talker") == 2,
             timeout=30, what="the restarted container's first line")

    stopped = mist_cli("container", "stop", "talker")
    assert stopped.returncode == 0 and "exited" in stopped.stdout
    assert "exited" in mist_cli("container", "status", "talker").stdout


def test_settings_and_an_apps_settings_say_where_each_value_came_from(
    owner: MistClient, git_server: GitServer, server: MistServer, mist_cli
) -> None:
    rows = [line.split() for line in mist_cli("settings").stdout.splitlines()]
    assert ["MIST_PORT", str(server.port), "command", "line"] in rows  # `mist serve --port`
    assert ["MIST_DATA_DIR", str(server.data_dir.resolve()), "environment"] in rows
    assert ["MIST_PROXY_TLS", "false", "default"] in rows

    app, _ = service_app(owner, git_server, "tuned", GOOD.format(nonce=uuid.uuid4().hex))
    owner.put("/api/apps/update", {"appId": app["id"], "memoryLimit": 64, "healthcheckRetries": 3})
    status = mist_cli("status", "tuned")
    assert status.returncode == 0, status.stderr
    rows = [line.split() for line in status.stdout.splitlines()]
    assert ["memory", "limit", "64", "MiB", "app"] in rows
    assert ["health", "retries", "3", "app"] in rows
    assert ["restart", "policy", "unless-stopped", "default"] in rows
    assert ["update", "strategy", "rolling", "default"] in rows
