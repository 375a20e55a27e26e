// Issues of a project: search, status filter, sort and keyset paging kept in the URL, so a view can be
// reloaded and shared; refreshed live when an issue or event arrives.

import { gql } from "../api.js";
import { badge, field, h, replace, table, time } from "../dom.js";
import { live } from "../live.js";

const PAGE = 25;
// One request per view: the projects for the filter, and a page of issues of the project picked (or,
// on a first visit, of the first project).
const ISSUES = `query Issues($project: ID!, $picked: Boolean!, $status: IssueStatus, $query: String, $sort: IssueSort!, $first: Int!, $after: String) {
  organization {
    projects(first: 100) { nodes { id name } }
    first: projects(first: 1) @skip(if: $picked) { nodes { ...Page } }
  }
  project(id: $project) @include(if: $picked) { ...Page }
}
fragment Page on Project {
  id
  issues(status: $status, query: $query, sort: $sort, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id title culprit level status count lastSeen assignee { id name email }
      links { id externalIssue { id key url status statusCategory } } }
  }
}`;
const STATUSES = [["UNRESOLVED", "Unresolved"], ["RESOLVED", "Resolved"], ["IGNORED", "Ignored"], ["", "Any status"]];
const SORTS = [["LAST_SEEN", "Last seen"], ["FIRST_SEEN", "First seen"], ["COUNT", "Events"]];

function options(pairs, selected) {
  return pairs.map(([value, label]) => h("option", { value, selected: value === selected }, label));
}

function row(issue) {
  return h("tr", { dataset: { issue: issue.id } },
    h("td", {}, h("a", { href: `/issues/${encodeURIComponent(issue.id)}`, class: "title" }, issue.title), h("div", { class: "muted small mono" }, issue.culprit)),
    h("td", {}, badge(issue.level)),
    h("td", { "data-status": issue.status }, badge(issue.status)),
    h("td", { class: "num" }, issue.count.toLocaleString("en")),
    h("td", {}, time(issue.lastSeen)),
    h("td", {}, issue.assignee ? issue.assignee.name || issue.assignee.email : h("span", { class: "muted" }, "—")),
    h("td", {}, issue.links.map((link) => h("a", { href: link.externalIssue.url, class: "ticket", target: "_blank", rel: "noopener noreferrer" }, link.externalIssue.key, " ", badge(link.externalIssue.status, link.externalIssue.statusCategory.toLowerCase())))),
  );
}

export async function render(main) {
  document.title = "Issues · Conduit";
  const params = new URLSearchParams(location.search);
  const state = {
    project: params.get("project") || "",
    status: params.has("status") ? params.get("status") : "UNRESOLVED",
    query: params.get("q") || "",
    sort: params.get("sort") || "LAST_SEEN",
    after: params.get("after") || null,
  };
  const project = h("select", { name: "project" });
  const status = h("select", { name: "status" }, options(STATUSES, state.status));
  const sort = h("select", { name: "sort" }, options(SORTS, state.sort));
  const search = h("input", { type: "search", name: "q", value: state.query, placeholder: "title or culprit" });
  const filters = h("form", { class: "filters", role: "search", "aria-label": "Filter issues" },
    field("Project", project), field("Status", status), field("Sort by", sort), field("Search", search),
    h("button", { type: "submit" }, "Apply"));
  const results = h("div", { "aria-live": "polite" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });

  function url(extra = {}) {
    const next = new URLSearchParams();
    next.set("project", state.project);
    next.set("status", state.status);
    if (state.query) next.set("q", state.query);
    next.set("sort", state.sort);
    for (const [key, value] of Object.entries(extra)) if (value) next.set(key, value);
    return `/issues?${next}`;
  }

  async function load() {
    const data = await gql(ISSUES, {
      project: state.project,
      picked: Boolean(state.project),
      status: state.status || null,
      query: state.query || null,
      sort: state.sort,
      first: PAGE,
      after: state.after,
    });
    const projects = data.organization.projects.nodes;
    const shown = state.project ? data.project : data.organization.first.nodes[0];
    if (shown && !state.project) state.project = shown.id;
    if (project.options.length !== projects.length) {
      replace(project, projects.map((p) => h("option", { value: p.id }, p.name)));
    }
    project.value = state.project;
    if (!projects.length) {
      replace(results, h("p", {}, "No project yet. Create one with the createProject mutation, then point an SDK at its DSN."));
      return;
    }
    const connection = shown ? shown.issues : { nodes: [], pageInfo: { hasNextPage: false } };
    replace(results, table(["Issue", "Level", "Status", "Events", "Last seen", "Assignee", "Tickets"], connection.nodes.map(row), "Issues"));
    replace(pager,
      state.after ? h("a", { href: url() }, "← First page") : null,
      connection.pageInfo.hasNextPage ? h("a", { href: url({ after: connection.pageInfo.endCursor }), rel: "next" }, "Next page →") : null);
  }

  function apply() {
    state.project = project.value;
    state.status = status.value;
    state.sort = sort.value;
    state.query = search.value.trim();
    state.after = null;
    history.replaceState(null, "", url());
    return load();
  }
  filters.addEventListener("submit", (event) => { event.preventDefault(); apply(); });
  for (const control of [project, status, sort]) control.addEventListener("change", apply);

  replace(main, h("div", { class: "page-head" }, h("h1", {}, "Issues"), h("span", { class: "live-dot", title: "Live: new errors appear as they arrive" }, "Live")), filters, results, pager);
  await load();
  // Only the first page moves under a reader's eyes; a later page stays as it was opened.
  return live((event) => !state.after && /^(issue|event|external_issue)\./.test(event.type), load);
}
