"""The `build` fixture: a small repository written to tmp_path, and the recipe Mist makes of it."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from mist.stacks import Overrides, Recipe, base_images, recipe
from stacks.repos import Build, write


@pytest.fixture
def build(tmp_path: Path) -> Build:
    """build({path: content}, builder=..., overrides=..., build_args=..., images=...) -> Recipe."""

    def run(files: Mapping[str, str | bytes], builder: str = "auto", overrides: Overrides | None = None,
            build_args: Sequence[str] = (), images: Mapping[str, str] | None = None,
            dockerfile_path: str = "Dockerfile") -> Recipe:
        root = write(Path(tempfile.mkdtemp(dir=tmp_path)), files)  # a fresh repository each call
        return recipe(root, builder, dockerfile_path, overrides or Overrides(), base_images(images or {}), build_args)

    return run
