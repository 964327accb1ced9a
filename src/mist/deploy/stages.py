"""The contract's stages: the status each implies, its fixed progress and the message users see."""

from __future__ import annotations

from dataclasses import dataclass

PENDING, BUILDING, DEPLOYING, SUCCESS, FAILED, STOPPED, ROLLED_BACK = (
    "pending", "building", "deploying", "success", "failed", "stopped", "rolled_back",
)
RUNNING = (BUILDING, DEPLOYING)
FINAL = (SUCCESS, FAILED, STOPPED, ROLLED_BACK)


@dataclass(frozen=True)
class Stage:
    name: str
    status: str
    progress: int
    message: str


CLONING_REPO = Stage("cloning_repo", BUILDING, 25, "Cloning repository...")
BUILDING_IMAGE = Stage("building_image", BUILDING, 50, "Building Docker image...")
STOPPING_OLD = Stage("stopping_old", DEPLOYING, 70, "Stopping previous container...")
STARTING_NEW = Stage("starting_new", DEPLOYING, 85, "Starting new container...")
COMPLETED = Stage("completed", SUCCESS, 100, "Deployment completed successfully")
