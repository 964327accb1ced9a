"""Picking one language version from a range a project declares (`>=3.11`, `^20`, `18 || 20`).

Images are tagged by minor (Python) or major (Node) version, so a range is read at that precision:
of the versions it allows, the stack's default is preferred, then newer ones, then older ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

Version = tuple[int, ...]

_CLAUSE = re.compile(r"^(===|==|!=|~=|>=|<=|>|<|\^|~|=)?v?(\d+(?:\.(?:\d+|\*|x|X))*)$")
_OPERATOR_SPACE = re.compile(r"(===|==|!=|~=|>=|<=|>|<|\^|~|=)\s+")
_HYPHEN = re.compile(r"^v?([\d.xX*]+)\s+-\s+v?([\d.xX*]+)$")

PYTHON_PREFERENCE: tuple[Version, ...] = ((3, 12), (3, 13), (3, 14), (3, 11), (3, 10), (3, 9), (3, 8))
NODE_PREFERENCE: tuple[Version, ...] = ((22,), (24,), (20,), (18,), (23,), (21,), (19,), (16,))


def _numbers(text: str) -> list[int]:
    numbers = []
    for part in text.split("."):
        if not part.isdigit():
            break  # a wildcard: what follows is unconstrained
        numbers.append(int(part))
    return numbers


def _matches(candidate: Version, operator: str, text: str) -> bool:
    """Whether the newest release of `candidate` (3.12 → the latest 3.12.x) satisfies one clause."""
    width = len(candidate)
    given = _numbers(text)
    head = tuple(given[:width]) + (0,) * (width - len(given[:width]))
    finer = any(given[width:])  # e.g. <3.11.4 at minor precision
    prefix = min(len(given), width)
    same = candidate[:prefix] == tuple(given[:prefix])
    if operator == ">=":
        return candidate >= head
    if operator == ">":
        return candidate >= head if len(given) > width else candidate > head
    if operator == "<":
        return candidate <= head if finer else candidate < head
    if operator == "<=":
        return candidate <= head
    if operator == "!=":
        return len(given) > width or not same
    if operator == "~=":  # PEP 440: ~=3.11 is >=3.11,==3.*
        kept = max(len(given) - 1, 1)
        return candidate >= head and candidate[: min(kept, width)] == tuple(given[: min(kept, width)])
    if operator == "^":  # Poetry and npm: same major, at least this
        return candidate >= head and candidate[0] == given[0]
    return same  # ==, ===, =, ~ and a bare version: this one (at our precision)


def _alternatives(spec: str) -> list[list[tuple[str, str]]] | None:
    """The spec as alternatives (||) of clauses that all must hold; None when it cannot be read."""
    alternatives = []
    for alternative in spec.split("||"):
        alternative = alternative.strip()
        hyphen = _HYPHEN.match(alternative)
        if hyphen:  # npm: 18 - 20
            alternatives.append([(">=", hyphen.group(1)), ("<=", hyphen.group(2))])
            continue
        clauses = []
        for word in re.split(r"[\s,]+", _OPERATOR_SPACE.sub(r"\1", alternative)):
            if word in ("", "*", "x", "X"):
                continue
            match = _CLAUSE.match(word)
            if not match:
                return None
            clauses.append((match.group(1) or "", match.group(2)))
        alternatives.append(clauses)
    return alternatives


def pick(spec: str, preference: Sequence[Version]) -> Version | None:
    """The preferred version `spec` allows; None if it allows none we know of or cannot be read."""
    alternatives = _alternatives(spec)
    if alternatives is None:
        return None
    width = len(preference[0])
    mentioned = [tuple(_numbers(v)[:width]) for clauses in alternatives for _, v in clauses]
    candidates = [*preference, *(v for v in mentioned if len(v) == width and v not in preference)]
    for candidate in candidates:
        if any(all(_matches(candidate, op, v) for op, v in clauses) for clauses in alternatives):
            return candidate
    return None


def dotted(version: Version) -> str:
    return ".".join(map(str, version))
