// One installation: its account and webhooks, health over the last hour or day, the config editor
// (which tracker statuses mean resolved, checked against the tracker), reconnect, and uninstall.

import { gql, payload } from "../api.js";
import { confirmDialog, field, h, notice, replace, table, time, badge } from "../dom.js";
import { navigate } from "../app.js";
import { healthCharts } from "../chart.js";
import { CONNECT, START, authorize } from "./installations.js";

const ONE = `query Installation($id: ID!, $window: HealthWindow!) {
  installation(id: $id) { id status statusReason createdAt baseUrl webhookUrl
    provider { key name authMode webhookApi } account { id name url }
    webhooks { scope registered manual expiresAt error }
    config { statusOutbound statusInbound assigneeOutbound assigneeInbound commentsOutbound resolvedStatuses resolveStatus reopenStatus issueType }
    health(window: $window) { window calls errorRate failures halted p50Ms p95Ms lastError lastErrorAt rateLimitRemaining }
    interactions(latest: 20) { operation method path httpStatus durationMs outcome error rateLimitRemaining createdAt }
  }
}`;
const SAVE = `mutation Save($id: ID!, $config: InstallationConfigInput!) {
  updateInstallationConfig(installationId: $id, config: $config) { __typename
    ... on UpdateInstallationConfigPayload { installation { id } }
    ... on UnknownStatusError { message unknown validStatuses }
    ... on UserError { message } } }`;
const UNINSTALL = `mutation Uninstall($id: ID!) { uninstall(installationId: $id) { __typename
  ... on UninstallPayload { webhooksRemoved tokenRevoked leftovers } ... on UserError { message } } }`;

const FLAGS = [
  ["statusOutbound", "Resolving in Conduit closes the ticket"],
  ["statusInbound", "Closing the ticket resolves the issue"],
  ["assigneeOutbound", "Assigning in Conduit assigns the ticket"],
  ["assigneeInbound", "Assigning the ticket assigns the issue"],
  ["commentsOutbound", "Comments in Conduit go to the ticket"],
];

function stat(label, value) {
  return h("div", { class: "stat" }, h("span", { class: "muted small" }, label), h("strong", {}, value));
}

function configForm(installation, refresh) {
  const c = installation.config;
  const boxes = FLAGS.map(([name, label]) => {
    const box = h("input", { type: "checkbox", name, checked: c[name] });
    return { name, box, el: h("label", { class: "inline" }, box, " ", label) };
  });
  const resolved = h("input", { type: "text", name: "resolvedStatuses", value: c.resolvedStatuses.join(", ") });
  const resolveStatus = h("input", { type: "text", name: "resolveStatus", value: c.resolveStatus || "" });
  const reopenStatus = h("input", { type: "text", name: "reopenStatus", value: c.reopenStatus || "" });
  const issueType = h("input", { type: "text", name: "issueType", value: c.issueType });
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", "aria-labelledby": "config-title" }, h("h2", { id: "config-title" }, "Sync settings"),
    h("fieldset", {}, h("legend", {}, "What follows what"), boxes.map((b) => h("div", {}, b.el))),
    field("Statuses that mean resolved", resolved, "Comma-separated; empty means the tracker's own done category. Checked against the tracker."),
    field("Status to set when resolved", resolveStatus), field("Status to set when reopened", reopenStatus), field("Ticket type", issueType),
    h("button", { type: "submit", class: "primary" }, "Save settings"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const config = Object.fromEntries(boxes.map((b) => [b.name, b.box.checked]));
    config.resolvedStatuses = resolved.value.split(",").map((s) => s.trim()).filter(Boolean);
    config.resolveStatus = resolveStatus.value.trim() || null;
    config.reopenStatus = reopenStatus.value.trim() || null;
    config.issueType = issueType.value.trim() || null;
    try {
      const result = (await gql(SAVE, { id: installation.id, config })).updateInstallationConfig;
      if (result.__typename === "UnknownStatusError") {
        replace(status, notice(`${result.message}. The tracker knows: ${result.validStatuses.join(", ")}`));
        return;
      }
      payload(result, "UpdateInstallationConfigPayload");
      await refresh(notice("Settings saved.", "success"));
    } catch (error) {
      replace(status, notice(error.message));
    }
  });
  return form;
}

function reconnect(installation, refresh) {
  const status = h("div", { "aria-live": "polite" });
  const mode = installation.provider.authMode;
  if (mode === "OAUTH2") {
    return h("div", {}, h("button", { type: "button", onclick: async () => {
      await authorize(() => gql(START, { provider: installation.provider.key, baseUrl: installation.baseUrl, installationId: installation.id }), status);
      await refresh();
    } }, "Reconnect"), status);
  }
  const token = h("input", { type: "password", name: "apiToken", required: true, autocomplete: "off" });
  const form = h("form", { "aria-labelledby": "reconnect-title" }, h("h3", { id: "reconnect-title" }, "Replace the token"), field("New token", token), h("button", { type: "submit" }, "Reconnect"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      payload((await gql(CONNECT, { provider: installation.provider.key, apiToken: token.value, baseUrl: installation.baseUrl, installationId: installation.id })).connectTracker, "ConnectTrackerPayload");
      await refresh(notice("Reconnected.", "success"));
    } catch (error) {
      replace(status, notice(error.message));
    }
  });
  return form;
}

export async function render(main, params) {
  let span = new URLSearchParams(location.search).get("window") || "HOUR";
  // `flash`: what the last action did, shown above the rebuilt page.
  async function load(flash = null) {
    const { installation: i } = await gql(ONE, { id: params.id, window: span });
    if (!i) {
      replace(main, h("h1", {}, "Installation not found"), h("p", {}, h("a", { href: "/installations" }, "Back to installations")));
      return;
    }
    document.title = `${i.provider.name} · Installations · Conduit`;
    const picker = h("select", { name: "window" }, h("option", { value: "HOUR", selected: span === "HOUR" }, "Last hour"), h("option", { value: "DAY", selected: span === "DAY" }, "Last day"), h("option", { value: "WEEK", selected: span === "WEEK" }, "Last week"));
    picker.addEventListener("change", () => { span = picker.value; history.replaceState(null, "", `?window=${span}`); load(); });
    const health = i.health;
    const uninstallStatus = h("div", { "aria-live": "polite" });
    replace(main,
      h("p", { class: "crumbs" }, h("a", { href: "/installations" }, "Installations"), " / ", i.provider.name),
      h("div", { class: "page-head" }, h("h1", {}, `${i.provider.name}${i.account ? ` · ${i.account.name}` : ""}`), h("span", { "data-status": i.status }, badge(i.status))),
      i.statusReason ? notice(i.statusReason) : null,
      flash instanceof Node ? flash : null,
      h("p", { class: "muted" }, i.baseUrl || "cloud", " · connected ", time(i.createdAt), i.account && i.account.url ? [" · ", h("a", { href: i.account.url, target: "_blank", rel: "noopener noreferrer" }, "account")] : null),
      h("section", { "aria-labelledby": "health-title" },
        h("div", { class: "page-head" }, h("h2", { id: "health-title" }, "Health"), field("Window", picker)),
        h("div", { class: "stats" },
          stat("Calls", health.calls), stat("Error rate", `${(health.errorRate * 100).toFixed(1)} %`), stat("Failures", health.failures), stat("Held back", health.halted),
          stat("p50 latency", health.p50Ms === null ? "—" : `${Math.round(health.p50Ms)} ms`), stat("p95 latency", health.p95Ms === null ? "—" : `${Math.round(health.p95Ms)} ms`),
          stat("Rate-limit headroom", health.rateLimitRemaining ?? "—")),
        health.lastError ? notice(`Last error ${new Date(health.lastErrorAt).toLocaleString()}: ${health.lastError}`) : null,
        await healthCharts("installation", i.id, span)),
      h("section", { "aria-labelledby": "calls-title" }, h("h2", { id: "calls-title" }, "Recent calls to the tracker"),
        table(["When", "Operation", "Request", "Status", "Latency", "Outcome", "Rate-limit left"], i.interactions.map((c) => h("tr", { dataset: { interaction: c.operation } },
          h("td", {}, time(c.createdAt)), h("td", { class: "mono" }, c.operation), h("td", { class: "mono small" }, `${c.method} ${c.path}`),
          h("td", {}, c.httpStatus ?? "—"), h("td", { class: "num" }, `${c.durationMs} ms`),
          h("td", {}, badge(c.outcome, c.outcome === "success" ? "done" : "failed"), c.error ? h("div", { class: "small error-text" }, c.error) : null),
          h("td", { class: "num" }, c.rateLimitRemaining ?? "—"))), "Recent calls")),
      h("section", { "aria-labelledby": "webhooks-title" }, h("h2", { id: "webhooks-title" }, "Webhooks"),
        h("p", { class: "small" }, "Webhook URL: ", h("span", { class: "mono" }, i.webhookUrl)),
        table(["Scope", "Registered", "Manual", "Expires", "Error"], i.webhooks.map((w) => h("tr", {}, h("td", { class: "mono" }, w.scope), h("td", {}, w.registered ? "yes" : "no"), h("td", {}, w.manual ? "yes" : "no"), h("td", {}, time(w.expiresAt)), h("td", { class: "error-text" }, w.error || ""))), "Webhooks")),
      h("div", { class: "two" }, configForm(i, load), h("div", { class: "card" }, h("h2", {}, "Connection"), reconnect(i, load),
        h("h3", {}, "Uninstall"), h("p", { class: "small" }, "Removes the webhooks Conduit registered, revokes the grant where the tracker allows, and forgets the cached tickets and links."),
        h("button", { type: "button", class: "danger", onclick: async () => {
          if (!(await confirmDialog("Uninstall this tracker?", `${i.provider.name}${i.account ? ` (${i.account.name})` : ""}: links between issues and its tickets will be removed. This cannot be undone.`, "Uninstall"))) return;
          try {
            const done = payload((await gql(UNINSTALL, { id: i.id })).uninstall, "UninstallPayload");
            navigate("/installations");
            if (done.leftovers.length) window.alert(`Left in the tracker: ${done.leftovers.join(", ")}`);
          } catch (error) {
            replace(uninstallStatus, notice(error.message));
          }
        } }, "Uninstall…"), uninstallStatus)));
  }
  await load();
  return null;
}
