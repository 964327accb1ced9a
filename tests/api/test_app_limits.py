"""mist.api.apps: resource limits, restart policy, and what a change needs (`actionRequired`)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from support.client import MistClient

REPO = "https://git.example.com/acme/shop.git"


@pytest.fixture
def app(mist: MistClient) -> dict:
    mist.signup()
    return mist.app(mist.project()["id"], "web", REPO, port=8000)


def test_limits_and_restart_policy_are_stored_and_shown(mist: MistClient, app: dict) -> None:
    assert (app["cpuLimit"], app["memoryLimit"], app["restartPolicy"]) == (None, None, None)
    updated = mist.put("/api/apps/update", {"appId": app["id"], "cpuLimit": 0.5, "memoryLimit": 256,
                                            "restartPolicy": "on-failure"})["data"]
    assert (updated["cpuLimit"], updated["memoryLimit"], updated["restartPolicy"]) == (0.5, 256, "on-failure")


@pytest.mark.parametrize("patch, action", [
    ({"cpuLimit": 1.5}, "restart"),
    ({"memoryLimit": 128}, "restart"),
    ({"restartPolicy": "always"}, "restart"),
    ({"envVars": {"MODE": "prod"}}, "redeploy"),
    ({"port": 9000}, "redeploy"),
    ({"gitBranch": "release"}, "redeploy"),
    ({"healthcheckPath": "/health"}, "none"),
    ({"deploymentStrategy": "manual"}, "none"),
    ({"gitToken": "new-token-1234"}, "none"),
    ({"port": 8000}, "none"),  # unchanged
])
def test_each_change_says_what_it_needs(mist: MistClient, app: dict, patch: dict, action: str) -> None:
    assert mist.put("/api/apps/update", {"appId": app["id"], **patch})["data"]["actionRequired"] == action


def test_removing_a_limit_needs_a_new_container(mist: MistClient, app: dict) -> None:
    mist.put("/api/apps/update", {"appId": app["id"], "memoryLimit": 256})
    cleared = mist.put("/api/apps/update", {"appId": app["id"], "memoryLimit": None})
    assert cleared["data"]["actionRequired"] == "redeploy"


@pytest.mark.parametrize("patch, field", [
    ({"cpuLimit": 0}, "cpuLimit"),
    ({"cpuLimit": -1}, "cpuLimit"),
    ({"cpuLimit": "1"}, "cpuLimit"),
    ({"memoryLimit": 2}, "memoryLimit"),
    ({"memoryLimit": 1.5}, "memoryLimit"),
    ({"restartPolicy": "sometimes"}, "restartPolicy"),
])
def test_bad_limits_are_400_and_change_nothing(
    http: TestClient, mist: MistClient, app: dict, patch: dict, field: str
) -> None:
    response = http.put("/api/apps/update", json={"appId": app["id"], "port": 9999, **patch})
    assert response.status_code == 400 and field in response.json()["message"], response.text
    assert mist.post("/api/apps/getById", {"appId": app["id"]})["data"]["port"] == 8000
