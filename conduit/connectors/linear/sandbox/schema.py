"""The slice of Linear's GraphQL schema the sandbox serves, executed by graphql-core.

A real GraphQL engine reads whatever document a client sends: unknown fields, wrong argument types
and malformed documents are refused with a `GRAPHQL_VALIDATION_FAILED` error, as Linear refuses
them, instead of a client's operations being matched by text. The types keep Linear's names and
field names (a subset of them); resolvers are the `Query` and `Mutation` functions below, fields of
objects are resolved from the dicts of `model.Render`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    build_schema,
)

from conduit.connectors.linear.sandbox.model import Issue, State, Team, User, connection
from conduit.connectors.sandbox.oauth import Grant
from conduit.connectors.sandbox.state import parse_time

if TYPE_CHECKING:
    from conduit.connectors.linear.sandbox.sandbox import LinearSandbox

SDL = """
scalar DateTime
scalar DateTimeOrDuration
scalar JSONObject

enum PaginationOrderBy { createdAt updatedAt }

type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }

type Organization { id: ID! name: String! urlKey: String! }

type User {
  id: ID! name: String! displayName: String! email: String! active: Boolean! admin: Boolean! url: String!
  organization: Organization!
}
type UserEdge { node: User! cursor: String! }
type UserConnection { nodes: [User!]! edges: [UserEdge!]! pageInfo: PageInfo! }

type WorkflowState { id: ID! name: String! type: String! position: Float! color: String! team: Team! }
type WorkflowStateEdge { node: WorkflowState! cursor: String! }
type WorkflowStateConnection { nodes: [WorkflowState!]! edges: [WorkflowStateEdge!]! pageInfo: PageInfo! }

type Team {
  id: ID! key: String! name: String!
  states(first: Int, after: String, last: Int, before: String, filter: WorkflowStateFilter,
    includeArchived: Boolean, orderBy: PaginationOrderBy): WorkflowStateConnection!
  issues(first: Int, after: String, last: Int, before: String, filter: IssueFilter, includeArchived:
    Boolean,
    orderBy: PaginationOrderBy): IssueConnection!
}
type TeamEdge { node: Team! cursor: String! }
type TeamConnection { nodes: [Team!]! edges: [TeamEdge!]! pageInfo: PageInfo! }

type Comment {
  id: ID! body: String! url: String! createdAt: DateTime! updatedAt: DateTime! user: User issue: Issue
}
type CommentEdge { node: Comment! cursor: String! }
type CommentConnection { nodes: [Comment!]! edges: [CommentEdge!]! pageInfo: PageInfo! }

type Attachment {
  id: ID! url: String! title: String! subtitle: String createdAt: DateTime! updatedAt: DateTime! issue:
    Issue!
}
type AttachmentEdge { node: Attachment! cursor: String! }
type AttachmentConnection { nodes: [Attachment!]! edges: [AttachmentEdge!]! pageInfo: PageInfo! }

type Issue {
  id: ID! identifier: String! number: Float! title: String! description: String url: String! priority:
    Float!
  createdAt: DateTime! updatedAt: DateTime! completedAt: DateTime canceledAt: DateTime archivedAt: DateTime
  trashed: Boolean previousIdentifiers: [String!]! state: WorkflowState! team: Team! assignee: User
    creator: User labelIds: [String!]!
  comments(first: Int, after: String, last: Int, before: String, includeArchived: Boolean,
    orderBy: PaginationOrderBy): CommentConnection!
  attachments(first: Int, after: String, last: Int, before: String, includeArchived: Boolean,
    orderBy: PaginationOrderBy): AttachmentConnection!
}
type IssueLabel { id: ID! name: String! team: Team }
type IssueLabelEdge { node: IssueLabel! cursor: String! }
type IssueLabelConnection { nodes: [IssueLabel!]! edges: [IssueLabelEdge!]! pageInfo: PageInfo! }
type IssueEdge { node: Issue! cursor: String! }
type IssueConnection { nodes: [Issue!]! edges: [IssueEdge!]! pageInfo: PageInfo! }
type IssueSearchResult {
  id: ID! identifier: String! number: Float! title: String! description: String url: String! priority:
    Float!
  createdAt: DateTime! updatedAt: DateTime! completedAt: DateTime canceledAt: DateTime archivedAt: DateTime
  trashed: Boolean previousIdentifiers: [String!]! state: WorkflowState! team: Team! assignee: User
    creator: User
}
type IssueSearchResultEdge { node: IssueSearchResult! cursor: String! }
type IssueSearchPayload {
  nodes: [IssueSearchResult!]! edges: [IssueSearchResultEdge!]! pageInfo: PageInfo! totalCount: Float!
}

type Webhook {
  id: ID! url: String label: String enabled: Boolean! resourceTypes: [String!]! allPublicTeams: Boolean!
  secret: String createdAt: DateTime! team: Team creator: User
}
type WebhookEdge { node: Webhook! cursor: String! }
type WebhookConnection { nodes: [Webhook!]! edges: [WebhookEdge!]! pageInfo: PageInfo! }

input IDComparator { eq: ID neq: ID in: [ID!] nin: [ID!] }
input IssueIDComparator { eq: ID neq: ID in: [ID!] nin: [ID!] }
input NumberComparator { eq: Float neq: Float in: [Float!] nin: [Float!] gt: Float gte: Float lt: Float
  lte: Float }
input StringComparator {
  eq: String neq: String in: [String!] nin: [String!] eqIgnoreCase: String neqIgnoreCase: String
  contains: String containsIgnoreCase: String notContains: String notContainsIgnoreCase: String
  startsWith: String startsWithIgnoreCase: String endsWith: String
}
input NullableStringComparator {
  eq: String neq: String in: [String!] nin: [String!] eqIgnoreCase: String neqIgnoreCase: String
  contains: String containsIgnoreCase: String notContains: String notContainsIgnoreCase: String
  startsWith: String startsWithIgnoreCase: String endsWith: String null: Boolean
}
input DateComparator {
  eq: DateTimeOrDuration neq: DateTimeOrDuration gt: DateTimeOrDuration gte: DateTimeOrDuration
  lt: DateTimeOrDuration lte: DateTimeOrDuration
}
input NullableDateComparator {
  eq: DateTimeOrDuration neq: DateTimeOrDuration gt: DateTimeOrDuration gte: DateTimeOrDuration
  lt: DateTimeOrDuration lte: DateTimeOrDuration null: Boolean
}
input TeamFilter { id: IDComparator key: StringComparator name: StringComparator and: [TeamFilter!] or:
  [TeamFilter!] }
input UserFilter {
  id: IDComparator email: StringComparator name: StringComparator displayName: StringComparator isMe:
    BooleanComparator
  and: [UserFilter!] or: [UserFilter!]
}
input NullableUserFilter {
  id: IDComparator email: StringComparator name: StringComparator displayName: StringComparator isMe:
    BooleanComparator
  null: Boolean and: [NullableUserFilter!] or: [NullableUserFilter!]
}
input BooleanComparator { eq: Boolean neq: Boolean }
input WorkflowStateFilter {
  id: IDComparator name: StringComparator type: StringComparator team: TeamFilter
  and: [WorkflowStateFilter!] or: [WorkflowStateFilter!]
}
input IssueFilter {
  id: IssueIDComparator number: NumberComparator title: StringComparator description:
    NullableStringComparator
  team: TeamFilter state: WorkflowStateFilter assignee: NullableUserFilter creator: NullableUserFilter
  createdAt: DateComparator updatedAt: DateComparator completedAt: NullableDateComparator
  canceledAt: NullableDateComparator archivedAt: NullableDateComparator
  and: [IssueFilter!] or: [IssueFilter!]
}

input IssueCreateInput {
  id: String teamId: String! title: String description: String assigneeId: String stateId: String
    priority: Int labelIds: [String!]
}
input IssueLabelFilter { id: IDComparator name: StringComparator }
input IssueLabelCreateInput { id: String name: String! teamId: String color: String description: String }
input IssueUpdateInput {
  title: String description: String assigneeId: String stateId: String priority: Int teamId: String
    trashed: Boolean
}
input CommentCreateInput { id: String issueId: String body: String }
input AttachmentCreateInput {
  id: String issueId: String! url: String! title: String! subtitle: String iconUrl: String metadata:
    JSONObject
}
input WebhookCreateInput {
  id: String url: String! resourceTypes: [String!]! teamId: String allPublicTeams: Boolean secret: String
  label: String enabled: Boolean = true
}

type IssuePayload { success: Boolean! lastSyncId: Float! issue: Issue }
type IssueArchivePayload { success: Boolean! lastSyncId: Float! entity: Issue }
type CommentPayload { success: Boolean! lastSyncId: Float! comment: Comment! }
type AttachmentPayload { success: Boolean! lastSyncId: Float! attachment: Attachment! }
type WebhookPayload { success: Boolean! lastSyncId: Float! webhook: Webhook! }
type IssueLabelPayload { success: Boolean! lastSyncId: Float! issueLabel: IssueLabel! }
type DeletePayload { success: Boolean! lastSyncId: Float! entityId: String! }

type Query {
  viewer: User!
  organization: Organization!
  user(id: String!): User!
  users(filter: UserFilter, first: Int, after: String, last: Int, before: String, includeArchived: Boolean,
    includeDisabled: Boolean, orderBy: PaginationOrderBy): UserConnection!
  team(id: String!): Team!
  teams(filter: TeamFilter, first: Int, after: String, last: Int, before: String, includeArchived: Boolean,
    orderBy: PaginationOrderBy): TeamConnection!
  workflowStates(filter: WorkflowStateFilter, first: Int, after: String, last: Int, before: String,
    includeArchived: Boolean, orderBy: PaginationOrderBy): WorkflowStateConnection!
  issue(id: String!): Issue!
  issues(filter: IssueFilter, first: Int, after: String, last: Int, before: String, includeArchived:
    Boolean,
    orderBy: PaginationOrderBy): IssueConnection!
  searchIssues(term: String!, filter: IssueFilter, teamId: String, includeComments: Boolean, first: Int,
    after: String, last: Int, before: String, includeArchived: Boolean, orderBy: PaginationOrderBy):
      IssueSearchPayload!
  comment(id: String!): Comment!
  issueLabels(filter: IssueLabelFilter, first: Int, after: String, last: Int, before: String,
    includeArchived: Boolean, orderBy: PaginationOrderBy): IssueLabelConnection!
  webhook(id: String!): Webhook!
  webhooks(first: Int, after: String, last: Int, before: String, includeArchived: Boolean,
    orderBy: PaginationOrderBy): WebhookConnection!
}

type Mutation {
  issueCreate(input: IssueCreateInput!): IssuePayload!
  issueLabelCreate(input: IssueLabelCreateInput!): IssueLabelPayload!
  issueUpdate(id: String!, input: IssueUpdateInput!): IssuePayload!
  issueDelete(id: String!, permanentlyDelete: Boolean): IssueArchivePayload!
  commentCreate(input: CommentCreateInput!): CommentPayload!
  attachmentCreate(input: AttachmentCreateInput!): AttachmentPayload!
  webhookCreate(input: WebhookCreateInput!): WebhookPayload!
  webhookDelete(id: String!): DeletePayload!
}
"""


SCHEMA: GraphQLSchema = build_schema(SDL)


class Failure(Exception):
    """An error Linear answers inside the GraphQL document; `extensions` travel with it."""

    def __init__(self, message: str, kind: str, code: str, user_message: str, status: int = 400) -> None:
        super().__init__(message)
        self.extensions: dict[str, Any] = {
            "type": kind,
            "code": code,
            "statusCode": status,
            "userError": True,
            "userPresentableMessage": user_message,
        }


def not_found(entity: str) -> Failure:
    return Failure(
        f"Entity not found: {entity}", "invalid input", "INPUT_ERROR", f"Could not find referenced {entity}."
    )


def invalid(message: str) -> Failure:
    return Failure("Argument Validation Error", "invalid input", "INPUT_ERROR", message)


def forbidden(scope: str) -> Failure:
    return Failure(
        f"Invalid scope: `{scope}` required",
        "forbidden",
        "FORBIDDEN",
        f"This operation needs the `{scope}` scope, which this application was not granted.",
        403,
    )


# -- filters ------------------------------------------------------------------------------------------
def _time(value: Any) -> datetime:
    try:
        return parse_time(str(value))
    except ValueError:
        raise invalid(f"{value!r} is not a date (durations are not supported here)") from None


def compare_string(value: str | None, cmp: dict[str, Any]) -> bool:
    text = value or ""
    low = text.lower()
    checks: dict[str, Callable[[Any], bool]] = {
        "eq": lambda v: value == v,
        "neq": lambda v: value != v,
        "in": lambda v: value in v,
        "nin": lambda v: value not in v,
        "eqIgnoreCase": lambda v: low == str(v).lower(),
        "neqIgnoreCase": lambda v: low != str(v).lower(),
        "contains": lambda v: str(v) in text,
        "containsIgnoreCase": lambda v: str(v).lower() in low,
        "notContains": lambda v: str(v) not in text,
        "notContainsIgnoreCase": lambda v: str(v).lower() not in low,
        "startsWith": lambda v: text.startswith(str(v)),
        "startsWithIgnoreCase": lambda v: low.startswith(str(v).lower()),
        "endsWith": lambda v: text.endswith(str(v)),
        "null": lambda v: (value is None) == bool(v),
    }
    return all(checks[op](v) for op, v in cmp.items() if v is not None)


def compare_number(value: float, cmp: dict[str, Any]) -> bool:
    checks: dict[str, Callable[[Any], bool]] = {
        "eq": lambda v: value == v,
        "neq": lambda v: value != v,
        "in": lambda v: value in v,
        "nin": lambda v: value not in v,
        "gt": lambda v: value > v,
        "gte": lambda v: value >= v,
        "lt": lambda v: value < v,
        "lte": lambda v: value <= v,
    }
    return all(checks[op](v) for op, v in cmp.items() if v is not None)


def compare_date(value: datetime | None, cmp: dict[str, Any]) -> bool:
    for op, v in cmp.items():
        if v is None:
            continue
        if op == "null":
            if (value is None) != bool(v):
                return False
            continue
        if value is None:
            return False
        wanted = _time(v)
        ok = {
            "eq": value == wanted,
            "neq": value != wanted,
            "gt": value > wanted,
            "gte": value >= wanted,
            "lt": value < wanted,
            "lte": value <= wanted,
        }[op]
        if not ok:
            return False
    return True


def _logic(f: dict[str, Any], test: Callable[[dict[str, Any]], bool]) -> bool:
    if f.get("and") and not all(test(sub) for sub in f["and"]):
        return False
    return not (f.get("or") and not any(test(sub) for sub in f["or"]))


def team_matches(team: Team, f: dict[str, Any]) -> bool:
    if f.get("id") and not compare_string(team.id, f["id"]):
        return False
    if f.get("key") and not compare_string(team.key, f["key"]):
        return False
    if f.get("name") and not compare_string(team.name, f["name"]):
        return False
    return _logic(f, lambda sub: team_matches(team, sub))


def user_matches(user: User | None, f: dict[str, Any], me: str) -> bool:
    if f.get("null") is not None and (user is None) != f["null"]:
        return False
    rest = {k: v for k, v in f.items() if k != "null" and v is not None}
    if not rest:
        return True
    if user is None:
        return False
    for name, value in (
        ("id", user.id),
        ("email", user.email),
        ("name", user.name),
        ("displayName", user.display_name),
    ):
        if f.get(name) and not compare_string(value, f[name]):
            return False
    if f.get("isMe") and not compare_string(str(user.id == me), {k: str(v) for k, v in f["isMe"].items()}):
        return False
    return _logic(f, lambda sub: user_matches(user, sub, me))


def state_matches(state: State, team: Team, f: dict[str, Any]) -> bool:
    for name, value in (("id", state.id), ("name", state.name), ("type", state.type)):
        if f.get(name) and not compare_string(value, f[name]):
            return False
    if f.get("team") and not team_matches(team, f["team"]):
        return False
    return _logic(f, lambda sub: state_matches(state, team, sub))


def issue_matches(sb: LinearSandbox, issue: Issue, f: dict[str, Any], me: str) -> bool:
    team = sb.teams[issue.team]
    # Issue ids compare as the UUID or the identifier, as `issue(id:)` reads them.
    if f.get("id") and not any(compare_string(v, f["id"]) for v in (issue.id, issue.identifier)):
        return False
    checks: list[tuple[str, Callable[[Any], bool]]] = [
        ("number", lambda c: compare_number(float(issue.number), c)),
        ("title", lambda c: compare_string(issue.title, c)),
        ("description", lambda c: compare_string(issue.description, c)),
        ("team", lambda c: team_matches(team, c)),
        ("state", lambda c: state_matches(issue.state, team, c)),
        ("assignee", lambda c: user_matches(sb.users.get(issue.assignee or ""), c, me)),
        ("creator", lambda c: user_matches(sb.users.get(issue.creator), c, me)),
        ("createdAt", lambda c: compare_date(issue.created, c)),
        ("updatedAt", lambda c: compare_date(issue.updated, c)),
        ("completedAt", lambda c: compare_date(issue.completed_at, c)),
        ("canceledAt", lambda c: compare_date(issue.canceled_at, c)),
        ("archivedAt", lambda c: compare_date(issue.archived_at, c)),
    ]
    if not all(test(f[name]) for name, test in checks if f.get(name)):
        return False
    return _logic(f, lambda sub: issue_matches(sb, issue, sub, me))


# -- complexity -----------------------------------------------------------------------------------
def complexity(document: Any, operation: OperationDefinitionNode, variables: dict[str, Any]) -> int:
    """Linear's scoring, approximately: 0.1 a property, 1 an object, a connection's children times
    its page size (50 unless `first`/`last` says), rounded up."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def size(field: FieldNode) -> int | None:
        for arg in field.arguments or ():
            if arg.name.value in ("first", "last"):
                if isinstance(arg.value, IntValueNode):
                    return int(arg.value.value)
                if isinstance(arg.value, VariableNode):
                    value = variables.get(arg.value.name.value)
                    return int(value) if isinstance(value, int) else 50
        return None

    def score(selection_set: SelectionSetNode | None, depth: int = 0) -> float:
        if selection_set is None or depth > 20:
            return 0.0
        total = 0.0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.selection_set is None:
                    total += 0.1
                    continue
                inner = score(selection.selection_set, depth + 1)
                page = size(selection)
                connection_like = any(
                    isinstance(s, FieldNode) and s.name.value in ("nodes", "edges")
                    for s in selection.selection_set.selections
                )
                total += 1 + inner * ((page if page is not None else 50) if connection_like else 1)
            elif isinstance(selection, InlineFragmentNode):
                total += score(selection.selection_set, depth + 1)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
                total += score(fragments[selection.name.value].selection_set, depth + 1)
        return total

    return max(1, math.ceil(score(operation.selection_set)))


# -- roots ----------------------------------------------------------------------------------------
def root(sb: LinearSandbox, grant: Grant) -> dict[str, Any]:
    """The root value of one request: every Query and Mutation field, bound to who is asking."""
    r = sb.render
    me = grant.user
    scopes = {s.strip() for s in grant.scope.replace(" ", ",").split(",") if s.strip()}

    def need(*any_of: str) -> None:
        if not scopes & {*any_of, "admin"}:
            raise forbidden(any_of[0])

    def issue_page(items: list[Issue], args: dict[str, Any]) -> dict[str, Any]:
        field = "updated" if args.get("orderBy") == "updatedAt" else "created"
        ordered = sorted(items, key=lambda i: getattr(i, field), reverse=True)
        return connection(ordered, r.issue, lambda i: i.id, args)

    def listed(args: dict[str, Any], only: Callable[[Issue], bool] = lambda i: True) -> list[Issue]:
        f = args.get("filter") or {}
        archived = bool(args.get("includeArchived"))
        return [
            i
            for i in sb.issues.values()
            if not i.purged
            and (archived or i.archived_at is None)
            and only(i)
            and issue_matches(sb, i, f, me)
        ]

    def issues(info: Any, **args: Any) -> dict[str, Any]:
        return issue_page(listed(args), args)

    def search(info: Any, term: str, **args: Any) -> dict[str, Any]:
        words = [w.lower() for w in term.split()]
        if not words:
            raise invalid("Search term must not be empty.")
        team_id = args.get("teamId")

        def hit(i: Issue) -> bool:
            if words == [i.identifier.lower()]:
                return True
            text = f"{i.title}\n{i.description or ''}"
            if args.get("includeComments"):
                text += "\n" + "\n".join(c.body for c in i.comments)
            text = text.lower()
            in_team = team_id is None or team_id in (sb.teams[i.team].id, i.team)
            return in_team and all(w in text for w in words)

        found = listed(args, hit)
        page = issue_page(
            sorted(found, key=lambda i: i.updated, reverse=True), {**args, "orderBy": "updatedAt"}
        )
        return page | {"totalCount": float(len(found))}

    def issue(info: Any, id: str) -> dict[str, Any]:
        return r.issue(sb.issue_for(id))

    def teams(info: Any, **args: Any) -> dict[str, Any]:
        f = args.get("filter") or {}
        found = [t for t in sb.teams.values() if team_matches(t, f)]
        return connection(found, r.team, lambda t: t.id, args)

    def team(info: Any, id: str) -> dict[str, Any]:
        return r.team(sb.team_for(id))

    def users(info: Any, **args: Any) -> dict[str, Any]:
        f = args.get("filter") or {}
        found = [u for u in sb.users.values() if user_matches(u, f, me)]
        return connection(found, lambda u: r.user(u.id) or {}, lambda u: u.id, args)

    def user(info: Any, id: str) -> dict[str, Any]:
        found = r.user(id)
        if found is None:
            raise not_found("User")
        return found

    def workflow_states(info: Any, **args: Any) -> dict[str, Any]:
        f = args.get("filter") or {}
        found = [(s, t) for t in sb.teams.values() for s in t.states if state_matches(s, t, f)]
        return connection(found, lambda p: r.state(*p), lambda p: p[0].id, args)

    def issue_labels(info: Any, **args: Any) -> dict[str, Any]:
        f = args.get("filter") or {}
        found = [
            label
            for label in sb.labels.values()
            if (not f.get("id") or compare_string(label.id, f["id"]))
            and (not f.get("name") or compare_string(label.name, f["name"]))
        ]
        return connection(found, r.label, lambda label: label.id, args)

    def comment(info: Any, id: str) -> dict[str, Any]:
        for i in sb.issues.values():
            for c in i.comments:
                if c.id == id and not i.purged:
                    return r.comment(i, c)
        raise not_found("Comment")

    def webhooks(info: Any, **args: Any) -> dict[str, Any]:
        mine = [w for w in sb.webhooks.values() if w.client_id == grant.client_id]
        return connection(mine, r.webhook, lambda w: w.id, args)

    def webhook(info: Any, id: str) -> dict[str, Any]:
        hook = sb.webhooks.get(id)
        if hook is None or hook.client_id != grant.client_id:
            raise not_found("Webhook")
        return r.webhook(hook)

    # -- mutations --------------------------------------------------------------------------------
    def issue_create(info: Any, input: dict[str, Any]) -> dict[str, Any]:
        need("write", "issues:create")
        made = sb.create_issue(
            sb.team_for(input["teamId"]),
            me,
            input.get("title") or "",
            input.get("description"),
            assignee=input.get("assigneeId"),
            state_id=input.get("stateId"),
            label_ids=list(input.get("labelIds") or []),
        )
        return {"success": True, "lastSyncId": sb.sync_id(), "issue": r.issue(made)}

    def issue_label_create(info: Any, input: dict[str, Any]) -> dict[str, Any]:
        need("write")
        team = sb.team_for(input["teamId"]) if input.get("teamId") else None
        made = sb.create_label(input["name"], team)
        return {"success": True, "lastSyncId": sb.sync_id(), "issueLabel": r.label(made)}

    def issue_update(info: Any, id: str, input: dict[str, Any]) -> dict[str, Any]:
        need("write")
        target = sb.issue_for(id)
        sb.update_issue(target, me, input)
        return {"success": True, "lastSyncId": sb.sync_id(), "issue": r.issue(target)}

    def issue_delete(info: Any, id: str, permanentlyDelete: bool | None = None) -> dict[str, Any]:
        need("write")
        target = sb.issue_for(id)
        sb.delete_issue(target, me, permanently=bool(permanentlyDelete))
        return {"success": True, "lastSyncId": sb.sync_id(), "entity": r.issue(target)}

    def comment_create(info: Any, input: dict[str, Any]) -> dict[str, Any]:
        need("write", "comments:create")
        if not input.get("issueId"):
            raise invalid("A comment needs an issueId here.")
        body = input.get("body")
        if not isinstance(body, str) or not body.strip():
            raise invalid("Comment body must not be empty.")
        target = sb.issue_for(input["issueId"])
        made = sb.add_comment(target, me, body)
        return {"success": True, "lastSyncId": sb.sync_id(), "comment": r.comment(target, made)}

    def attachment_create(info: Any, input: dict[str, Any]) -> dict[str, Any]:
        need("write", "issues:create")
        target = sb.issue_for(input["issueId"])
        made = sb.attach(target, me, input["url"], input["title"], input.get("subtitle"))
        return {"success": True, "lastSyncId": sb.sync_id(), "attachment": r.attachment(target, made)}

    def webhook_create(info: Any, input: dict[str, Any]) -> dict[str, Any]:
        need("admin")
        made = sb.create_webhook(
            url=input["url"],
            resource_types=list(input["resourceTypes"]),
            team=sb.team_for(input["teamId"]) if input.get("teamId") else None,
            all_public_teams=bool(input.get("allPublicTeams")),
            secret=input.get("secret"),
            label=input.get("label"),
            enabled=input.get("enabled", True) is not False,
            creator=me,
            client_id=grant.client_id,
        )
        return {"success": True, "lastSyncId": sb.sync_id(), "webhook": r.webhook(made)}

    def webhook_delete(info: Any, id: str) -> dict[str, Any]:
        need("admin")
        hook = sb.webhooks.get(id)
        if hook is None or hook.client_id != grant.client_id:
            raise not_found("Webhook")
        with sb.lock:
            del sb.webhooks[id]
        return {"success": True, "lastSyncId": sb.sync_id(), "entityId": id}

    return {
        "viewer": lambda info: r.user(me),
        "organization": lambda info: r.org(),
        "user": user,
        "users": users,
        "team": team,
        "teams": teams,
        "workflowStates": workflow_states,
        "issue": issue,
        "issues": issues,
        "searchIssues": search,
        "comment": comment,
        "issueLabels": issue_labels,
        "webhook": webhook,
        "webhooks": webhooks,
        "issueCreate": issue_create,
        "issueLabelCreate": issue_label_create,
        "issueUpdate": issue_update,
        "issueDelete": issue_delete,
        "commentCreate": comment_create,
        "attachmentCreate": attachment_create,
        "webhookCreate": webhook_create,
        "webhookDelete": webhook_delete,
    }
