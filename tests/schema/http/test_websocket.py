"""Subscriptions transport: graphql-transport-ws only, authenticated like HTTP.

Headers are passed as copies: the test client writes the subprotocol header into the dict it is given.
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from .conftest import AUTH, tiny_app


def test_graphql_transport_ws_streams_with_a_token() -> None:
    with (
        TestClient(tiny_app()) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"], headers=dict(AUTH)) as ws,
    ):
        assert ws.accepted_subprotocol == "graphql-transport-ws"
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "subscription { ticks }"}})
        assert ws.receive_json() == {"id": "1", "type": "next", "payload": {"data": {"ticks": 1}}}
        assert ws.receive_json() == {"id": "1", "type": "complete"}


def test_legacy_graphql_ws_protocol_is_refused() -> None:
    with (
        TestClient(tiny_app()) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-ws"], headers=dict(AUTH)) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert closed.value.code == 4406


def test_websocket_without_a_token_is_closed_4401_at_connection_init() -> None:
    with (
        TestClient(tiny_app()) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.send_json({"type": "connection_init", "payload": {}})
        ws.receive_json()
    assert closed.value.code == 4401
    assert "connection_init" in (closed.value.reason or "")


def test_websocket_with_a_bad_header_token_is_closed_4401() -> None:
    with (
        TestClient(tiny_app()) as client,
        client.websocket_connect(
            "/graphql", subprotocols=["graphql-transport-ws"], headers={"Authorization": "Bearer nope"}
        ) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert closed.value.code == 4401


def test_token_in_connection_init_payload_authenticates() -> None:
    with (
        TestClient(tiny_app()) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init", "payload": {"authorization": AUTH["Authorization"]}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "subscription { ticks }"}})
        assert ws.receive_json() == {"id": "1", "type": "next", "payload": {"data": {"ticks": 1}}}


def test_wrong_token_in_connection_init_payload_is_closed_4401() -> None:
    with (
        TestClient(tiny_app()) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.send_json({"type": "connection_init", "payload": {"authorization": "Bearer wrong"}})
        ws.receive_json()
    assert closed.value.code == 4401
