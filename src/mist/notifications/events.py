"""Event names and their payloads.

An event's payload names what happened and where, never a secret: env values and credentials are
not read here at all. Texts that come from users (commit messages, errors) are cut, so a payload
stays small whatever it tells of. Other subsystems (backups) add their names to SUBSCRIBABLE and
call `outbox.enqueue` with a payload of the same shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mist.db.models import App, Backup, Deployment, Project, iso, utcnow

DEPLOYMENT_SUCCEEDED = "deployment.succeeded"
DEPLOYMENT_FAILED = "deployment.failed"
DEPLOYMENT_STOPPED = "deployment.stopped"
CONTAINER_CRASHED = "container.crashed"  # written by crashes.py
# Written by mist.backups: a backup's outcome, and a schedule with no success for twice its interval.
BACKUP_SUCCEEDED = "backup.succeeded"
BACKUP_FAILED = "backup.failed"
BACKUP_MISSED = "backup.missed"
TEST = "notification.test"

# What a notification may subscribe to; `notification.test` is only ever sent by the test route.
SUBSCRIBABLE = (DEPLOYMENT_SUCCEEDED, DEPLOYMENT_FAILED, DEPLOYMENT_STOPPED, CONTAINER_CRASHED,
                BACKUP_SUCCEEDED, BACKUP_FAILED, BACKUP_MISSED)

# A deployment's final status, as the event that tells of it.
_DEPLOYMENT_EVENTS = {"success": DEPLOYMENT_SUCCEEDED, "failed": DEPLOYMENT_FAILED, "stopped": DEPLOYMENT_STOPPED}

_MESSAGE_CHARS = 1000
_ERROR_CHARS = 2000


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def deployment_event(status: str) -> str | None:
    """The event a deployment ending with `status` raises; None for one that tells nobody."""
    return _DEPLOYMENT_EVENTS.get(status)


def deployment_payload(session: Session, deployment: Deployment, event: str) -> dict[str, Any]:
    app = session.get_one(App, deployment.app_id)
    project = session.get_one(Project, app.project_id)
    return {
        "event": event,
        "at": iso(deployment.finished_at or utcnow()),
        "project": {"id": project.id, "name": project.name},
        "app": {"id": app.id, "name": app.name},
        "deployment": {
            "id": deployment.id,
            "number": deployment.deployment_number,
            "status": deployment.status,
            "commitHash": deployment.commit_hash,
            "commitMessage": _cut(deployment.commit_message, _MESSAGE_CHARS),
            "error": _cut(deployment.error_message, _ERROR_CHARS) or None,
        },
        "url": None,
    }


def backup_payload(session: Session, backup: Backup, event: str) -> dict[str, Any]:
    """A backup's outcome; its app may be gone since, so the name kept on the backup is told."""
    project = session.get(Project, backup.project_id)
    return {
        "event": event,
        "at": iso(backup.finished_at or utcnow()),
        "project": {"id": backup.project_id, "name": project.name if project else ""},
        "app": {"id": backup.app_id, "name": backup.app_name},
        "backup": {
            "id": backup.id, "status": backup.status, "trigger": backup.trigger, "engine": backup.engine,
            "sizeBytes": backup.size_bytes, "verified": backup.verified,
            "error": _cut(backup.error, _ERROR_CHARS) or None,
        },
        "url": None,
    }


def missed_payload(session: Session, app: App, schedule: str, last_success: datetime | None) -> dict[str, Any]:
    project = session.get_one(Project, app.project_id)
    since = f"since {iso(last_success)}" if last_success else "since the schedule was set"
    return {
        "event": BACKUP_MISSED,
        "at": iso(utcnow()),
        "project": {"id": project.id, "name": project.name},
        "app": {"id": app.id, "name": app.name},
        "backup": {"schedule": schedule, "lastSuccessAt": iso(last_success),
                   "error": f"no successful backup {since}: twice the schedule's interval has passed"},
        "url": None,
    }


def probe_payload(name: str) -> dict[str, Any]:
    return {"event": TEST, "at": iso(utcnow()), "notification": {"name": name},
            "message": f"A test of the notification '{name}' from Mist", "url": None}


def with_link(payload: dict[str, Any], public_url: str) -> dict[str, Any]:
    """The payload with its dashboard link, added when it is sent: the link is where the dashboard
    is then (MIST_PUBLIC_URL), and the rows that write outcomes need not know it."""
    base = public_url.strip().rstrip("/")
    if not base:
        return {**payload, "url": None}
    app, deployment = payload.get("app"), payload.get("deployment")
    if app and deployment:
        return {**payload, "url": f"{base}/#/apps/{app['id']}/deployments/{deployment['id']}"}
    if app:
        return {**payload, "url": f"{base}/#/apps/{app['id']}"}
    return {**payload, "url": f"{base}/"}


def headline(payload: dict[str, Any]) -> str:
    """One line saying what happened, for chat messages and e-mail subjects (a header: any line break
    in a name would be refused there)."""
    return " ".join(_headline(payload).split())


def _headline(payload: dict[str, Any]) -> str:
    event = payload.get("event", "")
    if event == TEST:
        return f"Mist: test notification '{payload['notification']['name']}'"
    app, deployment = payload.get("app") or {}, payload.get("deployment") or {}
    where = f"{(payload.get('project') or {}).get('name', '?')}/{app.get('name', '?')}"
    if event == CONTAINER_CRASHED:
        how = "is in a restart loop" if (payload.get("container") or {}).get("restartLoop") else "crashed"
        return f"Mist: {where} container {how}"
    if event in (BACKUP_SUCCEEDED, BACKUP_FAILED, BACKUP_MISSED):
        backup = payload.get("backup") or {}
        outcome = {BACKUP_SUCCEEDED: f"backup #{backup.get('id')} succeeded (verified)",
                   BACKUP_FAILED: f"backup #{backup.get('id')} failed",
                   BACKUP_MISSED: "scheduled backup missed"}[event]
        return f"Mist: {where} {outcome}"
    if deployment:
        outcome = {DEPLOYMENT_SUCCEEDED: "succeeded", DEPLOYMENT_FAILED: "failed",
                   DEPLOYMENT_STOPPED: "was stopped"}.get(event, event)
        return f"Mist: {where} deployment #{deployment.get('number')} {outcome}"
    return f"Mist: {where}: {event}"


def description(payload: dict[str, Any]) -> str:
    """The body of a chat message or e-mail: what a person needs to know, one fact a line."""
    if payload.get("event") == TEST:
        lines = [payload.get("message", "")]
    elif payload.get("event") == CONTAINER_CRASHED:
        container, deployment = payload.get("container") or {}, payload.get("deployment") or {}
        lines = [
            f"Project: {(payload.get('project') or {}).get('name', '')}",
            f"App: {(payload.get('app') or {}).get('name', '')}",
            f"Container: {container.get('name')} exited with code {container.get('exitCode')}"
            f" (restarts: {container.get('restarts')})",
            f"Deployment: #{deployment.get('number')}",
        ]
    elif payload.get("backup"):
        backup = payload["backup"]
        lines = [
            f"Project: {(payload.get('project') or {}).get('name', '')}",
            f"App: {(payload.get('app') or {}).get('name', '')}",
        ]
        if "id" in backup:
            lines.append(f"Backup: #{backup['id']} ({backup.get('trigger')}, {backup.get('status')}, "
                         f"{backup.get('sizeBytes')} bytes, verified: {'yes' if backup.get('verified') else 'no'})")
        else:
            lines.append(f"Schedule: {backup.get('schedule')}")
        if backup.get("error"):
            lines.append(f"Error: {backup['error']}")
    else:
        deployment = payload.get("deployment") or {}
        lines = [
            f"Project: {(payload.get('project') or {}).get('name', '')}",
            f"App: {(payload.get('app') or {}).get('name', '')}",
            f"Deployment: #{deployment.get('number')} ({deployment.get('status')})",
            f"Commit: {str(deployment.get('commitHash') or '')[:12]} {deployment.get('commitMessage') or ''}".rstrip(),
        ]
        if deployment.get("error"):
            lines.append(f"Error: {deployment['error']}")
    if payload.get("url"):
        lines.append(f"Link: {payload['url']}")
    lines.append(f"At: {payload.get('at')}")
    return "\n".join(lines)
