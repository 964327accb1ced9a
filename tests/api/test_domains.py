"""mist.api.domains: one app per domain, validated names, membership rules."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from support.client import MistClient

from mist.config import Settings
from mist.server import create_app

REPO = "https://git.example.com/acme/shop.git"


def test_domains_belong_to_one_web_app_and_are_validated(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    project = mist.project()
    shop = mist.app(project["id"], "shop", REPO, port=8000)
    blog = mist.app(project["id"], "blog", REPO, port=8000)
    worker = mist.app(project["id"], "worker", REPO, appType="service")

    added = mist.post("/api/apps/domains/create", {"appId": shop["id"], "domain": "Shop.Example.com"})["data"]
    assert added["domain"] == "shop.example.com" and added["appId"] == shop["id"]
    taken = http.post("/api/apps/domains/create", json={"appId": blog["id"], "domain": "shop.example.com"})
    assert taken.status_code == 409 and "already belongs" in taken.json()["message"]
    for bad in ("", "-x.com", "a..b", "exa mple.com", "*.example.com", "a" * 64 + ".com"):
        response = http.post("/api/apps/domains/create", json={"appId": blog["id"], "domain": bad})
        assert response.status_code == 400, bad
    response = http.post("/api/apps/domains/create", json={"appId": worker["id"], "domain": "w.example.com"})
    assert response.status_code == 400
    assert mist.post("/api/apps/domains/get", {"appId": blog["id"]})["data"] == []

    mist.create_user("eve")
    mist.login("eve@example.com")
    assert http.post("/api/apps/domains/get", json={"appId": shop["id"]}).status_code == 404
    assert http.request("DELETE", "/api/apps/domains/delete", json={"id": added["id"]}).status_code == 404

    mist.login("owner@example.com")
    assert http.request("DELETE", "/api/apps/domains/delete", json={"id": added["id"]}).status_code == 200
    assert mist.post("/api/apps/domains/get", {"appId": shop["id"]})["data"] == []
    # Freed: another app may take it now.
    mist.post("/api/apps/domains/create", {"appId": blog["id"], "domain": "shop.example.com"})


def test_app_runtime_fields(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    project = mist.project()
    app = mist.app(project["id"], "shop", REPO, port=8000, updateStrategy="recreate",
                   healthcheckPath="/healthz", healthcheckRetries=5)
    assert (app["updateStrategy"], app["healthcheckPath"], app["healthcheckRetries"]) == ("recreate", "/healthz", 5)
    assert app["healthcheckInterval"] == 2 and app["healthcheckStartPeriod"] == 0
    for patch in ({"updateStrategy": "blue-green"}, {"healthcheckPath": "healthz"},
                  {"healthcheckInterval": 0}, {"healthcheckRetries": "3"}):
        assert http.put("/api/apps/update", json={"appId": app["id"], **patch}).status_code == 400, patch
    db = mist.app(project["id"], "db", appType="database", templateName="redis")
    assert db["updateStrategy"] == "recreate"
    refused = http.put("/api/apps/update", json={"appId": db["id"], "updateStrategy": "rolling"})
    assert refused.status_code == 400 and "recreate" in refused.json()["message"]


def test_the_dashboards_host_and_reserved_hosts_never_become_app_domains(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", workers=1, proxy_enabled=False,
                        public_url="https://Mist.Example.com:8443/",
                        reserved_domains="admin.example.com, api.example.com.")
    with TestClient(create_app(settings)) as http:
        mist = MistClient(http)
        mist.signup()
        shop = mist.app(mist.project()["id"], "shop", REPO, port=8000)
        for name, reason in (("mist.example.com", "dashboard's own host name"),
                             ("MIST.example.com.", "dashboard's own host name"),
                             ("admin.example.com", "reserved"), ("Api.Example.Com.", "reserved")):
            response = http.post("/api/apps/domains/create", json={"appId": shop["id"], "domain": name})
            assert response.status_code == 400 and reason in response.json()["message"], (name, response.text)
        assert mist.post("/api/apps/domains/get", {"appId": shop["id"]})["data"] == []

        added = mist.post("/api/apps/domains/create", {"appId": shop["id"], "domain": "shop.example.com"})["data"]
        http.request("DELETE", "/api/apps/domains/delete", json={"id": added["id"]})
        logs = mist.get("/api/audit-logs", limit=2)["data"]["logs"]
        assert [(e["action"], e["target"], e["details"]) for e in logs] == [
            ("domain.delete", "domain:shop.example.com", {"appId": shop["id"]}),
            ("domain.create", "domain:shop.example.com", {"appId": shop["id"]}),
        ]
