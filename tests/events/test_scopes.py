"""Who may receive each event type: every catalog type is mapped on purpose, unknown ones need admin."""

from __future__ import annotations

import pytest

from conduit.auth.tokens import ALL_SCOPES
from conduit.events.catalog import EVENT_TYPES, canonical
from conduit.events.scopes import _BY_TYPE, ADMIN, LIFECYCLE, required_scope


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_every_catalog_type_has_a_deliberate_scope(name: str) -> None:
    current = canonical(name)
    assert current in _BY_TYPE or current in LIFECYCLE, f"{name} has no scope: add it to events/scopes.py"
    scope = required_scope(name)
    assert scope is None or scope in ALL_SCOPES


def test_a_deprecated_name_needs_what_its_replacement_needs() -> None:
    assert required_scope("installation.removed") == required_scope("tracker_installation.removed")
    assert required_scope("installation.removed") == "installation:read"
    assert required_scope("installation.failed") == "installation:read"


def test_an_unmapped_type_is_withheld_from_everyone_but_admin() -> None:
    assert required_scope("something.new") == ADMIN
    assert required_scope("issue.something_new") == ADMIN
