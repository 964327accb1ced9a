"""Which project PROJECT means: an id, or a name only one project has (project names need not be unique)."""

from __future__ import annotations

import pytest

from mist.client.errors import ClientError
from mist.client.resolve import resolve_project

PROJECTS = [
    {"id": 1, "name": "shop"},
    {"id": 2, "name": "blog"},
    {"id": 3, "name": "blog"},
    {"id": 4, "name": "7"},
    {"id": 5, "name": "Docs"},
]


def test_a_unique_name_or_an_id_resolves() -> None:
    assert resolve_project(PROJECTS, " shop ")["id"] == 1
    assert resolve_project(PROJECTS, "3")["id"] == 3
    assert resolve_project(PROJECTS, "7")["id"] == 4  # no project has id 7; one is named "7"


def test_a_name_two_projects_share_is_refused_with_their_ids() -> None:
    with pytest.raises(ClientError, match=r"the project name 'blog' is ambiguous: projects 2, 3 have it; "
                                          r"give the project's id instead"):
        resolve_project(PROJECTS, "blog")


@pytest.mark.parametrize(("projects", "ref", "message"), [
    (PROJECTS, "nope", "no project named 'nope' (see `mist projects list`)"),
    (PROJECTS, "docs", "no project named 'docs' (did you mean 'Docs' (id 5)?)"),
    (PROJECTS, "99", "no project with id or name '99'"),
    ([], "shop", "no project named 'shop': you see no projects on this server (create one: mist projects create NAME)"),
    (PROJECTS, "  ", "no project given"),
])
def test_unknown_projects_are_errors_saying_what_to_do(projects: list[dict], ref: str, message: str) -> None:
    with pytest.raises(ClientError) as err:
        resolve_project(projects, ref)
    assert message in err.value.message
