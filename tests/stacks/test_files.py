"""What detection reads from a repository: only small regular files inside the build root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mist.errors import Unbuildable
from mist.stacks import Overrides, base_images, recipe
from mist.stacks.files import MANIFEST_MAX_BYTES
from stacks.repos import Build, instructions, write


def make(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    return write(tmp_path / "repo", files)


def detect(root: Path) -> str:
    return recipe(root, "auto", "Dockerfile", Overrides(), base_images({})).builder


@pytest.mark.parametrize("manifest", ["requirements.txt", "package.json", "go.mod", "Procfile", "Dockerfile"])
def test_a_manifest_symlinked_out_of_the_root_is_refused_by_name(tmp_path: Path, manifest: str) -> None:
    root = make(tmp_path, {"main.go": "package main\n", "index.html": ""})
    (tmp_path / "outside").write_text("secret\n")
    os.symlink(tmp_path / "outside", root / manifest)
    with pytest.raises(Unbuildable, match=f"'{manifest}'.*outside"):
        detect(root)


def test_a_source_file_symlinked_out_is_not_read(tmp_path: Path) -> None:
    root = make(tmp_path, {"requirements.txt": "flask\n", "main.py": ""})
    (tmp_path / "outside.py").write_text("app = Flask(__name__)\n")
    os.symlink(tmp_path / "outside.py", root / "app.py")
    found = recipe(root, "auto", "Dockerfile", Overrides(), base_images({}))
    assert instructions(found.dockerfile)[-1] == 'CMD ["sh", "-c", "exec python3 main.py"]'


def test_a_symlinked_directory_is_not_searched(tmp_path: Path) -> None:
    root = make(tmp_path, {"go.mod": "module x\n"})
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "main.go").write_text("package main\n")
    os.symlink(tmp_path / "elsewhere", root / "cmd")
    with pytest.raises(Unbuildable, match="no main package"):
        detect(root)


def test_a_symlink_inside_the_root_is_followed(tmp_path: Path) -> None:
    root = make(tmp_path, {"config/requirements.txt": "flask\n", "main.py": ""})
    os.symlink("config/requirements.txt", root / "requirements.txt")
    assert detect(root) == "python"


def test_an_oversized_manifest_is_refused_by_name(tmp_path: Path) -> None:
    root = make(tmp_path, {"package.json": "{" + " " * MANIFEST_MAX_BYTES + "}"})
    with pytest.raises(Unbuildable, match="'package.json'.*larger than"):
        detect(root)


def test_a_fifo_in_place_of_a_manifest_is_refused(tmp_path: Path) -> None:
    root = make(tmp_path, {"main.py": ""})
    os.mkfifo(root / "requirements.txt")
    with pytest.raises(Unbuildable, match="'requirements.txt'.*not a regular file"):
        detect(root)


@pytest.mark.parametrize(("files", "message"), [
    ({"package.json": "{'single': 'quotes'}"}, "'package.json' is not valid JSON"),
    ({"pyproject.toml": "[project\nname = 1"}, "'pyproject.toml' is not valid TOML"),
    ({"Pipfile": "packages = [", "main.py": ""}, "'Pipfile' is not valid TOML"),
    ({"requirements.txt": b"\xff\xfe\x00", "main.py": ""}, "'requirements.txt' .*not UTF-8"),
])
def test_invalid_manifests_are_named(build: Build, files: dict[str, str | bytes], message: str) -> None:
    with pytest.raises(Unbuildable, match=message):
        build(files)
