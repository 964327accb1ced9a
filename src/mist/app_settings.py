"""The settings an app's container runs with, each with where it came from.

An app's own value wins; when it sets none, Mist's global MIST_* setting applies, else Mist's
default. This module is the one place that order is written down: the deploy plan, the container
controls (a restart re-applies the policy) and `mist status` all ask `resolve`, so what the report
says is what a deployment does.

Sources: `app` (the app's own field), `global` (a MIST_* setting given to this server),
`default` (Mist's built-in value) and `app type` (a database app always deploys with `recreate`:
two containers on one data volume at once would corrupt it).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Generic, TypeVar

from mist.config import DEFAULT as SETTING_DEFAULT
from mist.config import Settings
from mist.db.models import App
from mist.deploy.health import HealthCheck

APP, GLOBAL, DEFAULT, APP_TYPE = "app", "global", "default", "app type"
DEFAULT_STRATEGY = "rolling"
DEFAULT_HEALTH = HealthCheck()

T = TypeVar("T")


@dataclass(frozen=True)
class Sourced(Generic[T]):
    value: T
    source: str


@dataclass(frozen=True)
class AppSettings:
    restart_policy: Sourced[str]
    cpu_limit: Sourced[float | None]
    memory_limit: Sourced[int | None]
    update_strategy: Sourced[str]
    healthcheck_path: Sourced[str]
    healthcheck_interval: Sourced[float]
    healthcheck_timeout: Sourced[float]
    healthcheck_retries: Sourced[int]
    healthcheck_start_period: Sourced[float]
    # The longest the health stage of a deployment may take, whatever the probes above allow.
    health_stage_timeout: Sourced[float]

    @property
    def health(self) -> HealthCheck:
        return HealthCheck(
            path=self.healthcheck_path.value, interval=self.healthcheck_interval.value,
            timeout=self.healthcheck_timeout.value, retries=self.healthcheck_retries.value,
            start_period=self.healthcheck_start_period.value,
        )

    def rows(self) -> list[dict[str, object]]:
        """One {key, value, source} per setting, keyed by the app's API field names (camelCase),
        so the report tells which field to change."""
        return [
            {"key": _camel(f.name), "value": getattr(self, f.name).value, "source": getattr(self, f.name).source}
            for f in fields(self)
        ]


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.title() for word in rest)


def _global(settings: Settings, name: str) -> str:
    return DEFAULT if settings.source(name) == SETTING_DEFAULT else GLOBAL


def _own(value: T, default: T) -> Sourced[T]:
    # Health columns are always stored (an app is created with Mist's defaults), so a value equal
    # to the default reads as the default: nobody chose otherwise.
    return Sourced(value, DEFAULT if value == default else APP)


def _limit(value: T) -> Sourced[T]:
    return Sourced(value, APP if value else DEFAULT)  # unset (None) means no limit


def resolve(app: App, settings: Settings) -> AppSettings:
    if app.restart_policy:
        policy = Sourced(app.restart_policy, APP)
    else:
        policy = Sourced(settings.restart_policy, _global(settings, "restart_policy"))
    if app.app_type == "database":
        strategy = Sourced("recreate", APP_TYPE)
    else:
        strategy = _own(app.update_strategy or DEFAULT_STRATEGY, DEFAULT_STRATEGY)
    return AppSettings(
        restart_policy=policy,
        cpu_limit=_limit(app.cpu_limit),
        memory_limit=_limit(app.memory_limit),
        update_strategy=strategy,
        healthcheck_path=_own(app.healthcheck_path or "", DEFAULT_HEALTH.path),
        healthcheck_interval=_own(app.healthcheck_interval, DEFAULT_HEALTH.interval),
        healthcheck_timeout=_own(app.healthcheck_timeout, DEFAULT_HEALTH.timeout),
        healthcheck_retries=_own(app.healthcheck_retries, DEFAULT_HEALTH.retries),
        healthcheck_start_period=_own(app.healthcheck_start_period, DEFAULT_HEALTH.start_period),
        health_stage_timeout=Sourced(settings.health_timeout_seconds, _global(settings, "health_timeout_seconds")),
    )

