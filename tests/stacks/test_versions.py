"""Picking one version from a declared range, at the precision images are tagged with."""

from __future__ import annotations

import pytest

from mist.stacks.versions import NODE_PREFERENCE, PYTHON_PREFERENCE, pick


@pytest.mark.parametrize(("spec", "version"), [
    (">=3.11", (3, 12)), (">=3.13", (3, 13)), ("<3.12", (3, 11)), (">=3.8,<3.11", (3, 10)), ("==3.10.*", (3, 10)),
    ("~=3.11", (3, 12)), ("~=3.11.2", (3, 11)), ("^3.11", (3, 12)), ("~3.10", (3, 10)), ("3.9", (3, 9)),
    (">=3.11.2", (3, 12)), ("!=3.12,>=3.11", (3, 13)), (">3.12", (3, 13)), ("<=3.11", (3, 11)), ("*", (3, 12)),
    (">=4", None), ("python3", None), ("==3.7", (3, 7)),
])
def test_python(spec: str, version: tuple[int, ...] | None) -> None:
    assert pick(spec, PYTHON_PREFERENCE) == version


@pytest.mark.parametrize(("spec", "version"), [
    (">=18", (22,)), ("^20.11", (20,)), ("20.x", (20,)), ("18 || 20", (20,)), (">= 16 < 21", (20,)), ("14", (14,)),
    ("18 - 20", (20,)), ("*", (22,)), ("lts/*", None), (">=18.0.0 <19.0.0", (18,)), ("~20.1.0", (20,)),
    ("<22", (20,)), ("24.1.0", (24,)),
])
def test_node(spec: str, version: tuple[int, ...] | None) -> None:
    assert pick(spec, NODE_PREFERENCE) == version
