"""The real Docker engine for the suites that deploy: one client, and a clean slate around each test."""

from __future__ import annotations

import docker


def connect() -> docker.DockerClient:
    client = docker.from_env()
    client.ping()
    return client


def remove_mist_objects(engine: docker.DockerClient) -> None:
    """Containers and volumes of Mist's apps. Every Docker suite shares the one engine, so these
    suites must not run at the same time (app ids, and so container names, repeat across servers)."""
    for container in engine.containers.list(all=True, filters={"label": "mist.app"}):
        container.remove(force=True)
    for volume in engine.volumes.list(filters={"name": "mist-app-"}):
        volume.remove(force=True)
