// Automation rules of a project: the list (switch on and off, delete), a form to make one with its
// preview over recent issues before saving, and the firing log.

import { gql, payload } from "../api.js";
import { badge, confirmDialog, field, h, notice, replace, table, time } from "../dom.js";

const LIST = `query Rules($project: ID) {
  organization { projects(first: 100) { nodes { id name } } installations(first: 50) { nodes { id status provider { name } account { name } } } }
  rules(projectId: $project, first: 100) { nodes { id name enabled trigger threshold windowSeconds target maxTicketsPerHour commentMilestones
    ticketTitle ticketDescription assignee { id }
    filters { levels environments releases text tags { key value } } installation { id provider { name } } project { id name } } }
  ruleFirings(projectId: $project, first: 50) { nodes { id ruleId action cause outcome reason count latencyMs createdAt
    issue { id title } externalIssue { key url } } }
}`;
const FIELDS = "... on RulePayload { rule { id } } ... on UserError { message }";
const CREATE = `mutation Create($project: ID!, $input: RuleInput!) { createRule(projectId: $project, input: $input) { __typename ${FIELDS} } }`;
const UPDATE = `mutation Update($id: ID!, $input: RuleInput!) { updateRule(id: $id, input: $input) { __typename ${FIELDS} } }`;
const ENABLE = `mutation Enable($id: ID!, $enabled: Boolean!) { setRuleEnabled(id: $id, enabled: $enabled) { __typename ${FIELDS} } }`;
const DELETE = "mutation Delete($id: ID!) { deleteRule(id: $id) { __typename ... on UserError { message } } }";
const PREVIEW = `mutation Preview($project: ID!, $input: RuleInput!, $since: DateTime!) { previewRule(projectId: $project, input: $input, since: $since) { __typename
  ... on RulePreview { examined truncated matches { cause action outcome reason ticketTitle issue { id title } externalIssue { key } } }
  ... on UserError { message } } }`;
const TRIGGERS = [["NEW_ISSUE", "A new issue"], ["REGRESSION", "A regression"], ["EVENT_RATE", "Events in a window"], ["EVENTS_SINCE_TICKET", "Events since the ticket"]];

function ruleForm(project, installations, refresh) {
  const name = h("input", { type: "text", name: "name", required: true });
  const trigger = h("select", { name: "trigger" }, TRIGGERS.map(([v, l]) => h("option", { value: v }, l)));
  const threshold = h("input", { type: "number", name: "threshold", min: 1 });
  const windowSeconds = h("input", { type: "number", name: "windowSeconds", min: 60, step: 60 });
  const levels = h("input", { type: "text", name: "levels", placeholder: "error, fatal" });
  const text = h("input", { type: "text", name: "text", placeholder: "words in the title or culprit" });
  const installation = h("select", { name: "installation" }, h("option", { value: "" }, "None: only emit rule.triggered"),
    installations.filter((i) => i.status === "ACTIVE").map((i) => h("option", { value: i.id }, `${i.provider.name}${i.account ? ` · ${i.account.name}` : ""}`)));
  const target = h("input", { type: "text", name: "target", placeholder: "owner/repo or project key" });
  const status = h("div", { "aria-live": "polite" });
  const previewBox = h("div", { "aria-live": "polite" });
  const input = () => {
    const value = { name: name.value.trim(), trigger: trigger.value };
    if (threshold.value) value.threshold = Number(threshold.value);
    if (windowSeconds.value) value.windowSeconds = Number(windowSeconds.value);
    value.levels = levels.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (text.value.trim()) value.text = text.value.trim();
    if (installation.value) { value.installationId = installation.value; value.target = target.value.trim() || null; }
    return value;
  };
  const preview = h("button", { type: "button", onclick: async () => {
    try {
      const since = new Date(Date.now() - 7 * 86400 * 1000).toISOString();
      const result = payload((await gql(PREVIEW, { project, input: input(), since })).previewRule, "RulePreview");
      replace(previewBox, h("h3", {}, `Preview: ${result.matches.length} of ${result.examined} issues from the last 7 days${result.truncated ? " (truncated)" : ""}`),
        table(["Issue", "Cause", "Would", "Ticket"], result.matches.map((m) => h("tr", {}, h("td", {}, h("a", { href: `/issues/${encodeURIComponent(m.issue.id)}` }, m.issue.title)), h("td", {}, m.cause), h("td", {}, badge(m.outcome), m.reason ? h("div", { class: "small muted" }, m.reason) : null), h("td", {}, m.externalIssue ? m.externalIssue.key : m.ticketTitle || "—"))), "Preview"));
    } catch (error) {
      replace(previewBox, notice(error.message));
    }
  } }, "Preview");
  const title = h("h2", { id: "rule-title" }, "New rule");
  const save = h("button", { type: "submit", class: "primary" }, "Save rule");
  let editing = null;
  const form = h("form", { class: "card", "aria-labelledby": "rule-title" }, title,
    h("div", { class: "two" }, h("div", {}, field("Name", name), field("When", trigger), field("Threshold (events)", threshold), field("Window (seconds)", windowSeconds)),
      h("div", {}, field("Levels", levels), field("Text", text), field("Create tickets in", installation), field("Repository or project", target))),
    h("div", { class: "row" }, preview, save), status, previewBox);
  // Editing keeps what the form does not show (tags, templates, assignee, limits) as the rule has it.
  form.edit = (rule) => {
    editing = rule;
    title.textContent = `Edit “${rule.name}”`;
    save.textContent = "Save changes";
    name.value = rule.name;
    trigger.value = rule.trigger;
    threshold.value = rule.threshold ?? "";
    windowSeconds.value = rule.windowSeconds ?? "";
    levels.value = rule.filters.levels.join(", ");
    text.value = rule.filters.text || "";
    installation.value = rule.installation ? rule.installation.id : "";
    target.value = rule.target || "";
    form.scrollIntoView();
    name.focus();
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      if (editing) {
        const r = editing;
        const kept = { environments: r.filters.environments, releases: r.filters.releases, tags: r.filters.tags.map((t) => ({ key: t.key, value: t.value })),
          ticketTitle: r.ticketTitle, ticketDescription: r.ticketDescription, assigneeId: r.assignee ? r.assignee.id : null,
          commentMilestones: r.commentMilestones, maxTicketsPerHour: r.maxTicketsPerHour, enabled: r.enabled };
        payload((await gql(UPDATE, { id: r.id, input: { ...kept, ...input() } })).updateRule, "RulePayload");
      } else {
        payload((await gql(CREATE, { project, input: input() })).createRule, "RulePayload");
      }
      replace(status, notice("Saved.", "success"));
      await refresh();
    } catch (error) {
      replace(status, notice(error.message));
    }
  });
  return form;
}

export async function render(main) {
  document.title = "Rules · Conduit";
  const first = await gql(LIST, { project: null });
  const projects = first.organization.projects.nodes;
  const project = new URLSearchParams(location.search).get("project") || (projects[0] && projects[0].id);
  if (!project) {
    replace(main, h("h1", {}, "Rules"), h("p", {}, "No project yet."));
    return null;
  }
  const picker = h("select", { name: "project" }, projects.map((p) => h("option", { value: p.id, selected: p.id === project }, p.name)));
  picker.addEventListener("change", () => { history.pushState(null, "", `/rules?project=${encodeURIComponent(picker.value)}`); render(main); });
  const body = h("div");
  const status = h("div", { "aria-live": "polite" });
  const form = ruleForm(project, first.organization.installations.nodes, () => load());
  async function load() {
    const data = await gql(LIST, { project });
    replace(body,
      table(["Rule", "When", "Tickets", "Enabled", ""], data.rules.nodes.map((r) => h("tr", { dataset: { rule: r.id } },
        h("td", {}, h("strong", {}, r.name), h("div", { class: "small muted" }, [r.filters.levels.join(", "), r.filters.text].filter(Boolean).join(" · "))),
        h("td", {}, r.trigger.toLowerCase().replaceAll("_", " "), r.threshold ? ` ≥ ${r.threshold}` : "", r.windowSeconds ? ` in ${r.windowSeconds} s` : ""),
        h("td", {}, r.installation ? `${r.installation.provider.name} ${r.target || ""}` : "emit only", h("div", { class: "small muted" }, `at most ${r.maxTicketsPerHour}/h`)),
        h("td", {}, h("label", { class: "inline" }, h("input", { type: "checkbox", checked: r.enabled, onchange: async (e) => {
          try { payload((await gql(ENABLE, { id: r.id, enabled: e.target.checked })).setRuleEnabled, "RulePayload"); } catch (error) { replace(status, notice(error.message)); }
        } }), " on")),
        h("td", { class: "row" }, h("button", { type: "button", onclick: () => form.edit(r) }, "Edit"), h("button", { type: "button", onclick: async () => {
          if (!(await confirmDialog("Delete this rule?", `${r.name} stops at once; its firing log stays.`, "Delete"))) return;
          await gql(DELETE, { id: r.id });
          await load();
        } }, "Delete…")))), "Rules"),
      h("h2", {}, "Firing log"),
      table(["When", "Issue", "Cause", "Action", "Outcome", "Ticket", "Latency"], data.ruleFirings.nodes.map((f) => h("tr", {},
        h("td", {}, time(f.createdAt)), h("td", {}, f.issue ? h("a", { href: `/issues/${encodeURIComponent(f.issue.id)}` }, f.issue.title) : "—"),
        h("td", {}, f.cause), h("td", {}, f.action), h("td", {}, badge(f.outcome), f.reason ? h("div", { class: "small muted" }, f.reason) : null),
        h("td", {}, f.externalIssue ? h("a", { href: f.externalIssue.url, target: "_blank", rel: "noopener noreferrer" }, f.externalIssue.key) : "—"),
        h("td", { class: "num" }, f.latencyMs === null ? "—" : `${f.latencyMs} ms`))), "Firing log"));
  }
  await load();
  replace(main, h("h1", {}, "Rules"), h("div", { class: "filters" }, field("Project", picker)), status, body, form);
  return null;
}
