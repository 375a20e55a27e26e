"""The static cost of a GraphQL operation, refused above `Settings.graphql_max_cost` before it runs.

Depth, alias and token limits bound the size of a document, not the size of its answer: three nested
`issues(first: 100)` are a short document and a million objects. The cost estimates the answer:

    cost(selection set) = sum, over its fields, of cost(field)
    cost(field)         = weight(field)                            for a leaf (scalar, enum)
                        = weight(field) + multiplier(field) * cost(its selection set)
                                                                   for an object, interface or union
    weight(field)       = 1, or more for a field that runs its own aggregate queries (FIELD_WEIGHTS), or
                          for introspection (INTROSPECTION_WEIGHTS: a `__schema` answer is the whole schema)

    multiplier(field)   = min(first or last, MAX_PAGE)   when the field takes `first`/`last`
                                                          (DEFAULT_PAGE when neither is given)
                        = number of representations       for `_entities`
                        = 1                               for `edges` and `nodes` of a connection
                                                          (its page size was counted by the field above)
                        = LIST_BOUNDS[field]              for a list whose length Conduit bounds (frames,
                                                          tags, attempts, an organization's apps)
                        = DEFAULT_LIST_SIZE               for any other list of objects
                        = 1                               otherwise

Nested lists multiply: `project { issues(first: 100) { nodes { project { issues(first: 100) { nodes {
id } } } } } }` costs 20,302. Fragments and inline fragments are expanded; fields with the same response
key are merged as execution merges them; every branch of an abstract type is counted (an upper bound);
`@skip`/`@include` are ignored (also an upper bound). `first` given as a variable is read from the
request's variables (or the variable's default); a value that is not an integer counts as MAX_PAGE, and
fails coercion later anyway.

A refused operation gets one error, `code: "QUERY_TOO_COSTLY"`, whose `extensions` carry `cost` and
`limit`. The walk stops as soon as the running total is over the limit, so the cost it reports is then a
lower bound ("at least"), and a document crafted to be expensive to estimate costs little to refuse.

`_entities` is costed like any list, so a federation gateway's batch is limited by what it asks for, not
by a fixed count: 101 references to small entities pass, a batch whose cost is over the limit does not.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NamedTypeNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
    value_from_ast_untyped,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from conduit.apps.service import MAX_APPS, MAX_INSTALLATIONS
from conduit.auth.sessions import MAX_LISTED as MAX_SESSIONS_LISTED
from conduit.ingest.normalize import MAX_EXCEPTIONS, MAX_FRAMES, MAX_TAGS
from conduit.rules.definition import MAX_VALUES as MAX_RULE_TAGS
from conduit.rules.preview import MAX_ISSUES as MAX_PREVIEW_MATCHES
from conduit.schema.pagination import DEFAULT_PAGE, MAX_PAGE
from conduit.schema.series import MAX_BUCKETS
from conduit.sync.health import MAX_RECENT as MAX_RECENT_INTERACTIONS
from conduit.webhooks.schedule import MAX_ATTEMPTS

TOO_COSTLY = "QUERY_TOO_COSTLY"
# A list field without paging arguments (an issue's links, a project's keys) is assumed this long...
DEFAULT_LIST_SIZE = DEFAULT_PAGE
# ...unless Conduit bounds it: then the bound is what it costs, so a list that is long in practice (an
# event's 200 frames) is not priced as a short one.
LIST_BOUNDS: Mapping[tuple[str, str], int] = {
    ("Event", "stacktrace"): MAX_FRAMES,
    ("ExceptionValue", "stacktrace"): MAX_FRAMES,
    ("Event", "exceptions"): MAX_EXCEPTIONS,
    ("Event", "tags"): MAX_TAGS,
    ("Delivery", "attempts"): MAX_ATTEMPTS,
    ("Query", "apps"): MAX_APPS,
    ("Query", "appInstallations"): MAX_INSTALLATIONS,
    ("RuleFilters", "tags"): MAX_RULE_TAGS,
    ("RulePreview", "matches"): MAX_PREVIEW_MATCHES,
    ("InstallationHealthSeries", "buckets"): MAX_BUCKETS,
    ("AppHealthSeries", "buckets"): MAX_BUCKETS,
    ("AppAnalytics", "buckets"): MAX_BUCKETS,
    ("Query", "sessions"): MAX_SESSIONS_LISTED,
    ("Installation", "interactions"): MAX_RECENT_INTERACTIONS,
}
# Fields whose resolver runs aggregate queries over many rows (health windows, queue statistics).
FIELD_WEIGHTS: Mapping[tuple[str, str], int] = {
    ("App", "health"): 100,
    ("Installation", "health"): 100,
    ("Query", "jobStats"): 100,
    ("Installation", "healthSeries"): 100,
    ("App", "healthSeries"): 100,
    ("App", "analytics"): 200,
}
# Introspection answers are bounded by the schema, but `__schema` is all of it: about 130 KB here.
INTROSPECTION_WEIGHTS: Mapping[str, int] = {"__schema": 5_000, "__type": 100}
PAGE_ARGUMENTS = ("first", "last")
ENTITIES = "_entities"
CONNECTION_LISTS = frozenset({"edges", "nodes"})

# One occurrence of a field in a selection: the type it is selected on, and the field node.
Occurrence = tuple[GraphQLNamedType, FieldNode]
Part = tuple[GraphQLNamedType, SelectionSetNode]


@dataclass(frozen=True, slots=True)
class Cost:
    value: int
    # False when the walk stopped past the budget: `value` is then a lower bound.
    exact: bool


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
    budget: int,
) -> Cost:
    """The cost of `operation`; exact up to `budget`, a lower bound above it."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return Cost(0, exact=True)
    walk = _Walk(schema, document, operation, variables)
    value = walk.selections([(root, operation.selection_set)], budget)
    return Cost(value, exact=not walk.stopped)


def too_costly(cost: Cost, limit: int) -> GraphQLError:
    amount = f"{cost.value}" if cost.exact else f"at least {cost.value}"
    return GraphQLError(
        f"this operation costs {amount}, over the limit of {limit}: each field costs 1 and a list "
        f"multiplies what it selects by its `first` (default {DEFAULT_PAGE}, at most {MAX_PAGE}) or, for "
        "`_entities`, by its number of representations; ask for smaller pages or fewer nested lists",
        extensions={"code": TOO_COSTLY, "cost": cost.value, "limit": limit},
    )


class CostLimit(SchemaExtension):
    """Refuse an operation whose cost is over `max_cost` before any resolver runs.

    It runs when execution starts, not as a validation rule, because the cost depends on the variables
    (`first: $n`, `representations: $r`) and validation results are cached per document.
    """

    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        operation = get_operation_ast(document, ctx.operation_name) if document is not None else None
        if document is not None and operation is not None:
            cost = operation_cost(ctx.schema._schema, document, operation, ctx.variables or {}, self.max_cost)
            if cost.value > self.max_cost:
                # A result set before execution makes strawberry skip running the operation.
                ctx.result = GraphQLExecutionResult(data=None, errors=[too_costly(cost, self.max_cost)])
        yield


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = dict(variables)
        self.defaults = {
            d.variable.name.value: value_from_ast_untyped(d.default_value)
            for d in operation.variable_definitions or ()
            if d.default_value is not None
        }
        self.stopped = False

    def selections(self, parts: list[Part], budget: int) -> int:
        total = 0
        groups = list(self._collect(parts).values())
        for index, occurrences in enumerate(groups):
            total += self._field(occurrences, budget - total)
            if total > budget:
                if index < len(groups) - 1:
                    self.stopped = True
                return total
        return total

    def _field(self, occurrences: list[Occurrence], budget: int) -> int:
        multiplier = 0
        weight = max(_weight(parent, node) for parent, node in occurrences)
        children: list[Part] = []
        for parent, node in occurrences:
            field = _field_of(parent, node)
            if field is None or node.selection_set is None:
                continue
            child = get_named_type(field.type)
            if not is_composite_type(child):
                continue
            multiplier = max(multiplier, self._multiplier(parent, field, node))
            children.append((child, node.selection_set))
        if not children or multiplier == 0:
            return weight
        return weight + multiplier * self.selections(children, (budget - weight) // multiplier)

    def _multiplier(self, parent: GraphQLNamedType, field: GraphQLField, node: FieldNode) -> int:
        if node.name.value == ENTITIES and parent is self.schema.query_type:
            return self._list_length(_argument(node, "representations"))
        paging = [name for name in PAGE_ARGUMENTS if name in field.args]
        if paging:
            sizes = [size for name in paging if (size := self._page_size(field, node, name)) is not None]
            return max(sizes) if sizes else DEFAULT_PAGE
        if is_list_type(get_nullable_type(field.type)):
            is_connection = isinstance(parent, GraphQLObjectType) and "pageInfo" in parent.fields
            if is_connection and node.name.value in CONNECTION_LISTS:
                return 1
            return LIST_BOUNDS.get((parent.name, node.name.value), DEFAULT_LIST_SIZE)
        return 1

    def _page_size(self, field: GraphQLField, node: FieldNode, name: str) -> int | None:
        given = _argument(node, name)
        value = self._value(given) if given is not None else field.args[name].default_value
        if value is None or value is Undefined:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            return MAX_PAGE
        return max(0, min(value, MAX_PAGE))

    def _list_length(self, node: ValueNode | None) -> int:
        if isinstance(node, ListValueNode):
            return len(node.values)
        value = self._value(node)
        if value is None:
            return 0
        return len(value) if isinstance(value, list) else 1

    def _value(self, node: ValueNode | None) -> Any:
        if node is None or isinstance(node, NullValueNode):
            return None
        if isinstance(node, VariableNode):
            name = node.name.value
            return self.variables[name] if name in self.variables else self.defaults.get(name)
        if isinstance(node, IntValueNode):
            return int(node.value)
        return value_from_ast_untyped(node, self.variables)

    def _collect(self, parts: list[Part]) -> dict[str, list[Occurrence]]:
        """Fields by response key, over fragments, as execution merges them."""
        groups: dict[str, list[Occurrence]] = {}
        for parent, selection_set in parts:
            self._collect_into(groups, parent, selection_set, set())
        return groups

    def _collect_into(
        self,
        groups: dict[str, list[Occurrence]],
        parent: GraphQLNamedType,
        selection_set: SelectionSetNode,
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                groups.setdefault(key, []).append((parent, selection))
            elif isinstance(selection, InlineFragmentNode):
                on = self._condition(selection.type_condition, parent)
                self._collect_into(groups, on, selection.selection_set, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in visited:
                    continue
                visited.add(name)
                on = self._condition(fragment.type_condition, parent)
                self._collect_into(groups, on, fragment.selection_set, visited)

    def _condition(self, condition: NamedTypeNode | None, parent: GraphQLNamedType) -> GraphQLNamedType:
        if condition is None:
            return parent
        named = self.schema.get_type(condition.name.value)
        return named if named is not None and is_composite_type(named) else parent


def _weight(parent: GraphQLNamedType, node: FieldNode) -> int:
    name = node.name.value
    if name.startswith("__"):
        return INTROSPECTION_WEIGHTS.get(name, 1)
    return FIELD_WEIGHTS.get((parent.name, name), 1)


def _field_of(parent: GraphQLNamedType, node: FieldNode) -> GraphQLField | None:
    # Introspection is priced by its weight alone (its answer is bounded by the schema): a leaf here.
    if node.name.value.startswith("__"):
        return None
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return parent.fields.get(node.name.value)
    return None


def _argument(node: FieldNode, name: str) -> ValueNode | None:
    return next((a.value for a in node.arguments or () if a.name.value == name), None)
