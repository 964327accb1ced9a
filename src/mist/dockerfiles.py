"""What an app's next build would use: the Dockerfile Mist writes for the tip of its branch, or the
repository's own. `GET /api/apps/dockerfile` and `mist apps dockerfile` ("eject") show it, so a person
can keep it in the repository and edit it."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path

from mist.auth.permissions import app_for
from mist.db.engine import Database
from mist.db.models import App, User
from mist.deploy.plan import git_auth
from mist.errors import BuildFailed, InvalidInput, Unbuildable
from mist.git import GitRepos, path_problem, read_checkout_file
from mist.secretbox import SecretBox
from mist.stacks import Overrides, Recipe, recipe


@dataclass(frozen=True)
class Shown:
    app_id: int
    commit_hash: str
    recipe: Recipe
    dockerfile: str  # the generated one, or the repository's own when the builder is "dockerfile"


async def _quiet(line: str) -> None:
    """Checkout progress has nobody to go to here."""


class Dockerfiles:
    def __init__(self, db: Database, git: GitRepos, box: SecretBox, builds_dir: Path, images: dict[str, str]) -> None:
        self.db = db
        self.git = git
        self.box = box
        self.builds_dir = builds_dir
        self.images = images  # mist.stacks.base_images

    async def show(self, user: User, app_id: int) -> Shown:
        app = await self.db.run(app_for, user, app_id)
        if app.app_type == "database":
            raise InvalidInput("appId: a database app builds nothing; it runs its template's image")
        auth = git_auth(app, self.box)
        commit = await self.git.resolve(app.id, app.git_repository, app.git_branch, auth)
        checkout = self.builds_dir / f"mist-dockerfile-{app.id}-{secrets.token_hex(4)}"
        try:
            await self.git.checkout(app.id, app.git_repository, commit.hash, checkout, _quiet, auth=auth)
            found, text = await asyncio.to_thread(self._read, app, checkout)
        finally:
            await self.git.discard(checkout)
        return Shown(app.id, commit.hash, found, text)

    def _read(self, app: App, checkout: Path) -> tuple[Recipe, str]:
        if problem := path_problem(checkout, app.root_directory, want_dir=True):
            raise Unbuildable(f"rootDirectory '{app.root_directory or '.'}' {problem}")
        root = checkout / app.root_directory if app.root_directory else checkout
        overrides = Overrides(app.build_command, app.start_command, app.release_command)
        build_args = tuple(e.key for e in app.env_vars if e.build_time)
        try:
            found = recipe(root, app.builder, app.dockerfile_path, overrides, self.images, build_args)
            if found.builder != "dockerfile":
                return found, found.dockerfile
            own = read_checkout_file(root, app.dockerfile_path)
        except BuildFailed as exc:
            raise Unbuildable(exc.message) from exc
        if own is None:
            raise Unbuildable(f"dockerfilePath '{app.dockerfile_path}': no such file in the branch's tip")
        return found, own.decode(errors="replace")
