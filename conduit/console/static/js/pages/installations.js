// Tracker installations: each one's status and last hour's health, and connecting a new one — through
// the tracker's OAuth consent (in a new tab, this page following the installation until it is ACTIVE),
// with an API token, or, for an in-house tracker, with its app and signing secret.

import { gql, payload } from "../api.js";
import { badge, field, h, notice, replace, secret, table, time } from "../dom.js";
import { live } from "../live.js";

const LIST = `query Installations {
  providers { key name authMode }
  apps { id name trackerUrl }
  organization { installations(first: 100) { nodes { id status statusReason createdAt baseUrl
    provider { key name authMode } account { name url }
    health(window: HOUR) { calls errorRate p95Ms rateLimitRemaining lastError } } } }
}`;
export const START = `mutation Start($provider: String!, $baseUrl: String, $installationId: ID) {
  startInstallation(provider: $provider, baseUrl: $baseUrl, installationId: $installationId) { __typename
    ... on StartInstallationPayload { authorizeUrl webhookUrl webhookSecret installation { id status } }
    ... on UserError { message } } }`;
export const CONNECT = `mutation Connect($provider: String!, $apiToken: String!, $baseUrl: String, $installationId: ID, $app: ID) {
  connectTracker(provider: $provider, apiToken: $apiToken, baseUrl: $baseUrl, installationId: $installationId, app: $app) { __typename
    ... on ConnectTrackerPayload { webhookUrl webhookSecret installation { id status statusReason } }
    ... on UserError { message } } }`;
const STATUS = "query State($id: ID!) { installation(id: $id) { id status statusReason account { name } } }";

// Opens the tab first, in the click itself, so no popup blocker objects; the URL follows the mutation.
export async function authorize(run, status) {
  const tab = window.open("about:blank", "_blank");
  try {
    const started = payload((await run()).startInstallation, "StartInstallationPayload");
    if (tab) {
      tab.opener = null;
      tab.location.href = started.authorizeUrl;
    }
    replace(status,
      notice(tab ? "Approve access in the tracker's tab; this page follows the installation." : "Open the tracker to approve access:", "info"),
      tab ? null : h("p", {}, h("a", { href: started.authorizeUrl, target: "_blank", rel: "noopener" }, started.authorizeUrl)),
      started.webhookSecret ? [h("p", {}, "Where the tracker cannot register its webhook itself, paste this URL and secret into its settings:"), h("p", { class: "mono" }, started.webhookUrl), secret("Webhook secret", started.webhookSecret)] : null);
    return follow(started.installation.id, status);
  } catch (error) {
    if (tab) tab.close();
    replace(status, notice(error.message));
    return null;
  }
}

async function follow(id, status) {
  const line = h("p", { "aria-live": "polite", "data-following": id }, "Waiting for the tracker…");
  status.append(line);
  for (let i = 0; i < 600; i += 1) {
    const { installation } = await gql(STATUS, { id });
    if (installation && installation.status !== "PENDING") {
      replace(line, installation.status === "ACTIVE"
        ? notice(`Connected${installation.account ? ` to ${installation.account.name}` : ""}.`, "success")
        : notice(`The installation is ${installation.status}: ${installation.statusReason || "no reason given"}`));
      return installation;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return null;
}

function connectForm(providers, apps, refresh) {
  const provider = h("select", { name: "provider" }, providers.map((p) => h("option", { value: p.key }, `${p.name} (${p.authMode.toLowerCase().replace("_", " ")})`)));
  const baseUrl = h("input", { type: "url", name: "baseUrl", placeholder: "https://… (self-hosted or sandbox server)" });
  const token = h("input", { type: "password", name: "apiToken", autocomplete: "off" });
  const app = h("select", { name: "app" }, apps.filter((a) => a.trackerUrl).map((a) => h("option", { value: a.id }, a.name)));
  const tokenField = field("API token or signing secret", token);
  const appField = field("App (in-house tracker)", app);
  const status = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary" }, "Connect");
  const sync = () => {
    const mode = providers.find((p) => p.key === provider.value).authMode;
    tokenField.hidden = mode === "OAUTH2";
    token.required = mode !== "OAUTH2";
    appField.hidden = mode !== "APP";
  };
  provider.addEventListener("change", sync);
  sync();
  const form = h("form", { class: "card", "aria-labelledby": "connect-title" }, h("h2", { id: "connect-title" }, "Connect a tracker"),
    field("Tracker", provider), field("Server URL (optional)", baseUrl, "Leave empty for the tracker's cloud."), tokenField, appField, submit, status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const mode = providers.find((p) => p.key === provider.value).authMode;
    const base = baseUrl.value.trim() || null;
    if (mode === "OAUTH2") {
      await authorize(() => gql(START, { provider: provider.value, baseUrl: base }), status);
      await refresh();
      return;
    }
    try {
      const made = payload((await gql(CONNECT, { provider: provider.value, apiToken: token.value, baseUrl: base, app: mode === "APP" ? app.value : null })).connectTracker, "ConnectTrackerPayload");
      token.value = "";
      replace(status, notice(`Connected: ${made.installation.status}`, "success"),
        made.webhookSecret ? [h("p", {}, "Webhook URL: ", h("span", { class: "mono" }, made.webhookUrl)), secret("Webhook secret", made.webhookSecret)] : null);
      await refresh();
    } catch (error) {
      replace(status, notice(error.message));
    }
  });
  return form;
}

export async function render(main) {
  document.title = "Installations · Conduit";
  const list = h("div");
  let form = null;
  async function load() {
    const data = await gql(LIST);
    replace(list, table(["Tracker", "Account", "Status", "Calls (1 h)", "Error rate", "p95", "Rate-limit left", "Since"],
      data.organization.installations.nodes.map((i) => h("tr", { dataset: { installation: i.id } },
        h("td", {}, h("a", { href: `/installations/${encodeURIComponent(i.id)}` }, i.provider.name), i.baseUrl ? h("div", { class: "small muted mono" }, i.baseUrl) : null),
        h("td", {}, i.account ? i.account.name : "—"),
        h("td", { "data-status": i.status }, badge(i.status), i.statusReason ? h("div", { class: "small error-text" }, i.statusReason) : null),
        h("td", { class: "num" }, i.health.calls),
        h("td", { class: "num" }, `${(i.health.errorRate * 100).toFixed(1)} %`),
        h("td", { class: "num" }, i.health.p95Ms === null ? "—" : `${Math.round(i.health.p95Ms)} ms`),
        h("td", { class: "num" }, i.health.rateLimitRemaining ?? "—"),
        h("td", {}, time(i.createdAt)))), "Installations"));
    if (!form) form = connectForm(data.providers, data.apps, load);
  }
  await load();
  replace(main, h("h1", {}, "Installations"), list, form);
  return live((event) => /^tracker_installation\./.test(event.type), load);
}
