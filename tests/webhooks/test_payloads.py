from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator

import conduit
from conduit.db import models
from conduit.events import resources, schemas
from conduit.events.catalog import EVENT_TYPES
from conduit.webhooks import payloads

EXPECTED = {
    "issue.created",
    "issue.resolved",
    "issue.unresolved",
    "issue.ignored",
    "issue.assigned",
    "event.created",
    "comment.created",
    "installation.created",
    "installation.deleted",
    "issue.linked",
    "issue.unlinked",
    "external_issue.updated",
    "tracker_installation.failed",
    "tracker_installation.removed",
    "installation.failed",  # deprecated aliases, kept for one version
    "installation.removed",
    "endpoint.failing",
    "endpoint.disabled",
}
WHEN = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)
EVENT_NAME = re.compile(
    r"^(issue|event|comment|installation|tracker_installation|external_issue|endpoint)\.[a-z_]+$"
)


def validator(schema: dict[str, object]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_the_catalog_has_every_event_type() -> None:
    assert set(EVENT_TYPES) >= EXPECTED
    for name, kind in EVENT_TYPES.items():
        assert kind.name == name
        assert kind.version >= 1
        assert kind.description.strip()


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_each_example_matches_its_schema(name: str) -> None:
    kind = EVENT_TYPES[name]
    schema = kind.schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{name}/v{kind.version}.json")
    errors = [e.message for e in validator(schema).iter_errors(kind.example)]
    assert errors == []


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_each_schema_rejects_a_mangled_example(name: str) -> None:
    kind = EVENT_TYPES[name]
    v = validator(kind.schema)
    assert not v.is_valid({})
    assert not v.is_valid({**kind.example, "blob": {"everything": "inlined"}})


def _emitted_names() -> set[str]:
    """Event names the rest of the package emits: string arguments to `emit` and event-shaped string
    constants in the modules that import it (tables such as STATUS_EVENTS)."""
    found: set[str] = set()
    root = Path(conduit.__file__).parent
    for path in root.rglob("*.py"):
        source = path.read_text()
        if "conduit.events.emit import emit" not in source:
            continue
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and EVENT_NAME.match(node.value)
            ):
                found.add(node.value)
    return found


def test_every_emitted_name_is_in_the_catalog() -> None:
    emitted = _emitted_names()
    assert {"issue.created", "event.created", "issue.resolved"} <= emitted  # the scan finds real emitters
    assert emitted - set(EVENT_TYPES) == set()


def test_envelope_shape_and_body() -> None:
    kind = EVENT_TYPES["issue.resolved"]
    actor = {"type": "api_token", "id": "QXBpVG9rZW46MQ"}
    env = payloads.envelope("issue.resolved", kind.example, timestamp=WHEN, actor=actor)
    assert env == {
        "type": "issue.resolved",
        "version": kind.version,
        "timestamp": "2026-03-02T10:15:00+00:00",
        "data": kind.example,
        "actor": actor,
    }
    body = payloads.encode_body(env)
    assert orjson.loads(body) == env
    assert payloads.encode_body(dict(reversed(env.items()))) == body  # stable bytes for the same content


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_envelopes_validate_against_the_envelope_schema(name: str) -> None:
    env = payloads.envelope(name, EVENT_TYPES[name].example, timestamp=WHEN)
    schema = {
        "$schema": schemas.DIALECT,
        **schemas.obj(
            {
                "type": {"const": name},
                "version": {"type": "integer"},
                "timestamp": schemas.TIME,
                "data": EVENT_TYPES[name].data,
                "actor": schemas.ACTOR,
            }
        ),
    }
    assert [e.message for e in validator(schema).iter_errors(env)] == []


def test_actors_the_code_sends_fit_the_actor_schema() -> None:
    from conduit.ingest.store import REGRESSION_ACTOR

    v = validator({"$schema": schemas.DIALECT, **schemas.ACTOR})
    for actor in (REGRESSION_ACTOR, payloads.SYSTEM_ACTOR, {"type": "api_token", "id": "QXBpVG9rZW46MQ"}):
        assert v.is_valid(actor), actor


def test_envelope_refuses_bad_input() -> None:
    example = EVENT_TYPES["issue.created"].example
    with pytest.raises(ValueError, match=r"unknown event type 'issue\.exploded'"):
        payloads.envelope("issue.exploded", example, timestamp=WHEN)
    with pytest.raises(ValueError, match="lacks issue"):
        payloads.envelope("issue.created", {}, timestamp=WHEN)
    with pytest.raises(ValueError, match="unexpected key"):
        payloads.envelope("issue.created", {**example, "project": {}}, timestamp=WHEN)
    with pytest.raises(ValueError, match="time zone"):
        payloads.envelope("issue.created", example, timestamp=datetime(2026, 1, 1))


def test_resources_built_from_rows_match_their_schemas() -> None:
    issue = models.Issue(
        id=42,
        organization_id=1,
        project_id=7,
        fingerprint="f" * 64,
        title="KeyError: 'sku'",
        culprit="shop.cart in add",
        level="error",
        status=models.IssueStatus.RESOLVED,
        assignee_id=4,
        first_seen=WHEN,
        last_seen=WHEN,
        times_seen=3,
        resolved_at=WHEN,
    )
    event = models.Event(
        id=1001,
        organization_id=1,
        project_id=7,
        issue_id=42,
        event_id="a" * 32,
        timestamp=WHEN,
        received_at=WHEN,
        platform="python",
        level="error",
        message="",
        exception_type="KeyError",
        exception_value="'sku'",
        release=None,
        environment="production",
        tags={"server_name": "web-1"},
        data={"frames": ["never", "sent"]},
    )
    issue_data = resources.issue_resource(issue)
    event_data = resources.event_resource(event)
    assert issue_data["status"] == "resolved"
    assert issue_data["assignee_id"] is not None and issue_data["assignee_id"] != 4
    assert "data" not in event_data and "frames" not in orjson.dumps(event_data).decode()
    for name, data in (("issue.resolved", {"issue": issue_data}), ("event.created", {"event": event_data})):
        assert [e.message for e in validator(EVENT_TYPES[name].schema).iter_errors(data)] == []


def test_message_ids_are_stable_per_event_and_endpoint() -> None:
    a = payloads.message_id("outbox:1", "endpoint:1")
    assert a == payloads.message_id("outbox:1", "endpoint:1")
    assert a.startswith("msg_")
    assert (
        len({a, payloads.message_id("outbox:1", "endpoint:2"), payloads.message_id("outbox:2", "endpoint:1")})
        == 3
    )
