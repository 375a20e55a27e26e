// One app: secrets (rotated here, shown once), endpoint health with charts, the delivery log with its
// filters, sending a test event, redelivering, and recovering a disabled endpoint since a time.

import { gql, payload } from "../api.js";
import { badge, field, h, notice, replace, secret, table, time } from "../dom.js";
import { healthCharts } from "../chart.js";

const ONE = `query App($id: ID!, $filter: DeliveryFilter, $after: String) {
  eventTypes { name }
  app(id: $id) { id name kind clientId webhookUrl redirectUrl trackerUrl events scopes endpointState failingSince disabledAt disabledReason createdAt
    health(windowSeconds: 86400) { deliveries succeeded failed pending attempts successRate p50LatencyMs p95LatencyMs lastError lastErrorAt }
    deliveries(filter: $filter, first: 25, after: $after) { pageInfo { hasNextPage endCursor }
      nodes { id eventType outcome attemptCount nextAttemptAt lastStatusCode lastError createdAt test
        attempts { number durationMs statusCode } } } }
}`;
const ROTATE = `mutation Rotate($id: ID!) { rotateAppSecret(appId: $id) { __typename ... on RotateAppSecretPayload { clientSecret } ... on UserError { message } } }`;
const ROTATE_WEBHOOK = `mutation RotateWebhook($id: ID!) { rotateWebhookSecret(appId: $id) { __typename ... on RotateWebhookSecretPayload { webhookSecret previousSecretsExpireAt } ... on UserError { message } } }`;
const TEST = `mutation Test($id: ID!, $type: String!) { sendTestEvent(appId: $id, type: $type) { __typename ... on SendTestEventPayload { delivery { id } } ... on UserError { message } } }`;
const RECOVER = `mutation Recover($id: ID!, $since: DateTime!) { recoverEndpoint(appId: $id, since: $since) { __typename ... on RecoverEndpointPayload { resent } ... on UserError { message } } }`;
export const REDELIVER = `mutation Redeliver($id: ID!) { redeliver(deliveryId: $id) { __typename ... on RedeliverPayload { delivery { id attemptCount } } ... on UserError { message } } }`;

function stat(label, value) {
  return h("div", { class: "stat" }, h("span", { class: "muted small" }, label), h("strong", {}, value));
}

export async function render(main, params) {
  const search = new URLSearchParams(location.search);
  const filter = {};
  if (search.get("outcome")) filter.outcome = search.get("outcome");
  if (search.get("type")) filter.eventTypes = [search.get("type")];
  if (search.get("since")) filter.since = new Date(search.get("since")).toISOString();
  const shown = h("div", { "aria-live": "polite" });
  const status = h("div", { "aria-live": "polite" });
  let span = search.get("window") || "DAY";
  async function load() {
    const data = await gql(ONE, { id: params.id, filter: Object.keys(filter).length ? filter : null, after: search.get("after") });
    const app = data.app;
    if (!app) {
      replace(main, h("h1", {}, "App not found"), h("p", {}, h("a", { href: "/apps" }, "Back to apps")));
      return;
    }
    document.title = `${app.name} · Apps · Conduit`;
    const hl = app.health;
    const type = h("select", { name: "type" }, data.eventTypes.map((t) => h("option", { value: t.name }, t.name)));
    const test = h("form", { class: "card", "aria-labelledby": "test-title" }, h("h3", { id: "test-title" }, "Send a test event"), field("Event type", type), h("button", { type: "submit", class: "primary" }, "Send test event"));
    test.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const sent = payload((await gql(TEST, { id: app.id, type: type.value })).sendTestEvent, "SendTestEventPayload");
        replace(status, notice("Test event queued.", "success"), " ", h("a", { href: `/deliveries/${encodeURIComponent(sent.delivery.id)}` }, "See the delivery"));
        await load();
      } catch (error) {
        replace(status, notice(error.message));
      }
    });
    const since = h("input", { type: "datetime-local", name: "since", required: true });
    const recover = h("form", { class: "card", "aria-labelledby": "recover-title" }, h("h3", { id: "recover-title" }, "Recover since"),
      h("p", { class: "small" }, "Enables the endpoint again and re-sends every delivery that failed since then."), field("Since", since), h("button", { type: "submit" }, "Recover"));
    recover.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const done = payload((await gql(RECOVER, { id: app.id, since: new Date(since.value).toISOString() })).recoverEndpoint, "RecoverEndpointPayload");
        replace(status, notice(`Re-sending ${done.resent} deliveries.`, "success"));
        await load();
      } catch (error) {
        replace(status, notice(error.message));
      }
    });
    const outcome = h("select", { name: "outcome" }, [["", "Any outcome"], ["PENDING", "Pending"], ["SUCCEEDED", "Succeeded"], ["FAILED", "Failed"]].map(([v, l]) => h("option", { value: v, selected: (filter.outcome || "") === v }, l)));
    const typeFilter = h("select", { name: "typeFilter" }, h("option", { value: "" }, "Any event"), data.eventTypes.map((t) => h("option", { value: t.name, selected: filter.eventTypes && filter.eventTypes[0] === t.name }, t.name)));
    const filters = h("form", { class: "filters", "aria-label": "Filter deliveries" }, field("Outcome", outcome), field("Event", typeFilter), h("button", { type: "submit" }, "Filter"));
    filters.addEventListener("submit", (event) => {
      event.preventDefault();
      const next = new URLSearchParams();
      if (outcome.value) next.set("outcome", outcome.value);
      if (typeFilter.value) next.set("type", typeFilter.value);
      history.pushState(null, "", `?${next}`);
      render(main, params);
    });
    const picker = h("select", { name: "window" }, ["HOUR", "DAY", "WEEK"].map((w) => h("option", { value: w, selected: w === span }, `Last ${w.toLowerCase()}`)));
    picker.addEventListener("change", () => { span = picker.value; load(); });
    replace(main,
      h("p", { class: "crumbs" }, h("a", { href: "/apps" }, "Apps"), " / ", app.name),
      h("div", { class: "page-head" }, h("h1", {}, app.name), badge(app.endpointState)),
      app.disabledReason ? notice(`Disabled ${new Date(app.disabledAt).toLocaleString()}: ${app.disabledReason}`) : null,
      h("p", { class: "small" }, "Client id ", h("span", { class: "mono" }, app.clientId), " · webhook ", h("span", { class: "mono" }, app.webhookUrl || "none"), " · events ", app.events.join(", ") || "none", " · scopes ", app.scopes.join(" ")),
      shown, status,
      h("div", { class: "row" },
        h("button", { type: "button", onclick: async () => {
          try { const r = payload((await gql(ROTATE, { id: app.id })).rotateAppSecret, "RotateAppSecretPayload"); replace(shown, secret("New client secret", r.clientSecret)); } catch (error) { replace(shown, notice(error.message)); }
        } }, "Rotate client secret"),
        h("button", { type: "button", onclick: async () => {
          try { const r = payload((await gql(ROTATE_WEBHOOK, { id: app.id })).rotateWebhookSecret, "RotateWebhookSecretPayload"); replace(shown, secret("New webhook secret", r.webhookSecret), h("p", { class: "small muted" }, "The previous secret keeps signing until ", time(r.previousSecretsExpireAt), ".")); } catch (error) { replace(shown, notice(error.message)); }
        } }, "Rotate webhook secret")),
      h("section", { "aria-labelledby": "health-title" }, h("div", { class: "page-head" }, h("h2", { id: "health-title" }, "Endpoint health"), field("Window", picker)),
        h("div", { class: "stats" }, stat("Deliveries (24 h)", hl.deliveries), stat("Succeeded", hl.succeeded), stat("Failed", hl.failed), stat("Pending", hl.pending),
          stat("Success rate", hl.successRate === null ? "—" : `${(hl.successRate * 100).toFixed(1)} %`), stat("p50", hl.p50LatencyMs === null ? "—" : `${Math.round(hl.p50LatencyMs)} ms`), stat("p95", hl.p95LatencyMs === null ? "—" : `${Math.round(hl.p95LatencyMs)} ms`)),
        hl.lastError ? notice(`Last error: ${hl.lastError}`) : null,
        await healthCharts("app", app.id, span)),
      h("div", { class: "two" }, test, recover),
      h("section", { "aria-labelledby": "log-title" }, h("h2", { id: "log-title" }, "Delivery log"), filters,
        table(["Event", "Outcome", "Attempts", "Last status", "Latency", "Next try", "Created", ""], app.deliveries.nodes.map((d) => h("tr", { dataset: { delivery: d.id } },
          h("td", {}, h("a", { href: `/deliveries/${encodeURIComponent(d.id)}` }, d.eventType), d.test ? badge("test", "muted") : null),
          h("td", { "data-outcome": d.outcome }, badge(d.outcome)), h("td", { class: "num", "data-attempts": d.attemptCount }, d.attemptCount),
          h("td", {}, d.lastStatusCode ?? (d.lastError ? h("span", { class: "error-text small" }, d.lastError) : "—")),
          h("td", { class: "num" }, d.attempts.length ? `${d.attempts[d.attempts.length - 1].durationMs} ms` : "—"),
          h("td", {}, time(d.nextAttemptAt)), h("td", {}, time(d.createdAt)),
          h("td", {}, h("button", { type: "button", onclick: async () => {
            try { payload((await gql(REDELIVER, { id: d.id })).redeliver, "RedeliverPayload"); replace(status, notice("Redelivery queued.", "success")); await load(); } catch (error) { replace(status, notice(error.message)); }
          } }, "Redeliver")))), "Deliveries"),
        app.deliveries.pageInfo.hasNextPage ? h("nav", { class: "pager" }, h("a", { href: `?${new URLSearchParams({ ...Object.fromEntries(search), after: app.deliveries.pageInfo.endCursor })}` }, "Next page →")) : null));
  }
  await load();
  return null;
}
