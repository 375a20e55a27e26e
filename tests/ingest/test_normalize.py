from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from conduit.ingest.errors import BadRequest
from conduit.ingest.normalize import MAX_DATA_BYTES, MAX_FRAMES, normalize

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def chained() -> dict[str, Any]:
    # Sentry's order: the cause first, the exception that was raised last.
    return {
        "exception": {
            "values": [
                {
                    "type": "KeyError",
                    "value": "'id'",
                    "stacktrace": {"frames": [{"module": "app.db", "function": "load", "in_app": True}]},
                },
                {
                    "type": "LookupFailed",
                    "value": "user 7 not found\nsecond line",
                    "stacktrace": {
                        "frames": [
                            {"module": "django.core", "function": "dispatch", "in_app": False},
                            {"module": "app.views", "function": "show_user", "in_app": True, "lineno": 3},
                            {"module": "app.helpers", "function": "fetch", "in_app": True},
                            {"module": "requests.api", "function": "get", "in_app": False},
                        ]
                    },
                },
            ]
        }
    }


def test_exception_title_and_culprit_follow_sentry() -> None:
    e = normalize(chained(), NOW)
    assert e.title == "LookupFailed: user 7 not found"
    assert e.main_exception is not None and e.main_exception.type == "LookupFailed"
    assert e.culprit == "app.helpers in fetch"
    assert [x.type for x in e.exceptions] == ["KeyError", "LookupFailed"]
    assert e.data["exception"]["values"][1]["stacktrace"]["frames"][1]["function"] == "show_user"


def test_message_event_from_logentry_keeps_the_template() -> None:
    e = normalize(
        {"logentry": {"message": "user %s failed", "params": ["bob"], "formatted": "user bob failed"}}, NOW
    )
    assert (e.title, e.message, e.message_template) == (
        "user bob failed",
        "user bob failed",
        "user %s failed",
    )
    e = normalize({"message": "plain text"}, NOW)
    assert (e.title, e.message) == ("plain text", "plain text")
    assert normalize({}, NOW).title == "<unlabeled event>"


def test_event_id_generated_taken_from_envelope_or_normalized() -> None:
    assert len(normalize({}, NOW).event_id) == 32
    assert normalize({}, NOW, fallback_event_id="9EC79C33-EC99-42AB-8353-589FCB2E04DC").event_id == (
        "9ec79c33ec9942ab8353589fcb2e04dc"
    )
    with pytest.raises(BadRequest, match="event_id must be 32 hexadecimal"):
        normalize({"event_id": "nope"}, NOW)
    with pytest.raises(BadRequest, match="event_id"):
        normalize({"event_id": 12}, NOW)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (NOW.timestamp() - 60, NOW - timedelta(seconds=60)),
        (str(NOW.timestamp() - 60), NOW - timedelta(seconds=60)),
        ("2024-06-01T11:59:00Z", NOW - timedelta(seconds=60)),
        ("2024-06-01T11:59:00", NOW - timedelta(seconds=60)),
        ("2024-06-01T13:59:00+02:00", NOW - timedelta(seconds=60)),
        (NOW.timestamp() + 3600, NOW),  # in the future: clamped
        (0, NOW),  # 1970: too old, clamped
        (1e300, NOW),
        (float("nan"), NOW),
        ("yesterday", NOW),
        ([], NOW),
        (True, NOW),
        (None, NOW),
    ],
)
def test_timestamps(raw: object, expected: datetime) -> None:
    assert normalize({"timestamp": raw}, NOW).timestamp == expected


def test_wrong_types_are_dropped_and_noted() -> None:
    e = normalize(
        {
            "level": 42,
            "platform": {"x": 1},
            "release": ["r"],
            "environment": 3,
            "tags": "nope",
            "fingerprint": "nope",
            "exception": "boom",
            "message": 12,
            "contexts": [],
        },
        NOW,
    )
    assert (e.level, e.platform, e.release, e.environment, e.tags, e.fingerprint) == (
        "error",
        "other",
        None,
        "3",
        {},
        None,
    )
    assert e.exceptions == ()
    noted = {n["name"] for n in e.data["errors"]}
    assert {"level", "platform", "release", "tags", "fingerprint", "exception"} <= noted


def test_tags_as_dict_or_pairs_and_levels() -> None:
    assert normalize({"tags": {"a": "1", "b": 2, "c": None}}, NOW).tags == {"a": "1", "b": "2"}
    assert normalize({"tags": [["a", "1"], ["b", True], "junk", ["x"]]}, NOW).tags == {"a": "1"}
    assert normalize({"level": "WARN"}, NOW).level == "warning"
    assert normalize({"level": "critical"}, NOW).level == "fatal"


def test_big_payloads_are_bounded() -> None:
    frames = [{"module": f"m{i}", "function": "f", "vars": {"blob": "x" * 5000}} for i in range(5000)]
    payload = {
        "message": "m" * 100_000,
        "exception": {"values": [{"type": "E", "value": "v" * 100_000, "stacktrace": {"frames": frames}}]},
        "extra": {f"k{i}": "y" * 10_000 for i in range(500)},
        "breadcrumbs": {"values": [{"message": "z" * 10_000}] * 1000},
    }
    e = normalize(payload, NOW)
    assert len(e.exceptions[0].frames) == MAX_FRAMES
    assert e.exceptions[0].frames[0].module == "m0" and e.exceptions[0].frames[-1].module == "m4999"
    assert len(orjson.dumps(e.data)) <= MAX_DATA_BYTES
    assert len(e.title) <= 1000
    assert len(e.message) <= 8192


def test_deeply_nested_extra_is_cut() -> None:
    nested: Any = "leaf"
    for _ in range(500):
        nested = {"n": nested}
    e = normalize({"extra": nested}, NOW)
    assert "too deep" in orjson.dumps(e.data["extra"]).decode()
