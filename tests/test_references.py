"""mist.references: what counts as a reference in an env value."""

from __future__ import annotations

import pytest

from mist.references import found_in


@pytest.mark.parametrize("value, refs", [
    ("${{db.URL}}", [("db", "URL")]),
    ("postgres://${{ db.USER }}:${{db.PASSWORD}}@${{db.HOST}}", [("db", "USER"), ("db", "PASSWORD"), ("db", "HOST")]),
    ("http://${{api-v2.HOST}}:${{api-v2.PORT}}/", [("api-v2", "HOST"), ("api-v2", "PORT")]),
    ("plain value", []),
    ("${db.URL}", []),  # a shell-style variable is left for the app
    ("${{ db }}", []),
    ("$${{db.URL", []),
])
def test_references_are_found_in_env_values(value: str, refs: list[tuple[str, str]]) -> None:
    assert found_in(value) == refs
