"""A small synchronous client of Mist's HTTP API (httpx), authenticated with a Bearer token.

Every failure becomes a `ClientError`: `ApiError` with the server's own message for an answer that
is an error, `ConnectionFailed` naming the URL for a server that cannot be reached.
"""

from __future__ import annotations

from typing import Any

import httpx

from mist.client.config import normalize_url
from mist.client.errors import ApiError, ConnectionFailed

USER_AGENT = "mist-cli"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# Stopping a running deployment answers once it has ended (clone, build or health check interrupted);
# stopping or restarting a container, once it has (MIST_STOP_TIMEOUT_SECONDS, then SIGKILL).
STOP_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
# An app's Dockerfile is written from its repository, which the server fetches first (a first clone
# of a large repository takes a while; MIST_CLONE_TIMEOUT_SECONDS defaults to 600).
FETCH_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
CONTAINER_ACTIONS = ("start", "stop", "restart")


def describe_transport_error(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = str(exc).strip()
    # httpx wraps OS errors as "[Errno 111] Connection refused"; keep the readable part.
    if text.startswith("[Errno") and "] " in text:
        text = text.split("] ", 1)[1]
    return text or type(exc).__name__


def error_message(response: httpx.Response) -> str:
    """The server's `message`, else a readable line made from the status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return body["message"]
    if isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"]:
        return body["detail"]
    reason = response.reason_phrase or "error"
    text = response.text.strip()
    if text and len(text) < 200 and "<" not in text:
        return f"HTTP {response.status_code} {reason}: {text}"
    return f"HTTP {response.status_code} {reason} from {response.request.url}"


class MistAPI:
    def __init__(
        self, url: str, token: str | None = None, *, transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    ) -> None:
        self.url = normalize_url(url)
        self.token = token
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> MistAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def ws_url(self) -> str:
        scheme, rest = self.url.split("://", 1)
        return ("wss" if scheme == "https" else "ws") + "://" + rest

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"could not reach {self.url}: {describe_transport_error(exc)}") from None
        if response.status_code >= 400:
            message = error_message(response)
            if response.status_code == 401 and self.token:
                message += " (the token was refused: run `mist login URL` again, or check MIST_TOKEN)"
            raise ApiError(message, response.status_code)
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A JSON answer: the envelope's `data` if it has one; `success: false` is an error."""
        response = self.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            raise ApiError(
                f"{self.url}{path} did not answer JSON (HTTP {response.status_code}); is this a Mist server?",
                response.status_code,
            ) from None
        if isinstance(body, dict) and "success" in body:
            if body["success"] is not True:
                raise ApiError(str(body.get("message") or "the server refused the request"), response.status_code)
            return body.get("data")
        return body

    # ------------------------------------------------------------------ auth

    def login(self, email: str, password: str) -> dict:
        """Sign in with the session cookie (kept in this client's cookie jar)."""
        return self.call("POST", "/api/auth/login", json={"email": email, "password": password})

    def logout(self) -> None:
        self.call("POST", "/api/auth/logout")

    def me(self) -> dict:
        return self.call("GET", "/api/auth/me")

    def create_token(self, name: str, scope: str = "admin") -> dict:
        data = self.call("POST", "/api/tokens/create", json={"name": name, "scope": scope})
        if not isinstance(data, dict) or not isinstance(data.get("token"), str) or not data["token"]:
            raise ApiError("the server created a token but did not return it")
        return data

    # ------------------------------------------------------------------ projects and apps

    def projects(self) -> list[dict]:
        return self.call("GET", "/api/projects/getAll")

    def apps_of_project(self, project_id: int) -> list[dict]:
        return self.call("POST", "/api/apps/getByProjectId", json={"projectId": project_id})

    def create_project(self, name: str, description: str = "") -> dict:
        return self.call("POST", "/api/projects/create", json={"name": name, "description": description})

    def delete_project(self, project_id: int) -> None:
        self.call("DELETE", "/api/projects/delete", params={"id": project_id})

    def create_app(self, fields: dict[str, Any]) -> dict:
        """`fields` as `POST /api/apps/create` takes them; those left out get the server's defaults."""
        return self.call("POST", "/api/apps/create", json=fields)

    def app(self, app_id: int) -> dict:
        return self.call("POST", "/api/apps/getById", json={"appId": app_id})

    def update_app(self, app_id: int, fields: dict[str, Any]) -> dict:
        """The app with the changes in `fields` (as `PUT /api/apps/update` takes them) and `actionRequired`."""
        return self.call("PUT", "/api/apps/update", json={"appId": app_id, **fields})

    def delete_app(self, app_id: int, delete_volumes: bool = False) -> None:
        # Answers once the app's containers and images are gone (a running one is stopped first).
        self.call("DELETE", "/api/apps/delete", json={"appId": app_id, "deleteVolumes": delete_volumes},
                  timeout=STOP_TIMEOUT)

    def dockerfile(self, app_id: int) -> dict:
        """The Dockerfile the app's next deployment builds: {builder, dockerfile, commitHash, findings, ...}."""
        return self.call("GET", "/api/apps/dockerfile", params={"appId": app_id}, timeout=FETCH_TIMEOUT)

    def all_apps(self) -> list[tuple[dict, dict]]:
        """Every app the caller can see, with its project: [(project, app)], by project then app id."""
        found = []
        for project in sorted(self.projects(), key=lambda p: p["id"]):
            for app in sorted(self.apps_of_project(project["id"]), key=lambda a: a["id"]):
                found.append((project, app))
        return found

    # ------------------------------------------------------------------ deployments

    def deploy(self, app_id: int) -> dict:
        return self.call("POST", "/api/deployment/add", json={"appId": app_id})

    def deployments(self, app_id: int) -> list[dict]:
        return self.call("POST", "/api/deployment/getByAppId", json={"appId": app_id})

    def logs(self, deployment_id: int) -> str:
        return self.request("GET", f"/api/deployment/logs/{deployment_id}", headers={"Accept": "text/plain"}).text

    def stop(self, deployment_id: int) -> dict:
        return self.call("POST", "/api/deployment/stop", json={"deploymentId": deployment_id}, timeout=STOP_TIMEOUT)

    def rollback(self, deployment_id: int) -> dict:
        return self.call("POST", "/api/deployment/rollback", json={"deploymentId": deployment_id})

    # ------------------------------------------------------------------ the running container

    def container(self, app_id: int, action: str) -> dict:
        """`start`, `stop` or `restart` the container of the app's active deployment; its status after."""
        if action not in CONTAINER_ACTIONS:
            raise ValueError(f"not a container action: {action!r}")
        return self.call("POST", f"/api/apps/container/{action}", params={"appId": app_id}, timeout=STOP_TIMEOUT)

    def container_status(self, app_id: int) -> dict:
        return self.call("GET", "/api/apps/container/status", params={"appId": app_id})

    def container_logs(self, app_id: int, tail: int) -> str:
        """The last `tail` lines of the container's log, each `<RFC 3339 timestamp> <text>`."""
        data = self.call("GET", "/api/apps/container/logs", params={"appId": app_id, "tail": tail})
        return str((data or {}).get("logs") or "")

    # ------------------------------------------------------------------ domains

    def domains(self, app_id: int) -> list[dict]:
        return self.call("POST", "/api/apps/domains/get", json={"appId": app_id})

    def add_domain(self, app_id: int, domain: str) -> dict:
        return self.call("POST", "/api/apps/domains/create", json={"appId": app_id, "domain": domain})

    def delete_domain(self, domain_id: int) -> None:
        self.call("DELETE", "/api/apps/domains/delete", json={"id": domain_id})

    # ------------------------------------------------------------------ notifications (owner and admins)

    def nodes(self) -> list[dict]:
        return self.call("GET", "/api/nodes")

    def set_node_availability(self, node_id: str, availability: str) -> dict:
        return self.call("PUT", "/api/nodes/update", json={"id": node_id, "availability": availability})

    def notifications(self) -> list[dict]:
        return self.call("GET", "/api/notifications/getAll")

    def test_notification(self, notification_id: int) -> dict:
        """Sends `notification.test` now: {delivered, statusCode?, error?} of that first attempt."""
        return self.call("POST", "/api/notifications/test", json={"id": notification_id})

    def deliveries(self, limit: int = 50, notification_id: int | None = None) -> list[dict]:
        """The latest deliveries, newest first, each with its attempts and their answers."""
        params: dict[str, int] = {"limit": limit}
        if notification_id is not None:
            params["notificationId"] = notification_id
        return self.call("GET", "/api/notifications/deliveries", params=params)

    # ------------------------------------------------------------------ settings

    def settings(self) -> list[dict]:
        """Mist's settings, each {key, value, source} (owner and admins)."""
        return self.call("GET", "/api/settings")["settings"]

    def app_settings(self, app_id: int) -> list[dict]:
        """The settings the app's container runs with, each {key, value, source}."""
        return self.call("GET", "/api/apps/settings", params={"appId": app_id})["settings"]

    # ------------------------------------------------------------------ env vars

    def envs(self, app_id: int) -> list[dict]:
        """The app's env vars; a secret one has `value: null`."""
        return self.call("POST", "/api/apps/envs/get", json={"appId": app_id})

    def create_env(self, app_id: int, key: str, value: str, *, secret: bool = False,
                   build_time: bool = False) -> dict:
        return self.call("POST", "/api/apps/envs/create", json={
            "appId": app_id, "key": key, "value": value, "secret": secret, "buildTime": build_time,
        })

    def update_env(self, env_id: int, **fields: Any) -> dict:
        """Change the given fields (`value`, `secret`, `buildTime`, ...); those left out keep theirs."""
        return self.call("PUT", "/api/apps/envs/update", json={"id": env_id, **fields})

    def delete_env(self, env_id: int) -> dict:
        return self.call("DELETE", "/api/apps/envs/delete", json={"id": env_id})
