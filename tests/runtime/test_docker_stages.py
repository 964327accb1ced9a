"""mist.runtime.docker on the real engine: the earlier stages of a multi-stage build (which the
classic builder keeps as untagged images) are tagged after the image, and go when it goes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import docker
import pytest
from support.images import ensure_busybox_image

from mist.runtime.docker import DockerEngine
from mist.runtime.requests import BuildRequest

pytestmark = pytest.mark.docker


def tags_of(client: docker.DockerClient, repository: str) -> set[str]:
    return {t for image in client.images.list(name=repository) for t in image.tags}


def test_earlier_stages_are_tagged_with_the_image_and_removed_with_it(tmp_path: Path) -> None:
    client = docker.from_env()
    base = ensure_busybox_image(client)
    marker = uuid.uuid4().hex  # a build of its own, never from another run's cache
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base} AS build\nRUN echo {marker} > /out\nFROM {base} AS check\nRUN echo checked\n"
        f"FROM {base}\nCOPY --from=build /out /out\n"
    )
    repository = f"mist-test-stages-{marker[:8]}"
    engine = DockerEngine()

    async def build(tag: str) -> None:
        async def line(text: str) -> None:
            pass
        await engine.build(BuildRequest(context_dir=tmp_path, dockerfile="Dockerfile", tag=tag), line)

    try:
        asyncio.run(build(f"{repository}:1"))
        assert tags_of(client, repository) == {f"{repository}:1", f"{repository}:1-stage0", f"{repository}:1-stage1"}
        build_stage = client.images.get(f"{repository}:1-stage0")
        out = client.containers.run(build_stage.id, ["cat", "/out"], remove=True).decode().strip()
        assert out == marker  # the tag is on the stage that wrote /out, not on some other image
        asyncio.run(build(f"{repository}:2"))  # from the cache: the same stage images, tagged again
        asyncio.run(engine.remove_image(f"{repository}:1"))
        assert tags_of(client, repository) == {f"{repository}:2", f"{repository}:2-stage0", f"{repository}:2-stage1"}
        asyncio.run(engine.remove_image(f"{repository}:2"))
        assert tags_of(client, repository) == set()
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(build_stage.id)  # gone from the engine, not left untagged
    finally:
        for image in client.images.list(name=repository):
            client.images.remove(image.id, force=True)
        asyncio.run(engine.aclose())
