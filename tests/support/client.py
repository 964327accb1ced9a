"""A thin Mist API client for tests, over any httpx-style client (in-process or a real server)."""

from __future__ import annotations

import time
from typing import Any

import httpx

PASSWORD = "correct horse battery"


class MistClient:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def post(self, path: str, body: Any, expect: int = 200) -> Any:
        response = self.http.post(path, json=body)
        assert response.status_code == expect, (path, response.status_code, response.text)
        return response.json()

    def put(self, path: str, body: Any, expect: int = 200, **params: Any) -> Any:
        response = self.http.put(path, json=body, params=params)
        assert response.status_code == expect, (path, response.status_code, response.text)
        return response.json()

    def get(self, path: str, expect: int = 200, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        assert response.status_code == expect, (path, response.status_code, response.text)
        return response.json()

    def signup(self, username: str = "owner", email: str = "owner@example.com") -> dict:
        return self.post("/api/auth/signup", {"username": username, "email": email, "password": PASSWORD})["data"]

    def login(self, email: str) -> dict:
        return self.post("/api/auth/login", {"email": email, "password": PASSWORD})["data"]

    def create_user(self, username: str, role: str = "user") -> dict:
        body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD, "role": role}
        return self.post("/api/users/create", body)["data"]

    def project(self, name: str = "shop") -> dict:
        return self.post("/api/projects/create", {"name": name, "description": "test project"})["data"]

    def app(self, project_id: int, name: str, repo: str = "", **fields: Any) -> dict:
        body = {"name": name, "projectId": project_id, **fields}
        if repo:
            body["gitRepository"] = repo
        return self.post("/api/apps/create", body)["data"]

    def deploy(self, app_id: int) -> dict:
        return self.post("/api/deployment/add", {"appId": app_id})

    def deployments(self, app_id: int) -> list[dict]:
        return self.post("/api/deployment/getByAppId", {"appId": app_id})["data"]

    def deployment(self, app_id: int, deployment_id: int) -> dict:
        return next(d for d in self.deployments(app_id) if d["id"] == deployment_id)

    def wait_final(self, app_id: int, deployment_id: int, timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            d = self.deployment(app_id, deployment_id)
            if d["status"] in ("success", "failed", "stopped", "rolled_back"):
                return d
            time.sleep(0.2)
        raise AssertionError(f"deployment {deployment_id} did not finish: {d}")

    def logs(self, deployment_id: int) -> str:
        response = self.http.get(f"/api/deployment/logs/{deployment_id}")
        assert response.status_code == 200, response.text
        return response.text
