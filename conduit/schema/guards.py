"""Schema extensions that keep the GraphQL endpoint cheap and safe to expose.

`extensions(settings)` returns factories, one per extension, because strawberry builds a fresh set of
extension instances for every operation (an instance carries that operation's execution context). The
validation rules are created once here, so the validation cache sees the same rule classes on every
request and hits. A schema also takes `PacedExecution` as its execution context class, which paces
running operations.

What they guarantee, in the order an operation meets them: a document over the token limit is not
parsed; one over the depth or alias limit does not validate; a document with several operations must
name the one to run (`operationName`), as GraphQL's GetOperation() requires; an operation whose static
cost (conduit.schema.cost) is over the limit does not start; a running operation hands the event loop
back after about `SLICE_SECONDS` of work (`YieldToLoop`), so other requests — `/healthz` among them —
are served while it runs and the HTTP layer's time budget can cancel it; unexpected errors reach the
client as an id only.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Generator, Iterator
from functools import partial
from inspect import isawaitable
from operator import attrgetter
from typing import Any, cast

from graphql import (
    DocumentNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    StringValueNode,
    Undefined,
    Visitor,
    visit,
)
from graphql import (
    ExecutionResult as GraphQLExecutionResult,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.extensions import ValidationCache as _ValidationCache
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from conduit.schema.cost import CostLimit
from conduit.schema.metrics import OperationMetrics
from conduit.settings import Settings

log = logging.getLogger("conduit.graphql")

# Distinct query texts kept parsed and validated; clients send few distinct documents.
CACHE_SIZE = 512
INTERNAL_ERROR = "INTERNAL_SERVER_ERROR"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
OPERATION_NAME_REQUIRED = "OPERATION_NAME_REQUIRED"
# The longest an operation keeps the event loop between two yields: well under the 100 ms a probe or
# another client may wait, and long enough that yielding costs little.
SLICE_SECONDS = 0.01
# Waiters woken per turn, to start with and at most; YieldToLoop adapts the number in between.
INITIAL_BATCH = 16
MAX_BATCH = 1024

ExtensionFactory = Callable[[], SchemaExtension]


def extensions(settings: Settings) -> list[ExtensionFactory]:
    """The extensions to pass to `build_schema`, configured from settings."""
    rules = [
        *QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
    ]
    max_tokens = settings.graphql_max_tokens
    max_cost = settings.graphql_max_cost
    return [
        # First, so it times and judges the whole operation: every other extension runs inside it.
        lambda: OperationMetrics(),
        lambda: MaskUnexpectedErrors(),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: AddValidationRules(rules),
        lambda: _ValidationCache(maxsize=CACHE_SIZE),
        # After the validation cache, which sets the validation errors this one adds to.
        lambda: OperationSelection(),
        lambda: CostLimit(max_cost),
        lambda: RefuseNul(),
    ]


class RefuseNul(SchemaExtension):
    """A NUL character in any string the client sends is bad input, refused before anything runs.

    PostgreSQL text cannot hold U+0000 (the insert fails deep inside a mutation) while SQLite stores it,
    so without this the same request is an unexpected error on one database and a stored name that no
    terminal prints right on the other. No field of Conduit's has a use for it.
    """

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.result is None and (
            _has_nul(ctx.variables)
            or (
                ctx.graphql_document is not None
                and _text_may_hold_nul(ctx.query)
                and _document_has_nul(ctx.graphql_document)
            )
        ):
            ctx.result = GraphQLExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        "a string in this request contains a NUL character (U+0000), which no field accepts",
                        extensions={"code": "BAD_USER_INPUT"},
                    )
                ],
            )
        yield


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _text_may_hold_nul(query: str | None) -> bool:
    # A string value holds U+0000 only when the text has one as it is or escaped (`\u0000`,
    # `\u{0}`): without either, walking the document is wasted on every request.
    return query is None or "\x00" in query or "\\u" in query


def _document_has_nul(document: DocumentNode) -> bool:
    found = False

    class Find(Visitor):
        def enter_string_value(self, node: StringValueNode, *_: object) -> None:
            nonlocal found
            found = found or "\x00" in node.value

    visit(document, Find())
    return found


class OperationSelection(SchemaExtension):
    """A document with several operations and no `operationName` is a request error.

    strawberry runs the first operation in that case; GraphQL's GetOperation() says the request must
    fail, and running whichever operation happens to come first is never what the client meant.
    (An unknown `operationName` already fails in strawberry.)
    """

    def __init__(self) -> None:
        self._unnamed = False

    def on_operation(self) -> Iterator[None]:
        # Before parsing, `operation_name` is exactly what the request sent: once the document is
        # parsed, strawberry answers the first operation's name when the request sent none.
        ctx = self.execution_context
        self._unnamed = ctx.graphql_document is None and ctx.operation_name is None
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        if self._unnamed and document is not None:
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if len(operations) > 1:
                names = ", ".join(d.name.value if d.name else "(anonymous)" for d in operations)
                error = GraphQLError(
                    f"the document has {len(operations)} operations ({names}): "
                    "send `operationName` to say which one to run",
                    extensions={"code": OPERATION_NAME_REQUIRED},
                )
                # A new list: the validation cache keeps the one it set.
                ctx.pre_execution_errors = [*(ctx.pre_execution_errors or ()), error]
        yield


class YieldToLoop:
    """Hand the event loop back whenever an operation has held it for `SLICE_SECONDS`.

    graphql-core completes everything it can synchronously: fields of loaded objects, and every
    DataLoader hit (a cached future is done, so awaiting it does not yield). And when a batch load
    finishes, every resolver waiting on it wakes in the same turn of the loop. Either way a large answer
    becomes one long stretch of CPU during which nothing else on the loop runs, not even a timeout.

    So an operation works in slices. A slice starts with the operation's first piece of work in a turn of
    the loop (time spent waiting for the database is not work) and ends on the next turn. Once a slice is
    used up, further objects join a queue instead of being completed, which ends the stretch. On each
    later turn of the loop — after it has polled for I/O and run whatever else was ready — a new slice
    starts and the queue wakes a batch of waiters, oldest first; a waiter that finds the slice already
    used up goes back to the front. The batch adapts: it halves when waiters had to go back, and doubles
    when a turn's work took less than a slice. So one turn does about a slice of work however many
    objects are waiting, and each waiting object costs a constant number of wake-ups.

    The check runs once per object completed (`PacedExecution`), not once per field: a field costs
    microseconds, and an object's fields are bounded by the document. What is never split is a
    resolver's own synchronous run between two awaits, and the fields of one object.
    """

    def __init__(self, slice_seconds: float = SLICE_SECONDS) -> None:
        self.slice_seconds = slice_seconds
        self._slice_start: float | None = None  # None: no work yet in this turn
        self._exhausted = False
        self._queue: deque[asyncio.Future[None]] = deque()
        self._tick_scheduled = False
        self._batch = INITIAL_BATCH
        self._went_back = 0

    def has_time(self) -> bool:
        if self._exhausted:
            return False
        now = time.perf_counter()
        if self._slice_start is None:
            self._slice_start = now
            self._schedule_tick()  # which ends this slice on the next turn
            return True
        if now - self._slice_start < self.slice_seconds:
            return True
        self._exhausted = True
        return False

    def wait_turn(self) -> Generator[Any, None, None]:
        """Wait (as `yield from`) until the current slice has time left."""
        again = False
        while not self.has_time():
            waiter = asyncio.get_running_loop().create_future()
            if again:
                self._went_back += 1
                self._queue.appendleft(waiter)
            else:
                self._queue.append(waiter)
            self._schedule_tick()
            yield from waiter.__await__()
            again = True

    def _schedule_tick(self) -> None:
        if not self._tick_scheduled:
            self._tick_scheduled = True
            # Callbacks scheduled now run on the loop's next turn, after it polled for I/O.
            asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        """A new turn: a new slice, and the next batch of waiters."""
        self._tick_scheduled = False
        if self._went_back:
            self._batch = max(1, self._batch // 2)
        elif not self._exhausted and self._queue:
            self._batch = min(MAX_BATCH, self._batch * 2)
        self._went_back = 0
        self._exhausted = False
        self._slice_start = None
        for _ in range(min(self._batch, len(self._queue))):
            waiter = self._queue.popleft()
            if not waiter.done():  # a cancelled operation leaves cancelled waiters behind
                waiter.set_result(None)
        if self._queue:
            self._schedule_tick()


class PacedExecution(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor, completing each object on its operation's turn (`YieldToLoop`).

    A hook in the executor rather than a schema extension's `resolve`: that one wraps every field
    resolution of every answer in another call, which cost a tenth of a page's time.

    It also reads plain scalar fields the short way (`execute_field`): they are most fields of an answer.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pacer = YieldToLoop()
        # (type, field) -> how to read it on the short path (`execute_field`), or None.
        self._leaves: dict[tuple[str, str], _Leaf | None] = {}

    def build_per_event_executor(self, payload: Any) -> PacedExecution:
        executor = cast(PacedExecution, super().build_per_event_executor(payload))
        executor.pacer = YieldToLoop()  # each event of a subscription is an operation of its own
        return executor

    def execute_fields(self, *args: Any) -> Any:
        if self.pacer.has_time():
            return super().execute_fields(*args)
        return _Deferred(self.pacer, partial(super().execute_fields, *args))

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        """A scalar or enum read from an attribute, the most common field of an answer, without the
        resolve info graphql-core builds for every field (most of such a field's cost). Anything else —
        a resolver of ours, a null, a value that does not serialize, a resolver wrapped by middleware —
        takes the general path, which also reports the errors."""
        key = (parent_type.name, field_details_list[0].node.name.value)
        try:
            leaf = self._leaves[key]
        except KeyError:
            leaf = self._leaves[key] = self._leaf(parent_type, key[1])
        if leaf is not None:
            read, named = leaf
            try:
                value = read(source)
                if value is not None:
                    coerced = named.coerce_output_value(value)
                    if coerced is not None and coerced is not Undefined:
                        return coerced
            except Exception:
                pass  # the general path below raises it again, located at this field
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _leaf(self, parent_type: GraphQLObjectType, name: str) -> _Leaf | None:
        """How to read a field that takes the short path, or None for the general one."""
        field_def = parent_type.fields.get(name)
        if field_def is None or field_def.resolve is None:
            return None
        resolve = field_def.resolve
        if self.middleware_manager is not None:
            # The same function unless an extension resolves fields (tracing): then the general path.
            resolve = self.middleware_manager.get_field_resolver(resolve)
        # strawberry's resolver of a field without one of its own: an attribute read, which takes no info.
        if not getattr(resolve, "_is_default", False):
            return None
        type_ = field_def.type
        named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        if not isinstance(named, GraphQLScalarType | GraphQLEnumType):
            return None
        field = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if (
            isinstance(field, StrawberryField)
            and field.is_basic_field  # no resolver, permission classes or field extensions
            and field.default_resolver is getattr
        ):
            # What that resolver does, minus the two calls it takes to get there.
            return attrgetter(field.python_name), named
        return None


_Leaf = tuple[Callable[[Any], Any], GraphQLScalarType | GraphQLEnumType]


class _Deferred:
    """An object's completion waiting for its turn.

    An awaitable object rather than a coroutine: when the time budget cancels the operation, the ones
    never awaited are dropped without a "coroutine was never awaited" warning.
    """

    __slots__ = ("_complete", "_pacer")

    def __init__(self, pacer: YieldToLoop, complete: Callable[[], Any]) -> None:
        self._pacer = pacer
        self._complete = complete

    def __await__(self) -> Generator[Any, Any, Any]:
        yield from self._pacer.wait_turn()
        result = self._complete()
        if isawaitable(result):
            result = yield from result.__await__()
        return result


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
