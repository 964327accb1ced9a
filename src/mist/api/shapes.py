"""The JSON the API answers with, made from what the services return: field names, redaction and
what a viewer may see are the API's business, not the storage modules'."""

from __future__ import annotations

import json

from mist import references
from mist.auth.users import is_admin
from mist.backups.service import Status as BackupStatus
from mist.db.models import (
    ApiToken,
    App,
    AuditLog,
    Backup,
    BackupDestination,
    Deployment,
    Domain,
    EnvVar,
    NotificationAttempt,
    NotificationDelivery,
    Project,
    Restore,
    User,
    Volume,
    iso,
)
from mist.deploy.store import duration_seconds
from mist.dockerfiles import Shown
from mist.git import redact_url
from mist.notifications.service import View
from mist.runtime.swarm import NodeState


def env_var(e: EnvVar) -> dict:
    return {
        "id": e.id,
        "appId": e.app_id,
        "key": e.key,
        "value": None if e.is_secret else e.value,
        "secret": e.is_secret,
        "buildTime": e.build_time,
        "runtime": e.runtime,
    }


def connection(app: App, viewer: User | None) -> dict | None:
    """How the project's other apps reach a database app; the password only for owners and admins."""
    details = references.connection_of(app)
    if details is None:
        return None
    shown = viewer is not None and is_admin(viewer)
    return {
        "host": details.host,
        "port": details.port,
        "user": details.user,
        "database": details.database,
        "password": details.password if shown else None,
        "url": details.url if shown else redact_url(details.url),
    }


def app(a: App, viewer: User | None = None) -> dict:
    return {
        "id": a.id,
        "projectId": a.project_id,
        "name": a.name,
        "appType": a.app_type,
        "gitRepository": redact_url(a.git_repository),
        "gitBranch": a.git_branch,
        "dockerfilePath": a.dockerfile_path,
        "rootDirectory": a.root_directory,
        "builder": a.builder,
        "buildCommand": a.build_command,
        "startCommand": a.start_command,
        "releaseCommand": a.release_command,
        "port": a.port,
        "templateName": a.template_name,
        "deploymentStrategy": a.deployment_strategy,
        "updateStrategy": a.update_strategy,
        "healthcheckPath": a.healthcheck_path,
        "healthcheckInterval": a.healthcheck_interval,
        "healthcheckTimeout": a.healthcheck_timeout,
        "healthcheckRetries": a.healthcheck_retries,
        "healthcheckStartPeriod": a.healthcheck_start_period,
        "cpuLimit": a.cpu_limit,
        "memoryLimit": a.memory_limit,
        "restartPolicy": a.restart_policy or None,
        "replicas": a.replicas,
        "hasGitToken": bool(a.git_token),
        "deployKey": a.deploy_key_public or None,
        "connection": connection(a, viewer),
        "envVars": [env_var(e) for e in a.env_vars],
        "backupSchedule": a.backup_schedule,
        "backupRetention": a.backup_retention,
        "backupDestinationId": a.backup_destination_id,
        "createdAt": iso(a.created_at),
        "updatedAt": iso(a.updated_at),
    }


def dockerfile(shown: Shown) -> dict:
    return {
        "appId": shown.app_id,
        "commitHash": shown.commit_hash,
        "builder": shown.recipe.builder,
        "dockerfile": shown.dockerfile,
        "releaseCommand": shown.recipe.release_command,
        "findings": list(shown.recipe.findings),
    }


def project(p: Project) -> dict:
    return {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "ownerId": p.owner_id,
        "memberIds": sorted(m.user_id for m in p.members),
        "createdAt": iso(p.created_at),
        "updatedAt": iso(p.updated_at),
    }


def domain(d: Domain) -> dict:
    return {"id": d.id, "appId": d.app_id, "domain": d.domain, "createdAt": iso(d.created_at)}


def volume(v: Volume) -> dict:
    return {
        "id": v.id,
        "appId": v.app_id,
        "name": v.name,
        "containerPath": v.container_path,
        "hostPath": v.host_path or None,
        "readOnly": v.read_only,
        "createdAt": iso(v.created_at),
    }


def token(row: ApiToken) -> dict:
    return {
        "id": row.id, "name": row.name, "scope": row.scope, "prefix": row.prefix,
        "expiresAt": iso(row.expires_at), "lastUsedAt": iso(row.last_used_at), "createdAt": iso(row.created_at),
    }


def audit_entry(row: AuditLog) -> dict:
    return {
        "id": row.id, "userId": row.user_id, "username": row.username, "action": row.action,
        "target": row.target, "details": json.loads(row.details) if row.details else {},
        "ip": row.ip, "createdAt": iso(row.created_at),
    }


def user(u: User) -> dict:
    return {"id": u.id, "username": u.username, "email": u.email, "role": u.role, "disabled": u.disabled}


def deployment(d: Deployment) -> dict:
    """A deployment exactly as the Deployments API contract spells it (snake_case)."""
    return {
        "id": d.id,
        "app_id": d.app_id,
        "deployment_number": d.deployment_number,
        "commit_hash": d.commit_hash,
        "commit_message": d.commit_message,
        "status": d.status,
        "stage": d.stage,
        "progress": d.progress,
        "duration": duration_seconds(d),
        "is_active": d.is_active,
        "rolled_back_from": d.rolled_back_from,
        "error_message": d.error_message,
        "created_at": iso(d.created_at),
        "updated_at": iso(d.updated_at),
    }


def notification(v: View) -> dict:
    """A notification; its target with secrets masked, and never its webhook secret."""
    return {
        "id": v.row.id, "name": v.row.name, "kind": v.row.kind, "target": v.target, "events": v.events,
        "enabled": v.row.enabled, "createdAt": iso(v.row.created_at), "updatedAt": iso(v.row.updated_at),
        "lastDelivery": {"status": v.last_delivery[0], "at": iso(v.last_delivery[1])} if v.last_delivery else None,
    }


def notification_delivery(d: NotificationDelivery, attempts: list[NotificationAttempt]) -> dict:
    return {
        "id": d.id, "notificationId": d.notification_id, "event": d.event, "status": d.status,
        "attempts": [{"at": iso(a.at), "ok": a.ok, "statusCode": a.status_code, "answer": a.answer}
                     for a in attempts],
        "nextAttemptAt": iso(d.next_attempt_at) if d.status == "pending" else None,
        "createdAt": iso(d.created_at),
    }


def backup(b: Backup) -> dict:
    return {
        "id": b.id,
        "appId": b.app_id,
        "projectId": b.project_id,
        "appName": b.app_name,
        "engine": b.engine,
        "status": b.status,
        "trigger": b.trigger,
        "sizeBytes": b.size_bytes,
        "sha256": b.sha256,
        "destinationId": b.destination_id,
        "location": b.location,
        "verified": b.verified,
        "error": b.error or None,
        "startedAt": iso(b.started_at),
        "finishedAt": iso(b.finished_at),
        "createdAt": iso(b.created_at),
    }


def restore(r: Restore, with_log: bool = False) -> dict:
    data = {
        "id": r.id,
        "backupId": r.backup_id,
        "appId": r.app_id,
        "status": r.status,
        "beforeBackupId": r.before_backup_id,
        "error": r.error or None,
        "startedAt": iso(r.started_at),
        "finishedAt": iso(r.finished_at),
        "createdAt": iso(r.created_at),
    }
    if with_log:
        data["log"] = r.log.splitlines()
    return data


def backup_destination(d: BackupDestination) -> dict:
    return {"id": d.id, "name": d.name, "endpoint": d.endpoint, "bucket": d.bucket, "region": d.region,
            "prefix": d.prefix, "accessKey": d.access_key, "createdAt": iso(d.created_at)}


def backup_status(s: BackupStatus) -> dict:
    return {
        "appId": s.app_id,
        "schedule": s.schedule,
        "retention": s.retention,
        "destinationId": s.destination_id,
        "nextRunAt": iso(s.next_run_at),
        "lastScheduled": backup(s.last_scheduled) if s.last_scheduled is not None else None,
        "missed": s.missed,
        "alert": s.alert,
    }


def node(n: NodeState) -> dict:
    return {"id": n.id, "hostname": n.hostname, "role": n.role, "availability": n.availability, "state": n.state,
            "leader": n.leader, "address": n.address, "engineVersion": n.engine_version, "cpus": n.cpus,
            "memoryBytes": n.memory_bytes, "labels": n.labels, "tasks": n.tasks}
