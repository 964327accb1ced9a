"""The contract's stages: the status each implies, its fixed progress and the message users see.

The stage names are the contract's; their order depends on the update strategy:
- recreate: cloning_repo → building_image → stopping_old → starting_new → completed
- rolling (zero downtime): cloning_repo → building_image → starting_new (the new container starts
  beside the old one and must pass its health check) → stopping_old (traffic switches to the new
  container, the old one drains and stops) → completed
Progress only grows in either order.
"""

from __future__ import annotations

from dataclasses import dataclass

PENDING, BUILDING, DEPLOYING, SUCCESS, FAILED, STOPPED, ROLLED_BACK = (
    "pending", "building", "deploying", "success", "failed", "stopped", "rolled_back",
)
# The status sets, stated here only (the claim's SQL in store.py spells RUNNING out).
RUNNING = (BUILDING, DEPLOYING)  # claimed by a worker, which holds its lease
FINAL = (SUCCESS, FAILED, STOPPED, ROLLED_BACK)
SUCCEEDED = (SUCCESS, ROLLED_BACK)  # ran to the end: its image and snapshot can be rolled back to


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

ROLLING_STARTING_NEW = Stage("starting_new", DEPLOYING, 70, "Starting new container beside the current one...")
ROLLING_STOPPING_OLD = Stage(
    "stopping_old", DEPLOYING, 85, "Switching traffic to the new container, stopping the previous one..."
)
