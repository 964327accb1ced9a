"""Request bodies. Strict: a wrong type is an error, not a guess; unknown fields are refused."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from mist.api.refs import MAX_ID, Ref

Id = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
# Ids of rows the caller must reach: checked before the rest of a malformed request (see api/refs.py).
AppRef = Annotated[Id, Ref("application")]
ProjectRef = Annotated[Id, Ref("project")]
DeploymentRef = Annotated[Id, Ref("deployment")]
EnvVarRef = Annotated[Id, Ref("env var")]
VolumeRef = Annotated[Id, Ref("volume")]
DomainRef = Annotated[Id, Ref("domain")]
BackupRef = Annotated[Id, Ref("backup")]
RestoreRef = Annotated[Id, Ref("restore")]
AppIdQuery = Annotated[int, Query(ge=1, le=MAX_ID), Ref("application")]  # ?appId= of GET routes
Port = Annotated[int, Field(strict=True, ge=1, le=65535)]
Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                            pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254,
                                         pattern=r"^[^@\s]+@[^@\s]+$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=1024)]
Text = Annotated[str, StringConstraints(max_length=2000)]


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text cannot hold a NUL character; refusing it on every database keeps them alike.
        if _has_nul(value):
            raise ValueError("must not contain a NUL character")
        return value


class SignupIn(Body):
    username: Username
    email: Email
    password: Password


class LoginIn(Body):
    email: Annotated[str, StringConstraints(max_length=254)]
    password: Annotated[str, StringConstraints(max_length=1024)]


class UserCreateIn(SignupIn):
    role: Literal["admin", "user"] = "user"


class UserUpdateIn(Body):
    id: Id
    role: Literal["admin", "user"] | None = None
    disabled: bool | None = None


class PasswordChangeIn(Body):
    current: Annotated[str, StringConstraints(max_length=1024)]
    new: Password


class ProjectCreateIn(Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    description: Text = ""


class MembersIn(Body):
    userIds: Annotated[list[Id], Field(max_length=1000)]


class EnvVarIn(Body):
    key: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    value: Annotated[str, StringConstraints(max_length=65536)] | None = None
    secret: bool = False
    buildTime: bool = False
    runtime: bool = True


# Either a list with flags, or the plain object {KEY: value} of runtime variables.
EnvVars = Annotated[list[EnvVarIn], Field(max_length=500)] | dict[
    Annotated[str, StringConstraints(min_length=1, max_length=255)],
    Annotated[str, StringConstraints(max_length=65536)],
]

RepoUrl = Annotated[str, StringConstraints(max_length=2048)]
RelPath = Annotated[str, StringConstraints(max_length=1024)]
Branch = Annotated[str, StringConstraints(max_length=255)]
Builder = Annotated[str, StringConstraints(max_length=16)]  # one of mist.stacks.BUILDERS (checked by mist.apps)
Command = Annotated[str, StringConstraints(max_length=4096)]  # a shell command line


GitToken = Annotated[str, StringConstraints(max_length=4096)]
CpuLimit = Annotated[float, Field(strict=True, gt=0, le=1024)]
MemoryLimit = Annotated[int, Field(strict=True, ge=6, le=4 * 1024 * 1024)]  # MiB; the engine needs 6 at least
RestartPolicy = Literal["no", "always", "unless-stopped", "on-failure"]


# The default of a field that may be left out but not sent as null: None marks "not sent", and the
# field's type, without None, makes validation refuse an explicit null. Typed Any for that reason.
NOT_SENT: Any = None


class RuntimeFieldsIn(Body):
    """When and how an app moves to a new version; unset fields keep their defaults or values.
    Limits and the restart policy are cleared with null; any other field refuses null (NOT_SENT,
    which is None, only marks "not sent")."""

    deploymentStrategy: Literal["auto", "manual"] = NOT_SENT
    updateStrategy: Literal["rolling", "recreate"] = NOT_SENT
    healthcheckPath: Annotated[str, StringConstraints(max_length=1024)] = NOT_SENT
    healthcheckInterval: Annotated[int, Field(strict=True, ge=1, le=300)] = NOT_SENT
    healthcheckTimeout: Annotated[int, Field(strict=True, ge=1, le=300)] = NOT_SENT
    healthcheckRetries: Annotated[int, Field(strict=True, ge=1, le=1000)] = NOT_SENT
    healthcheckStartPeriod: Annotated[int, Field(strict=True, ge=0, le=3600)] = NOT_SENT
    cpuLimit: CpuLimit | None = None
    memoryLimit: MemoryLimit | None = None
    restartPolicy: RestartPolicy | None = None
    replicas: Annotated[int, Field(strict=True)] = NOT_SENT  # 1..MAX_REPLICAS, checked by mist.apps
    # Write-only: for http(s) remotes, given to git by an askpass program. "" removes it.
    gitToken: GitToken = NOT_SENT


class AppCreateIn(RuntimeFieldsIn):
    name: Annotated[str, StringConstraints(min_length=1, max_length=63)]
    projectId: ProjectRef
    appType: Literal["web", "service", "database"] = "web"
    gitRepository: RepoUrl = ""
    gitBranch: Branch = "main"
    dockerfilePath: RelPath = "Dockerfile"
    rootDirectory: RelPath = ""
    port: Port | None = None
    templateName: Annotated[str, StringConstraints(max_length=32)] = ""
    builder: Builder = "auto"
    buildCommand: Command = ""
    startCommand: Command = ""
    releaseCommand: Command = ""
    envVars: EnvVars = []


class AppUpdateIn(RuntimeFieldsIn):
    """Only the fields sent change. `port` null removes it (a database goes back to its
    template's port; a web app needs one); other fields refuse null."""

    appId: AppRef
    name: Annotated[str, StringConstraints(max_length=63)] = NOT_SENT
    appType: Literal["web", "service", "database"] = NOT_SENT
    gitRepository: RepoUrl = NOT_SENT
    gitBranch: Branch = NOT_SENT
    dockerfilePath: RelPath = NOT_SENT
    rootDirectory: RelPath = NOT_SENT
    port: Port | None = None
    templateName: Annotated[str, StringConstraints(max_length=32)] = NOT_SENT
    builder: Builder = NOT_SENT
    buildCommand: Command = NOT_SENT
    startCommand: Command = NOT_SENT
    releaseCommand: Command = NOT_SENT
    envVars: EnvVars = NOT_SENT
    # Database apps: "" clears the schedule; null puts backups back in MIST_BACKUP_DIR.
    backupSchedule: Annotated[str, StringConstraints(max_length=100)] = NOT_SENT
    backupRetention: Annotated[int, Field(ge=1, le=1000)] = NOT_SENT
    backupDestinationId: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None


class DeploymentIdIn(Body):
    deploymentId: DeploymentRef


class DomainIn(Body):
    appId: AppRef
    domain: Annotated[str, StringConstraints(min_length=1, max_length=253)]


class TokenIn(Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    scope: Literal["read", "deploy", "admin"]
    expiresAt: Annotated[datetime, Field(strict=False)] | None = None


class WebhookSettingsIn(Body):
    appId: AppRef
    rotate: bool = False


class IdIn(Body):
    id: Id


class EnvVarIdIn(Body):
    id: EnvVarRef


class DomainIdIn(Body):
    id: DomainRef


class AppIdIn(Body):
    appId: AppRef


class ProjectIdIn(Body):
    projectId: ProjectRef


class AppDeleteIn(Body):
    appId: AppRef
    deleteVolumes: bool = False  # also delete the app's Docker volumes, with their data
    deleteBackups: bool = False  # also delete its backups (kept by default, restorable into another app)


class DeployKeyIn(Body):
    appId: AppRef
    rotate: bool = False
    forgetHostKeys: bool = False  # after a git server's host key changed on purpose


EnvKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]
EnvValue = Annotated[str, StringConstraints(max_length=65536)]


class EnvCreateIn(Body):
    appId: AppRef
    key: EnvKey
    value: EnvValue
    secret: bool = False
    buildTime: bool = False
    runtime: bool = True


class EnvUpdateIn(Body):
    id: EnvVarRef
    key: EnvKey | None = None
    value: EnvValue | None = None
    secret: bool | None = None
    buildTime: bool | None = None
    runtime: bool | None = None


class VolumeCreateIn(Body):
    appId: AppRef
    name: Annotated[str, StringConstraints(min_length=1, max_length=63)]
    containerPath: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    hostPath: Annotated[str, StringConstraints(max_length=1024)] = ""
    readOnly: bool = False


class VolumeDeleteIn(Body):
    id: VolumeRef
    removeData: bool = False


# One line: it becomes the subject of e-mails and the title of chat messages.
NotificationName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                                                    pattern=r"^[^\x00-\x1f\x7f]+$")]
NotificationTarget = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
NotificationEvents = Annotated[list[Annotated[str, StringConstraints(max_length=64)]], Field(max_length=32)]


class NotificationCreateIn(Body):
    name: NotificationName
    kind: Literal["webhook", "slack", "discord", "email"]
    target: NotificationTarget
    events: NotificationEvents
    enabled: bool = True


class NotificationUpdateIn(Body):
    """Unset fields keep their values; none of them may be sent as null."""

    id: Id
    name: NotificationName = NOT_SENT
    target: NotificationTarget = NOT_SENT
    events: NotificationEvents = NOT_SENT
    enabled: bool = NOT_SENT
    rotateSecret: bool = False


class BackupIdIn(Body):
    id: BackupRef


class RestoreIn(Body):
    backupId: BackupRef
    targetAppId: AppRef | None = None  # another database app of the same engine; default: the backup's app


class RestoreIdIn(Body):
    id: RestoreRef


class DestinationCreateIn(Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    endpoint: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    bucket: Annotated[str, StringConstraints(min_length=3, max_length=63)]
    region: Annotated[str, StringConstraints(max_length=64)] = ""
    prefix: Annotated[str, StringConstraints(max_length=200)] = ""
    accessKey: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    secretKey: Annotated[str, StringConstraints(min_length=1, max_length=200)]
