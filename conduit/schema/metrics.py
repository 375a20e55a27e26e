"""Counting and timing GraphQL operations, by type and outcome, as a schema extension.

An operation's outcome is `rejected` when it never ran (a syntax, validation, cost or input error),
`error` when it ran and its result carries errors, else `success`. Its type is `unknown` when the
document did not parse, or named no operation it holds. Operation names are not labels: clients choose
them freely.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from conduit import metrics


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        start = time.perf_counter()
        yield
        context = self.execution_context
        try:
            kind = context.operation_type.value
        except RuntimeError:
            kind = "unknown"
        if context.pre_execution_errors:
            outcome = "rejected"
        elif getattr(context.result, "errors", None):
            outcome = "error"
        else:
            outcome = "success"
        metrics.GRAPHQL_OPERATIONS.labels(kind, outcome).inc()
        metrics.GRAPHQL_DURATION.labels(kind).observe(time.perf_counter() - start)
