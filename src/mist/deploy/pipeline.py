"""One deployment, as one function of named steps.

Each step builds its request as a plain value (see plan.py) and hands it to the engine in a thread.
The pipeline knows nothing of HTTP or of the database: it reports through a `Reporter`.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Protocol

from mist.deploy.plan import DeployPlan, build_request, container_request
from mist.deploy.stages import BUILDING_IMAGE, CLONING_REPO, STARTING_NEW, STOPPING_OLD, Stage
from mist.errors import BuildFailed, RuntimeEngineError
from mist.git import GitRepos
from mist.runtime.docker import DockerRuntime
from mist.runtime.requests import BuildRequest, ContainerState


class Reporter(Protocol):
    async def enter(self, stage: Stage) -> None: ...
    async def log(self, text: str) -> None: ...


class Pipeline:
    def __init__(self, runtime: DockerRuntime, git: GitRepos, builds_dir: Path, reporter: Reporter) -> None:
        self.runtime = runtime
        self.git = git
        self.builds_dir = builds_dir
        self.report = reporter

    async def run(self, plan: DeployPlan) -> ContainerState:
        if plan.builds_from_source:
            checkout = self.builds_dir / f"mist-build-{plan.deployment_id}"
            try:
                await self.report.enter(CLONING_REPO)
                await self.clone(plan, checkout)
                await self.report.enter(BUILDING_IMAGE)
                image = await self.build(build_request(plan, checkout))
            finally:
                await asyncio.to_thread(shutil.rmtree, checkout, True)
        else:
            await self.report.enter(BUILDING_IMAGE)
            image = await self.use_template_image(plan)
        await self.report.enter(STOPPING_OLD)
        await self.stop_old(plan)
        await self.report.enter(STARTING_NEW)
        return await self.start(plan, image)

    async def clone(self, plan: DeployPlan, checkout: Path) -> None:
        await asyncio.to_thread(shutil.rmtree, checkout, True)
        await self.git.checkout(plan.app_id, plan.git_url, plan.commit_hash, checkout, self.report.log)
        _check_inside(checkout, plan.root_directory, "rootDirectory", want_dir=True)
        _check_inside(checkout / plan.root_directory, plan.dockerfile_path, "dockerfilePath", want_dir=False)

    async def build(self, request: BuildRequest) -> str:
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()

        def on_line(line: str) -> None:
            loop.call_soon_threadsafe(lines.put_nowait, line)

        build = asyncio.ensure_future(asyncio.to_thread(self.runtime.build, request, on_line))
        # Lines are queued from the build thread before its result, so the sentinel comes last.
        build.add_done_callback(lambda _: lines.put_nowait(None))
        try:
            while (line := await lines.get()) is not None:
                await self.report.log(line)
        finally:
            if not build.done():
                build.cancel()
        await build
        return request.tag

    async def use_template_image(self, plan: DeployPlan) -> str:
        await self.report.log(f"Using image {plan.template_image}")
        if not await asyncio.to_thread(self.runtime.image_id, plan.template_image):
            raise BuildFailed(
                f"image {plan.template_image} is not on this machine; load it, or set "
                "MIST_TEMPLATE_IMAGES to an image that is"
            )
        for name in plan.volumes:
            await asyncio.to_thread(self.runtime.ensure_volume, name, plan.labels)
            await self.report.log(f"Volume {name} is ready")
        return plan.template_image

    async def stop_old(self, plan: DeployPlan) -> None:
        old = await asyncio.to_thread(self.runtime.app_containers, plan.app_id)
        if not old:
            await self.report.log("No previous container")
        for container in old:
            await self.report.log(f"Stopping container {container.name} ({container.id[:12]})")
            await asyncio.to_thread(self.runtime.remove, container.id)

    async def start(self, plan: DeployPlan, image: str) -> ContainerState:
        request = container_request(plan, image)
        state = await asyncio.to_thread(self.runtime.run, request)
        await self.report.log(f"Started container {state.name} ({state.id[:12]})")
        if state.status != "running":
            for line in await asyncio.to_thread(self.runtime.tail, state.id):
                await self.report.log(line)
            raise RuntimeEngineError(
                f"the new container {state.status} with exit code {state.exit_code} right after starting"
            )
        return state


def _check_inside(root: Path, relative: str, field: str, want_dir: bool) -> None:
    """The path exists in the checkout and, symlinks followed, stays inside `root`."""
    base = root.resolve()
    target = (root / relative).resolve()
    if target != base and base not in target.parents:
        raise BuildFailed(f"{field} '{relative}' points outside the repository")
    if not (target.is_dir() if want_dir else target.is_file()):
        kind = "directory" if want_dir else "file"
        raise BuildFailed(f"{field} '{relative or '.'}': no such {kind} in the commit")
