"""Database containers as Mist runs its templates (the template's env with fresh credentials, its
data volume, its command), on the test images built from Debian packages, for the dump recipes."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import docker
import pytest
from support.images import ensure_postgres_image, ensure_redis_image

from mist.backups.dumps import Database
from mist.templates import TEMPLATES, generated_env

TEST_LABEL = "mist.test.backups"


@pytest.fixture(scope="session")
def database_images(engine: docker.DockerClient) -> dict[str, str]:
    return {"postgres": ensure_postgres_image(engine), "redis": ensure_redis_image(engine)}


@pytest.fixture
def database_app(engine: docker.DockerClient, database_images: dict[str, str]) -> Iterator[Callable[[str], Database]]:
    """`database_app(template)`: a running database container with its volume, removed (with its
    volume) after the test. Readiness is the test's to wait for."""
    made: list[tuple[str, str]] = []

    def start(name: str) -> Database:
        template = TEMPLATES[name]
        env = {key: value for key, value, _ in generated_env(template, "shop")}
        token = secrets.token_hex(4)
        volume = engine.volumes.create(f"mist-test-backups-{token}", labels={TEST_LABEL: "1"}).name
        container = engine.containers.run(
            database_images[name], ["sh", "-c", template.shell_command] if template.shell_command else None,
            name=f"mist-test-backups-{token}", detach=True, environment=env, labels={TEST_LABEL: "1"},
            volumes={volume: {"bind": template.data_path, "mode": "rw"}}, network_mode="none", init=True,
        )
        made.append((container.id, volume))
        return Database(container_id=container.id, image=database_images[name], env=env, volume=volume,
                        data_path=template.data_path)

    yield start
    for container_id, volume in made:
        try:
            engine.containers.get(container_id).remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
        engine.volumes.get(volume).remove(force=True)
