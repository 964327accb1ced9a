"""Which app APP means: an id, or a name unique across projects."""

from __future__ import annotations

import pytest

from mist.client.errors import ClientError
from mist.client.resolve import resolve_app

SHOP = {"id": 1, "name": "shop"}
BLOG = {"id": 2, "name": "blog"}
PAIRS = [
    (SHOP, {"id": 1, "name": "web"}),
    (SHOP, {"id": 2, "name": "worker"}),
    (BLOG, {"id": 5, "name": "web"}),
    (BLOG, {"id": 7, "name": "42"}),
    (BLOG, {"id": 9, "name": "API"}),
]


def test_a_unique_name_resolves() -> None:
    assert resolve_app(PAIRS, "worker") == (SHOP, {"id": 2, "name": "worker"})


def test_a_number_is_an_id_first_then_a_name() -> None:
    assert resolve_app(PAIRS, "5")[1]["id"] == 5
    assert resolve_app(PAIRS, "42")[1]["id"] == 7  # no app has id 42; one is named "42"


def test_an_ambiguous_name_lists_every_candidate_with_its_id() -> None:
    with pytest.raises(ClientError) as err:
        resolve_app(PAIRS, "web")
    assert "ambiguous" in err.value.message
    assert "web (id 1, project shop)" in err.value.message
    assert "web (id 5, project blog)" in err.value.message


def test_unknown_names_and_ids_are_errors() -> None:
    with pytest.raises(ClientError, match="no app named 'nope'"):
        resolve_app(PAIRS, "nope")
    with pytest.raises(ClientError, match="no app with id or name '99'"):
        resolve_app(PAIRS, "99")
    with pytest.raises(ClientError, match="did you mean API \\(id 9"):
        resolve_app(PAIRS, "api")
    with pytest.raises(ClientError, match="no apps"):
        resolve_app([], "web")
