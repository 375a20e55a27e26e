"""Fault injection, the same on every sandbox: latency, 5xx, 429, timeouts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from conduit.connectors import registry
from tests.connectors.drivers import KEYS, driver
from tests.connectors.sandbox.serving import Served, poll, serve


@pytest.fixture(params=KEYS)
def tracker(request: pytest.FixtureRequest) -> Iterator[tuple[Served, Callable[[], httpx.Response]]]:
    """A served sandbox and a call to one of its authenticated endpoints."""
    with serve(registry.tracker(request.param).sandbox()) as served:
        yield served, driver(request.param).api_call(served)


def test_latency_is_applied_and_logged(tracker: tuple[Served, Callable[[], httpx.Response]]) -> None:
    served, call = tracker
    served.control("POST", "/faults", json={"kind": "latency", "ms": 50, "count": 1})
    assert call().status_code == 200
    assert call().status_code == 200
    delays = [c["delay_ms"] for c in served.control("GET", "/calls")["calls"][-2:]]
    assert delays == [50, 0]


def test_server_errors_for_the_next_calls(tracker: tuple[Served, Callable[[], httpx.Response]]) -> None:
    served, call = tracker
    served.control("POST", "/faults", json={"kind": "error", "status": 502, "count": 2})
    assert [call().status_code for _ in range(3)] == [502, 502, 200]
    assert served.control("GET", "/faults")["faults"] == []
    assert served.control("GET", "/calls")["by_status"]["502"] == 2


def test_error_for_a_fraction_of_calls(tracker: tuple[Served, Callable[[], httpx.Response]]) -> None:
    served, call = tracker
    served.control("POST", "/faults", json={"kind": "error", "fraction": 0.5})
    statuses = [call().status_code for _ in range(40)]
    assert 0 < statuses.count(503) < 40 and set(statuses) == {200, 503}


def test_rate_limited_with_retry_after(tracker: tuple[Served, Callable[[], httpx.Response]]) -> None:
    served, call = tracker
    served.control("POST", "/faults", json={"kind": "rate_limit", "retry_after": 7, "count": 1})
    limited = call()
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    driver(served.sandbox.name).check_rate_limited(served, limited)
    assert call().status_code == 200


def test_timeout_holds_the_request_past_the_client_timeout(
    tracker: tuple[Served, Callable[[], httpx.Response]],
) -> None:
    served, _ = tracker
    served.control("POST", "/faults", json={"kind": "timeout", "seconds": 30, "count": 1})
    with pytest.raises(httpx.ReadTimeout):
        served.http.get(driver(served.sandbox.name).api_path, timeout=0.3)

    def logged() -> Any:
        return [c for c in served.control("GET", "/calls")["calls"] if c["fault"] == "timeout"]

    # The sandbox notices the client gave up and logs the call as closed by the client.
    assert [c["status"] for c in poll(logged)] == [499]


def test_bad_fault_descriptions_are_refused_with_a_reason(
    tracker: tuple[Served, Callable[[], httpx.Response]],
) -> None:
    served, _ = tracker
    for body, words in [
        ({"kind": "earthquake"}, "kind"),
        ({"kind": "error", "status": 404}, "5xx"),
        ({"kind": "latency"}, "ms"),
        ({"kind": "error", "count": 0}, "count"),
        ({"kind": "error", "fraction": 2}, "fraction"),
        ({"kind": "error", "colour": "red"}, "colour"),
    ]:
        response = served.http.post("/_sandbox/faults", json=body)
        assert response.status_code == 400 and words in response.json()["error"], body


def test_control_endpoints_are_never_faulted(tracker: tuple[Served, Callable[[], httpx.Response]]) -> None:
    served, _ = tracker
    served.control("POST", "/faults", json={"kind": "error"})
    assert served.http.get("/_sandbox/calls").status_code == 200
