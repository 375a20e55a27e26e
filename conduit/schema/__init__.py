"""The GraphQL types, one module per domain, and `ConduitSchema`, which makes them an Apollo Federation
v2 subgraph. The schema itself is assembled one layer up, where the root Query and Mutation fields
live: a type knows the domain services it reads, never the root fields that return it.

`_entities` answers each representation on its own: one that is malformed (not an object, no
`__typename`, a type that is not an entity here, key fields other than `id`, an `id` that is not a
string or not the canonical id of that type) gets `null` at its index and a BAD_USER_INPUT error with
that index in its path, and the rest of the batch still resolves. A well-formed reference to an object
that does not exist or belongs to another organization is `null` without an error, as `node(id)` is: the
two are not told apart. How many representations one request may carry is a matter of cost
(conduit.schema.cost), not of a fixed count, because a gateway cannot split a batch.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLUnionType
from strawberry.federation.schema import FederationAny
from strawberry.types import ExecutionContext, Info

from conduit import ids

# Both Apollo's and The Guild's composition accept @link up to v2.9.
FEDERATION_VERSION = "2.9"
# Every entity of this subgraph is keyed by its global id: `@key(fields: "id")`.
ENTITY_KEY = "id"
BAD_REPRESENTATION = "BAD_USER_INPUT"


class ConduitSchema(strawberry.federation.Schema):
    @cached_property
    def entity_classes(self) -> dict[str, Any]:
        """Entity type name -> the class whose `resolve_reference` loads it."""
        union = self._schema.type_map.get("_Entity")
        members = union.types if isinstance(union, GraphQLUnionType) else ()
        return {
            t.name: getattr(self.schema_converter.type_map[t.name].definition, "origin", None)
            for t in members
        }

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors are the client's business; unexpected ones are logged once, with the id the client
        # sees, by the masking extension in conduit.schema.guards.
        return None

    def entities_resolver(self, info: Info, representations: list[FederationAny]) -> list[FederationAny]:
        # An exception in the list becomes that index's error (and null); it does not fail the batch.
        return [
            self._resolve_entity(info, index, representation)
            for index, representation in enumerate(representations)
        ]

    def _resolve_entity(self, info: Info, index: int, representation: object) -> Any:
        def bad(problem: str) -> GraphQLError:
            return GraphQLError(
                f"representation {index} {problem}",
                extensions={"code": BAD_REPRESENTATION, "argument": "representations"},
            )

        entities = ", ".join(sorted(self.entity_classes))
        if not isinstance(representation, dict):
            return bad(f'must be an object like {{"__typename": "Issue", "id": "..."}}; entities: {entities}')
        type_name = representation.get("__typename")
        if not isinstance(type_name, str):
            return bad("has no `__typename` string")
        entity = self.entity_classes.get(type_name)
        if entity is None:
            return bad(f"names `{type_name[:64]}`, which is not an entity of this subgraph: {entities}")
        keys = sorted(k for k in representation if k != "__typename")
        if keys != [ENTITY_KEY]:
            return bad(f"must carry exactly the key field `{ENTITY_KEY}` of {type_name}, not {keys[:10]}")
        global_id = representation[ENTITY_KEY]
        if not isinstance(global_id, str):
            return bad(f"has an `{ENTITY_KEY}` that is not a string")
        try:
            ids.decode_as(global_id, type_name)
        except ids.InvalidId as exc:
            return bad(f"has an unusable `{ENTITY_KEY}`: {exc}")
        return entity.resolve_reference(info=info, id=strawberry.ID(global_id))
