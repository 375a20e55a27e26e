from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from conduit.events.catalog import EVENT_TYPES
from conduit.webhooks import payloads, sender, signing
from conduit.webhooks.schedule import Outcome
from conduit.webhooks.sender import AttemptResult
from tests.conftest import free_port
from tests.webhooks.conftest import Receiver


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with sender.make_client(allow_private=True) as c:
        yield c


def body(name: str = "issue.created") -> bytes:
    env = payloads.envelope(name, EVENT_TYPES[name].example, timestamp=datetime.now(UTC))
    return payloads.encode_body(env)


async def deliver(
    client: httpx.AsyncClient,
    receiver: Receiver,
    path: str,
    *,
    timeout_seconds: float = 5,
    msg_id: str = "msg_t1",
) -> AttemptResult:
    return await sender.send(
        client, f"{receiver.url}{path}", msg_id, body(), [receiver.secret], timeout_seconds=timeout_seconds
    )


async def test_a_delivery_verifies_with_the_reference_package(
    client: httpx.AsyncClient, fresh_receiver: Receiver
) -> None:
    result = await deliver(client, fresh_receiver, "/ok", msg_id="msg_ok")
    assert result.outcome is Outcome.SUCCESS and result.succeeded
    assert result.status == 200
    assert result.response_excerpt == "thanks"
    assert result.error is None
    assert result.duration_ms >= 0
    [got] = fresh_receiver.received
    assert got.verified
    assert got.headers["webhook-id"] == "msg_ok"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"].startswith("Conduit-Webhooks/")


async def test_rotation_delivery_verifies_with_old_and_new_secret(
    client: httpx.AsyncClient, fresh_receiver: Receiver
) -> None:
    # The receiver still holds the old secret; the new one signs beside it.
    result = await sender.send(
        client,
        f"{fresh_receiver.url}/ok",
        "msg_rot",
        body(),
        [signing.generate_secret(), fresh_receiver.secret],
    )
    assert result.outcome is Outcome.SUCCESS
    assert fresh_receiver.received[0].verified


async def test_a_wrong_secret_is_refused_by_the_receiver(
    client: httpx.AsyncClient, fresh_receiver: Receiver
) -> None:
    result = await sender.send(
        client, f"{fresh_receiver.url}/ok", "msg_bad", body(), [signing.generate_secret()]
    )
    assert result.outcome is Outcome.RETRY
    assert result.status == 400
    assert result.error == "HTTP 400"
    assert not fresh_receiver.received[0].verified


async def test_a_slow_receiver_times_out(client: httpx.AsyncClient, fresh_receiver: Receiver) -> None:
    result = await deliver(client, fresh_receiver, "/slow", timeout_seconds=1)
    assert result.outcome is Outcome.RETRY
    assert result.status is None
    assert result.error == "no response within 1 s"
    assert result.duration_ms >= 1000
    assert [r.path for r in fresh_receiver.received] == ["/slow"]


async def test_410_disables(client: httpx.AsyncClient, fresh_receiver: Receiver) -> None:
    result = await deliver(client, fresh_receiver, "/gone")
    assert (result.outcome, result.status, result.response_excerpt) == (
        Outcome.DISABLE,
        410,
        "endpoint removed",
    )


async def test_429_throttles_and_reports_retry_after(
    client: httpx.AsyncClient, fresh_receiver: Receiver
) -> None:
    result = await deliver(client, fresh_receiver, "/throttled")
    assert (result.outcome, result.status, result.retry_after) == (Outcome.THROTTLE, 429, 120)


async def test_a_redirect_fails_and_is_not_followed(
    client: httpx.AsyncClient, fresh_receiver: Receiver
) -> None:
    result = await deliver(client, fresh_receiver, "/redirect")
    assert result.outcome is Outcome.RETRY
    assert result.status == 307
    assert result.error == "HTTP 307: redirect to /ok not followed"
    assert [r.path for r in fresh_receiver.received] == ["/redirect"]


async def test_the_response_excerpt_is_cut_to_one_kilobyte(
    client: httpx.AsyncClient, fresh_receiver: Receiver
) -> None:
    result = await deliver(client, fresh_receiver, "/failing")
    assert (result.outcome, result.status) == (Outcome.RETRY, 500)
    assert result.response_excerpt == "x" * 1024


async def test_private_destinations_are_refused_at_delivery(fresh_receiver: Receiver) -> None:
    async with sender.make_client(allow_private=False) as strict:
        result = await deliver(strict, fresh_receiver, "/ok")
    assert result.outcome is Outcome.RETRY and result.status is None
    assert result.error is not None and result.error.startswith("refused:") and "loopback" in result.error
    assert fresh_receiver.received == []


async def test_connection_refused_is_a_retry(client: httpx.AsyncClient) -> None:
    result = await sender.send(
        client, f"http://127.0.0.1:{free_port()}/", "msg_x", body(), [signing.generate_secret()]
    )
    assert result.outcome is Outcome.RETRY and result.status is None
    assert result.error is not None and result.error.startswith("could not connect")


async def test_the_timeout_must_be_within_limits(client: httpx.AsyncClient, fresh_receiver: Receiver) -> None:
    with pytest.raises(ValueError, match="between 1 and 30"):
        await deliver(client, fresh_receiver, "/ok", timeout_seconds=60)
