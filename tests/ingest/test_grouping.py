from datetime import UTC, datetime
from typing import Any

from conduit.ingest.grouping import components, fingerprint
from conduit.ingest.normalize import normalize

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def exc(
    type_: str = "ValueError", value: str = "bad", lines: tuple[int, int] = (10, 20), **kw: Any
) -> dict[str, Any]:
    frames = [
        {"module": "lib.core", "function": "call", "lineno": 1, "in_app": False},
        {"module": "app.main", "function": "run", "lineno": lines[0], "in_app": True},
        {"module": "app.views", "function": "handler", "lineno": lines[1], "in_app": True},
    ]
    return {
        "exception": {"values": [{"type": type_, "value": value, "stacktrace": {"frames": frames}}]},
        **kw,
    }


def fp(payload: dict[str, Any]) -> str:
    return fingerprint(normalize(payload, NOW))


def test_same_exception_same_group_regardless_of_line_numbers_and_message() -> None:
    assert fp(exc(lines=(10, 20))) == fp(exc(lines=(11, 42), value="other text"))
    assert len(fp(exc())) == 64


def test_type_and_in_app_frames_split_groups() -> None:
    assert fp(exc("ValueError")) != fp(exc("TypeError"))
    other = exc()
    other["exception"]["values"][0]["stacktrace"]["frames"][2]["function"] = "other_handler"
    assert fp(exc()) != fp(other)


def test_library_frames_ignored_when_in_app_frames_exist() -> None:
    upgraded = exc()
    upgraded["exception"]["values"][0]["stacktrace"]["frames"][0]["function"] = "call_v2"
    assert fp(exc()) == fp(upgraded)
    assert components(normalize(exc(), NOW)) == [
        "exception",
        "type:ValueError",
        "frame:app.main:run",
        "frame:app.views:handler",
    ]


def test_exception_without_stack_uses_its_value() -> None:
    a = {"exception": {"values": [{"type": "E", "value": "one"}]}}
    b = {"exception": {"values": [{"type": "E", "value": "two"}]}}
    assert fp(a) != fp(b)


def test_message_groups_by_template() -> None:
    a = {"logentry": {"message": "user %s failed", "formatted": "user a failed"}}
    b = {"logentry": {"message": "user %s failed", "formatted": "user b failed"}}
    assert fp(a) == fp(b)
    assert fp({"message": "x"}) != fp({"message": "y"})


def test_explicit_fingerprint_and_default_placeholder() -> None:
    assert fp(exc("A", fingerprint=["db-down"])) == fp(exc("B", fingerprint=["db-down"]))
    assert fp(exc(fingerprint=["db-down"])) != fp(exc(fingerprint=["other"]))
    with_default = fp(exc("A", fingerprint=["{{ default }}", "tenant-1"]))
    assert with_default == fp(exc("A", fingerprint=["{{default}}", "tenant-1"]))
    assert with_default != fp(exc("B", fingerprint=["{{ default }}", "tenant-1"]))
    assert with_default != fp(exc("A", fingerprint=["{{ default }}", "tenant-2"]))
    assert with_default != fp(exc("A"))
    # A literal that merely looks like the placeholder does not collide with default grouping.
    assert fp(exc(fingerprint=["default"])) != fp(exc())
