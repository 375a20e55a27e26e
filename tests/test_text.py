"""U+0000 is replaced in every string of a parsed JSON document, keys included, and nothing else changes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from conduit.connectors.base import load_webhook_json
from conduit.text import NUL, REPLACEMENT, without_nul

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=30,
)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _swap(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT)
    if isinstance(value, dict):
        return {_swap(k): _swap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_swap(v) for v in value]
    return value


@given(_JSON)
def test_no_nul_survives_and_the_rest_is_kept(document: Any) -> None:
    cleaned = without_nul(document)
    assert not any(NUL in s for s in _strings(cleaned))
    assert cleaned == _swap(document)


def test_nesting_deeper_than_the_recursion_limit() -> None:
    document: Any = "a\x00"
    for _ in range(5000):
        document = [document]
    cleaned = without_nul(document)
    for _ in range(5000):
        cleaned = cleaned[0]
    assert cleaned == "a" + REPLACEMENT


def test_a_tracker_webhook_body_loses_its_nul_characters() -> None:
    body = json.dumps({"issue": {"title": "crash\x00 in parser", "labels": ["x\x00"]}}).encode()
    assert load_webhook_json(body) == {
        "issue": {"title": f"crash{REPLACEMENT} in parser", "labels": [f"x{REPLACEMENT}"]}
    }
