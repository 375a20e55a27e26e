"""Live events: an event nobody in the process listens to costs no resource loading."""

from __future__ import annotations

import asyncio
from typing import Any

from conduit.db.base import utcnow
from conduit.events.broker import LocalBroker, broker_for, publish_live
from conduit.events.publish import _UNLOADED, Published
from conduit.jobs.config import JobsSettings
from conduit.jobs.context import JobContext, job_log
from conduit.runtime import Runtime


def _event() -> Published:
    # The issue does not exist: loading its resources would find it gone and record that.
    return Published("evt_1", "issue.created", 1, 1, utcnow(), {"type": "system"}, {"issue_id": 10**9})


def _ctx(runtime: Runtime) -> JobContext:
    return JobContext(
        runtime, JobsSettings(), 1, "events.publish", 1, {}, 1, None, job_log(1, "events.publish")
    )


async def test_the_local_broker_listens_only_while_someone_subscribes() -> None:
    broker = LocalBroker()
    assert not broker.listening
    stream = broker.subscribe()
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)  # the generator registers its queue when it first runs
    assert broker.listening
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)  # the generator ends, its queue dropped
    assert not broker.listening


async def test_an_event_with_no_live_subscriber_loads_nothing(runtime: Runtime) -> None:
    event = _event()
    await publish_live(_ctx(runtime), event)
    assert event._resources is _UNLOADED


async def test_an_event_with_a_live_subscriber_is_loaded_for_it(runtime: Runtime) -> None:
    broker = broker_for(runtime)
    stream: Any = broker.subscribe()
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    event = _event()
    await publish_live(_ctx(runtime), event)
    # Loaded (and found gone, so not sent): the subscriber would have had it otherwise.
    assert event._resources is None
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)  # the generator ends, its queue dropped
