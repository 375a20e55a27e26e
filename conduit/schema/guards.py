"""Schema extensions that keep the GraphQL endpoint cheap and safe to expose.

`extensions(settings)` returns factories, one per extension, because strawberry builds a fresh set of
extension instances for every operation (an instance carries that operation's execution context). The
validation rules are created once here, so the validation cache sees the same rule classes on every
request and hits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from graphql import (
    ExecutionResult as GraphQLExecutionResult,
)
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
)
from graphql.utilities import get_operation_ast
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.extensions import ValidationCache as _ValidationCache

from conduit.settings import Settings

log = logging.getLogger("conduit.graphql")

# Distinct query texts kept parsed and validated; clients send few distinct documents.
CACHE_SIZE = 512
INTERNAL_ERROR = "INTERNAL_SERVER_ERROR"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
ENTITIES_LIMIT = "ENTITIES_LIMIT_EXCEEDED"

ExtensionFactory = Callable[[], SchemaExtension]


def extensions(settings: Settings) -> list[ExtensionFactory]:
    """The extensions to pass to `build_schema`, configured from settings."""
    rules = [
        *QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
    ]
    max_tokens = settings.graphql_max_tokens
    max_entities = settings.graphql_max_entities
    return [
        lambda: MaskUnexpectedErrors(),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: AddValidationRules(rules),
        lambda: _ValidationCache(maxsize=CACHE_SIZE),
        lambda: EntitiesLimit(max_entities),
    ]


class MaskUnexpectedErrors(SchemaExtension):
    """Replace unexpected exceptions with a message quoting an id; log the original under that id.

    An error is expected when it is a GraphQLError raised on purpose (our typed errors carry
    `extensions.code`), a syntax error or a validation error. Everything else raised while executing —
    a bug, a database outage — may carry internals in its message, so the client only gets the id.
    Validation errors are kept apart explicitly: some of them wrap a scalar's ValueError.
    """

    def __init__(self) -> None:
        self._validation_errors: set[int] = set()

    def on_validate(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            self._validation_errors.add(id(error))
            _set_default_code(error, VALIDATION_FAILED)

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is None or not errors:
            return
        result.errors = [self._process(error) for error in errors]

    def _process(self, error: GraphQLError) -> GraphQLError:
        if isinstance(error, GraphQLSyntaxError):
            _set_default_code(error, PARSE_FAILED)
            return error
        original = error.original_error
        if original is None or isinstance(original, GraphQLError) or id(error) in self._validation_errors:
            return error
        error_id = str(uuid.uuid4())
        log.error(
            "unexpected error (id: %s) at %s: %s",
            error_id,
            ".".join(str(p) for p in error.path or ()) or "<operation>",
            original,
            exc_info=(type(original), original, original.__traceback__),
        )
        return GraphQLError(
            f"Unexpected error (id: {error_id})",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": INTERNAL_ERROR, "errorId": error_id},
        )


def _set_default_code(error: GraphQLError, code: str) -> None:
    if error.extensions is None:
        error.extensions = {}
    error.extensions.setdefault("code", code)


class EntitiesLimit(SchemaExtension):
    """Refuse `_entities` batches longer than the limit before any resolver runs.

    Each representation costs a lookup, and one field with a long list escapes the alias and token
    limits (the list usually arrives as a variable), so this counts the representations themselves.
    """

    def __init__(self, max_entities: int) -> None:
        self.max_entities = max_entities

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None:
            operation = get_operation_ast(ctx.graphql_document, ctx.operation_name)
            if operation is not None:
                count = entities_batch_size(ctx.graphql_document, operation, ctx.variables or {})
                if count > self.max_entities:
                    # A result set before execution makes strawberry skip running the operation.
                    ctx.result = GraphQLExecutionResult(
                        data=None,
                        errors=[
                            GraphQLError(
                                f"_entities was asked for {count} representations; the limit is "
                                f"{self.max_entities} per request: split the batch",
                                extensions={"code": ENTITIES_LIMIT, "limit": self.max_entities},
                            )
                        ],
                    )
        yield


def entities_batch_size(
    document: Any, operation: OperationDefinitionNode, variables: Mapping[str, Any]
) -> int:
    """The number of representations all `_entities` fields of an operation ask for."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return sum(
        _list_length(arg.value, variables)
        for field in _root_fields(operation.selection_set, fragments, set())
        if field.name.value == "_entities"
        for arg in field.arguments or ()
        if arg.name.value == "representations"
    )


def _root_fields(
    selection_set: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode], seen: set[str]
) -> Iterator[FieldNode]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                seen.add(name)
                yield from _root_fields(fragment.selection_set, fragments, seen)


def _list_length(value: ValueNode, variables: Mapping[str, Any]) -> int:
    if isinstance(value, ListValueNode):
        return len(value.values)
    if isinstance(value, VariableNode):
        given = variables.get(value.name.value)
        if given is None:
            return 0
        return len(given) if isinstance(given, list) else 1
    return 1
