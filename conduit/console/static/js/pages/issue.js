// One issue: its latest event (stack trace with in-app frames, tags), recent events, comments and
// linked tickets with their live status; resolve, ignore, assign, comment, create or link a ticket.
// Refreshed whenever an event names the issue (its status, a link, a ticket's change in the tracker).

import { ApiError, can, gql, payload } from "../api.js";
import { announce, badge, field, h, notice, preserving, replace, table, time } from "../dom.js";
import { live, mentions, serial } from "../live.js";

const ISSUE = `query Issue($id: ID!, $members: Boolean!, $installations: Boolean!) {
  issue(id: $id) {
    id title culprit level status count firstSeen lastSeen resolvedAt
    project { id name }
    assignee { id name email }
    latestEvent { id eventId timestamp message release environment platform
      tags { key value }
      exceptions { type value module stacktrace { filename function module lineno inApp } } }
    events(first: 10) { nodes { id eventId timestamp message release environment } }
    comments(first: 50) { nodes { id body createdAt authorId source { provider authorName } } }
    links { id broken createdAt externalIssue { id key url title status statusCategory assignee deleted syncError lastSyncedAt
      installation { id provider { name } account { name } } } }
  }
  organization {
    members(first: 100) @include(if: $members) { nodes { id name email } }
    installations(first: 50) @include(if: $installations) { nodes { id status provider { key name } account { name } } }
  }
}`;
const UPDATE = `mutation Update($input: UpdateIssueInput!) { updateIssue(input: $input) { __typename
  ... on UpdateIssuePayload { issue { id status } } ... on UserError { message } } }`;
const COMMENT = `mutation Comment($issue: ID!, $body: String!) { addComment(issueId: $issue, body: $body) { __typename
  ... on AddCommentPayload { comment { id } } ... on UserError { message } } }`;
const CREATE = `mutation Ticket($issue: ID!, $installation: ID!, $target: String!, $title: String) {
  createExternalIssue(issueId: $issue, installationId: $installation, target: $target, title: $title) { __typename
    ... on CreateExternalIssuePayload { request { id state error externalIssue { key url } } } ... on UserError { message } } }`;
const REQUEST = "query Request($id: ID!) { ticketRequest(id: $id) { id state error externalIssue { key url } } }";
const LINK = `mutation Link($issue: ID!, $installation: ID!, $key: String!) {
  linkExternalIssue(issueId: $issue, installationId: $installation, key: $key) { __typename
    ... on LinkExternalIssuePayload { link { id } } ... on UserError { message } } }`;
const UNLINK = `mutation Unlink($id: ID!) { unlinkExternalIssue(linkId: $id) { __typename ... on UserError { message } } }`;

function frames(exception) {
  const list = exception.stacktrace;
  if (!list.length) return h("p", { class: "muted" }, "No stack trace.");
  const showAll = h("input", { type: "checkbox" });
  const ol = h("ol", { class: "frames only-app" }, list.slice().reverse().map((frame) =>
    h("li", { class: frame.inApp ? "frame in-app" : "frame" },
      h("span", { class: "mono" }, frame.filename || frame.module || "?"),
      frame.lineno ? h("span", { class: "mono muted" }, `:${frame.lineno}`) : null,
      " in ", h("strong", { class: "mono" }, frame.function || "?"),
      frame.inApp ? badge("in app", "in-app") : null)));
  showAll.addEventListener("change", () => ol.classList.toggle("only-app", !showAll.checked));
  return h("div", {}, h("label", { class: "inline" }, showAll, " Show library frames"), ol);
}

function actions(issue, refresh, status) {
  if (!can("issue:write")) return null;
  async function set(value, label) {
    try {
      payload((await gql(UPDATE, { input: { id: issue.id, status: value } })).updateIssue, "UpdateIssuePayload");
      announce(label);
      await refresh();
    } catch (error) {
      replace(status, notice(error.message));
    }
  }
  const buttons = [];
  if (issue.status !== "RESOLVED") buttons.push(h("button", { type: "button", class: "primary", onclick: () => set("RESOLVED", "Resolved") }, "Resolve"));
  if (issue.status !== "IGNORED") buttons.push(h("button", { type: "button", onclick: () => set("IGNORED", "Ignored") }, "Ignore"));
  if (issue.status !== "UNRESOLVED") buttons.push(h("button", { type: "button", onclick: () => set("UNRESOLVED", "Reopened") }, "Unresolve"));
  return h("div", { class: "row" }, buttons);
}

function assign(issue, members, refresh, status) {
  if (!members) return h("p", {}, "Assignee: ", issue.assignee ? issue.assignee.name : "nobody");
  const select = h("select", { disabled: !can("issue:write") },
    h("option", { value: "" }, "Nobody"),
    members.nodes.map((m) => h("option", { value: m.id, selected: issue.assignee && issue.assignee.id === m.id }, m.name || m.email)));
  select.addEventListener("change", async () => {
    try {
      payload((await gql(UPDATE, { input: { id: issue.id, assigneeId: select.value || null } })).updateIssue, "UpdateIssuePayload");
      announce("Assignee saved");
      await refresh();
    } catch (error) {
      replace(status, notice(error.message));
    }
  });
  return field("Assignee", select);
}

function tickets(issue, installations, refresh, status) {
  const rows = issue.links.map((link) => {
    const t = link.externalIssue;
    return h("tr", { dataset: { link: link.id } },
      h("td", {}, h("a", { href: t.url, target: "_blank", rel: "noopener noreferrer" }, t.key), " ", t.title),
      h("td", { "data-ticket-status": t.status }, badge(t.status, t.statusCategory.toLowerCase()), t.deleted ? badge("deleted", "error") : null, link.broken ? badge("broken", "error") : null),
      h("td", {}, t.installation ? `${t.installation.provider.name}${t.installation.account ? ` · ${t.installation.account.name}` : ""}` : "—"),
      h("td", {}, t.assignee || "—"),
      h("td", {}, t.syncError ? h("span", { class: "error-text" }, t.syncError) : time(t.lastSyncedAt)),
      h("td", {}, can("issue:write") ? h("button", { type: "button", class: "link", onclick: async () => {
        try { payload((await gql(UNLINK, { id: link.id })).unlinkExternalIssue, "UnlinkExternalIssuePayload"); await refresh(); } catch (error) { replace(status, notice(error.message)); }
      } }, "Unlink") : null));
  });
  const section = h("section", { "aria-labelledby": "tickets-title" }, h("h2", { id: "tickets-title" }, "Tickets"),
    table(["Ticket", "Status", "Tracker", "Assignee", "Synced", ""], rows, "Linked tickets"));
  if (!can("issue:write") || !installations) return section;
  const active = installations.nodes.filter((i) => i.status === "ACTIVE");
  if (!active.length) {
    section.append(h("p", { class: "muted" }, "Connect a tracker to create tickets", can("installation:write") ? [": ", h("a", { href: "/installations" }, "Installations")] : ": ask an admin", "."));
    return section;
  }
  const choose = () => h("select", { name: "installation" }, active.map((i) => h("option", { value: i.id }, `${i.provider.name}${i.account ? ` · ${i.account.name}` : ""}`)));
  const createInstallation = choose();
  const target = h("input", { type: "text", name: "target", required: true, placeholder: "owner/repo or project key" });
  const title = h("input", { type: "text", name: "title", value: issue.title, maxlength: 250 });
  const createStatus = h("div", { "aria-live": "polite" });
  const create = h("form", { class: "card", "aria-labelledby": "create-title" }, h("h3", { id: "create-title" }, "Create a ticket"),
    field("Tracker", createInstallation), field("Repository or project", target), field("Title", title),
    h("button", { type: "submit", class: "primary" }, "Create ticket"), createStatus);
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(createStatus, h("span", { class: "muted" }, "Creating…"));
    try {
      const made = payload((await gql(CREATE, { issue: issue.id, installation: createInstallation.value, target: target.value.trim(), title: title.value.trim() || null })).createExternalIssue, "CreateExternalIssuePayload");
      let request = made.request;
      // The ticket is made by a job; follow the request until it is done.
      for (let i = 0; i < 60 && request.state === "PENDING"; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        request = (await gql(REQUEST, { id: request.id })).ticketRequest;
      }
      if (request.state === "FAILED") throw new ApiError(request.error || "the tracker refused the ticket");
      replace(createStatus, request.externalIssue ? notice(`Created ${request.externalIssue.key}`, "success") : notice("Requested; the ticket will appear here.", "success"));
      await refresh();
    } catch (error) {
      replace(createStatus, notice(error.message));
    }
  });
  const linkInstallation = choose();
  const key = h("input", { type: "text", name: "key", required: true, placeholder: "owner/repo#12, PROJ-3, …" });
  const linkStatus = h("div", { "aria-live": "polite" });
  const link = h("form", { class: "card", "aria-labelledby": "link-title" }, h("h3", { id: "link-title" }, "Link an existing ticket"),
    field("Tracker", linkInstallation), field("Ticket key", key), h("button", { type: "submit" }, "Link ticket"), linkStatus);
  link.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      payload((await gql(LINK, { issue: issue.id, installation: linkInstallation.value, key: key.value.trim() })).linkExternalIssue, "LinkExternalIssuePayload");
      key.value = "";
      await refresh();
    } catch (error) {
      replace(linkStatus, notice(error.message));
    }
  });
  section.append(h("div", { class: "two" }, create, link));
  return section;
}

function comments(issue, refresh) {
  const list = h("ol", { class: "comments" }, issue.comments.nodes.map((c) => h("li", {},
    h("div", { class: "muted small" }, c.source ? `${c.source.authorName || "someone"} in ${c.source.provider}` : "in Conduit", " · ", time(c.createdAt)),
    h("p", { class: "pre" }, c.body))));
  const section = h("section", { "aria-labelledby": "comments-title" }, h("h2", { id: "comments-title" }, "Comments"), list);
  if (!can("issue:write")) return section;
  const body = h("textarea", { name: "body", rows: 3, required: true, maxlength: 10000 });
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", {}, field("Add a comment", body), h("button", { type: "submit" }, "Comment"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      payload((await gql(COMMENT, { issue: issue.id, body: body.value })).addComment, "AddCommentPayload");
      body.value = "";
      await refresh();
    } catch (error) {
      replace(status, notice(error.message));
    }
  });
  section.append(form);
  return section;
}

export async function render(main, params) {
  const id = params.id;
  const status = h("div", { "aria-live": "assertive" });
  async function load() {
    const data = await gql(ISSUE, { id, members: can("member:read"), installations: can("installation:read") });
    const issue = data.issue;
    if (!issue) {
      replace(main, h("h1", {}, "Issue not found"), h("p", {}, h("a", { href: "/issues" }, "Back to issues")));
      return;
    }
    document.title = `${issue.title} · Conduit`;
    const event = issue.latestEvent;
    replace(main,
      h("p", { class: "crumbs" }, h("a", { href: `/issues?project=${encodeURIComponent(issue.project ? issue.project.id : "")}` }, issue.project ? issue.project.name : "Issues"), " / issue"),
      h("div", { class: "page-head" }, h("h1", {}, issue.title), h("span", { id: "issue-status", "data-status": issue.status }, badge(issue.status))),
      h("p", { class: "mono muted" }, issue.culprit),
      status,
      h("div", { class: "facts" },
        h("div", {}, h("span", { class: "muted" }, "Level "), badge(issue.level)),
        h("div", {}, h("span", { class: "muted" }, "Events "), issue.count.toLocaleString("en")),
        h("div", {}, h("span", { class: "muted" }, "First seen "), time(issue.firstSeen)),
        h("div", {}, h("span", { class: "muted" }, "Last seen "), time(issue.lastSeen))),
      h("div", { class: "row toolbar" }, actions(issue, reload, status), assign(issue, data.organization.members, reload, status)),
      tickets(issue, data.organization.installations, reload, status),
      event ? h("section", { "aria-labelledby": "trace-title" }, h("h2", { id: "trace-title" }, "Stack trace"),
        event.exceptions.length ? event.exceptions.slice().reverse().map((ex) => h("div", { class: "exception" }, h("h3", { class: "mono" }, `${ex.type || "Error"}: ${ex.value || ""}`), frames(ex))) : h("p", {}, event.message)) : null,
      event ? h("section", { "aria-labelledby": "tags-title" }, h("h2", { id: "tags-title" }, "Tags"),
        h("dl", { class: "tags" }, [["release", event.release], ["environment", event.environment], ["platform", event.platform]].filter(([, v]) => v).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
          event.tags.map((t) => [h("dt", {}, t.key), h("dd", {}, t.value)]))) : null,
      h("section", { "aria-labelledby": "events-title" }, h("h2", { id: "events-title" }, "Recent events"),
        table(["Event", "When", "Release", "Environment", "Message"], issue.events.nodes.map((e) => h("tr", {}, h("td", { class: "mono" }, e.eventId.slice(0, 12)), h("td", {}, time(e.timestamp)), h("td", {}, e.release || "—"), h("td", {}, e.environment || "—"), h("td", {}, e.message))), "Recent events")),
      comments(issue, reload));
  }
  // Every redraw after the first (an action's, a live event's) goes through one queue.
  const reload = serial(() => preserving(main, load));
  await load();
  const refresh = reload;
  const linked = () => [...main.querySelectorAll("[data-link]")].map((el) => el.dataset.link);
  return live((event) => mentions(event, id) || linked().some((link) => mentions(event, link)) || event.type === "external_issue.updated", refresh);
}
