"""What every stack's generator is given, and what it gives back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mist.stacks.files import Repo


@dataclass(frozen=True)
class Inputs:
    repo: Repo
    images: Mapping[str, str]
    build_args: tuple[str, ...] = ()
    build_command: str = ""  # the app's buildCommand; "" = the detected build step
    start_command: str = ""  # the app's startCommand, else the Procfile's web:; "" = inferred
    start_source: str = ""  # where start_command came from, for the findings


@dataclass
class Generated:
    """A stack's Dockerfile (without the header Mist puts on every one) and what it found."""

    lines: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
