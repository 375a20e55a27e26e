"""A renamed event type: emitted under its new name, still received by apps subscribed to the old one,
under the name each app subscribed to."""

from __future__ import annotations

import orjson

from conduit.db.base import utcnow
from conduit.events.catalog import EVENT_TYPES, canonical, names_of
from conduit.runtime import Runtime
from conduit.webhooks import fanout
from tests.apps.conftest import GQL
from tests.apps.helpers import name
from tests.apps.receiver import Receiver
from tests.conftest import Tenant

RENAMED = {
    "installation.failed": "tracker_installation.failed",
    "installation.removed": "tracker_installation.removed",
}


def test_old_names_are_deprecated_aliases_of_the_new() -> None:
    for old, new in RENAMED.items():
        alias, current = EVENT_TYPES[old], EVENT_TYPES[new]
        assert alias.deprecated and alias.replaced_by == new
        assert alias.schema["deprecated"] is True and "deprecated" not in current.schema
        assert alias.description.startswith(f"Deprecated: use `{new}`")
        assert alias.data == current.data and not current.deprecated
        assert canonical(old) == canonical(new) == new
        assert names_of(old) == names_of(new) == (new, old)
    # App installations keep their names.
    assert not EVENT_TYPES["installation.created"].deprecated
    assert names_of("installation.created") == ("installation.created",)


async def test_subscribers_to_either_name_receive_the_event_once(
    rt: Runtime, gql: GQL, receiver: Receiver, tenant: Tenant, tenant2: Tenant
) -> None:
    # One app per way of subscribing: the old name, the new name, both.
    for subscribed in (
        ["installation.failed"],
        ["tracker_installation.failed"],
        ["installation.failed", "tracker_installation.failed"],
    ):
        made = await gql.create_app(
            tenant.token, webhookUrl=receiver.url(name()), events=subscribed, scopes=["installation:read"]
        )
        await gql.install(tenant2.token, made["app"]["id"])
    example = EVENT_TYPES["tracker_installation.failed"].example
    for emitted_as, event_id in (
        ("installation.failed", "evt_old"),
        ("tracker_installation.failed", "evt_new"),
    ):
        async with rt.sessions() as session:
            made = await fanout.create_deliveries(
                session, event_id, canonical(emitted_as), tenant2.organization_id, example, utcnow(), None
            )
            await session.commit()
        got = sorted((d.event_type, orjson.loads(d.body)["type"]) for d in made)
        assert got == [
            ("installation.failed", "installation.failed"),
            ("tracker_installation.failed", "tracker_installation.failed"),
            ("tracker_installation.failed", "tracker_installation.failed"),
        ]
