// The organization's apps: the list with each endpoint's state, and creating one (its client secret and
// webhook signing secret are shown once, here).

import { gql, payload } from "../api.js";
import { badge, field, h, notice, replace, secret, table, time } from "../dom.js";

const LIST = `query Apps { apps { id name kind webhookUrl events endpointState createdAt health(windowSeconds: 86400) { deliveries successRate p95LatencyMs } }
  eventTypes { name } }`;
const CREATE = `mutation Create($input: CreateAppInput!) { createApp(input: $input) { __typename
  ... on CreateAppPayload { clientSecret webhookSecret app { id name clientId } } ... on UserError { message } } }`;
const SCOPES = ["issue:read", "issue:write", "event:read", "project:read", "installation:read", "org:read", "member:read"];

export async function render(main) {
  document.title = "Apps · Conduit";
  const list = h("div");
  const shown = h("div", { "aria-live": "polite" });
  let types = [];
  async function load() {
    const data = await gql(LIST);
    types = data.eventTypes.map((t) => t.name);
    replace(list, table(["App", "Kind", "Endpoint", "Deliveries (24 h)", "Success", "p95", "Created"], data.apps.map((a) => h("tr", { dataset: { app: a.id } },
      h("td", {}, h("a", { href: `/apps/${encodeURIComponent(a.id)}` }, a.name)), h("td", {}, a.kind.toLowerCase()),
      h("td", {}, badge(a.endpointState), h("div", { class: "small muted mono" }, a.webhookUrl || "no webhook")),
      h("td", { class: "num" }, a.health.deliveries), h("td", { class: "num" }, a.health.successRate === null ? "—" : `${(a.health.successRate * 100).toFixed(1)} %`),
      h("td", { class: "num" }, a.health.p95LatencyMs === null ? "—" : `${Math.round(a.health.p95LatencyMs)} ms`), h("td", {}, time(a.createdAt)))), "Apps"));
  }
  await load();
  const name = h("input", { type: "text", name: "name", required: true });
  const kind = h("select", { name: "kind" }, h("option", { value: "INTERNAL" }, "internal (this organization only)"), h("option", { value: "PUBLIC" }, "public (any organization may install it)"));
  const webhookUrl = h("input", { type: "url", name: "webhookUrl", placeholder: "https://example.com/webhooks/conduit" });
  const redirectUrl = h("input", { type: "url", name: "redirectUrl" });
  const events = h("fieldset", {}, h("legend", {}, "Events"), h("div", { class: "stats" }, types.map((t) => h("label", { class: "inline" }, h("input", { type: "checkbox", value: t, name: "event" }), " ", t))));
  const scopes = h("fieldset", {}, h("legend", {}, "Scopes"), h("div", { class: "stats" }, SCOPES.map((s) => h("label", { class: "inline" }, h("input", { type: "checkbox", value: s, name: "scope", checked: s === "issue:read" }), " ", s))));
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", "aria-labelledby": "app-title" }, h("h2", { id: "app-title" }, "Create an app"),
    field("Name", name), field("Kind", kind), field("Webhook URL", webhookUrl), field("Redirect URL (OAuth)", redirectUrl), events, scopes,
    h("button", { type: "submit", class: "primary" }, "Create app"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const checked = (n) => [...form.querySelectorAll(`input[name=${n}]:checked`)].map((b) => b.value);
    try {
      const made = payload((await gql(CREATE, { input: { name: name.value.trim(), kind: kind.value, webhookUrl: webhookUrl.value.trim() || null, redirectUrl: redirectUrl.value.trim() || null, events: checked("event"), scopes: checked("scope") } })).createApp, "CreateAppPayload");
      replace(shown, notice(`Created ${made.app.name}. Client id: ${made.app.clientId}`, "success"), secret("Client secret", made.clientSecret), secret("Webhook secret", made.webhookSecret),
        h("p", {}, h("a", { href: `/apps/${encodeURIComponent(made.app.id)}` }, `Open ${made.app.name}`)));
      replace(status);
      name.value = "";
      await load();
    } catch (error) {
      replace(status, notice(error.message));
    }
  });
  replace(main, h("h1", {}, "Apps"), shown, list, form);
  return null;
}
