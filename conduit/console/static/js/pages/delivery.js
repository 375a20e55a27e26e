// One delivery: the payload as signed, each attempt (request, status, response excerpt, latency, next
// try), and redelivery. Follows the delivery live while attempts are still to come.

import { gql, payload } from "../api.js";
import { badge, h, notice, replace, table, time } from "../dom.js";
import { live } from "../live.js";
import { REDELIVER } from "./app.js";

const ONE = `query Delivery($id: ID!) { delivery(id: $id) { id eventType eventId webhookId outcome attemptCount nextAttemptAt
  lastStatusCode lastError createdAt finishedAt test payload appId
  attempts { number trigger url startedAt durationMs statusCode outcome responseExcerpt error nextAttemptAt } } }`;

export async function render(main, params) {
  const status = h("div", { "aria-live": "polite" });
  let timer = null;
  async function load() {
    const d = (await gql(ONE, { id: params.id })).delivery;
    if (!d) {
      replace(main, h("h1", {}, "Delivery not found"));
      return;
    }
    document.title = `${d.eventType} delivery · Conduit`;
    replace(main,
      h("p", { class: "crumbs" }, h("a", { href: "/apps" }, "Apps"), " / ", h("a", { href: `/apps/${encodeURIComponent(d.appId)}` }, "app"), " / delivery"),
      h("div", { class: "page-head" }, h("h1", {}, d.eventType), h("span", { "data-outcome": d.outcome }, badge(d.outcome)), d.test ? badge("test", "muted") : null),
      h("p", { class: "small" }, "webhook-id ", h("span", { class: "mono" }, d.webhookId), " · event ", h("span", { class: "mono" }, d.eventId), " · created ", time(d.createdAt), d.nextAttemptAt ? [" · next try ", time(d.nextAttemptAt)] : null),
      status,
      h("button", { type: "button", class: "primary", onclick: async () => {
        try { payload((await gql(REDELIVER, { id: d.id })).redeliver, "RedeliverPayload"); replace(status, notice("Redelivery queued.", "success")); await load(); } catch (error) { replace(status, notice(error.message)); }
      } }, "Redeliver"),
      h("h2", {}, "Attempts"),
      table(["#", "Trigger", "Started", "Request", "Status", "Latency", "Outcome", "Response", "Next try"], d.attempts.map((a) => h("tr", { dataset: { attempt: a.number } },
        h("td", {}, a.number), h("td", {}, a.trigger.toLowerCase()), h("td", {}, time(a.startedAt)),
        h("td", { class: "small" }, h("div", { class: "mono" }, `POST ${a.url || ""}`), h("details", {}, h("summary", {}, "Headers sent"),
          h("pre", {}, `content-type: application/json\nwebhook-id: ${d.webhookId}\nwebhook-timestamp: ${Math.floor(new Date(a.startedAt).getTime() / 1000)}\nwebhook-signature: v1,… (Standard Webhooks, with the app's secret)`))),
        h("td", { "data-status-code": a.statusCode ?? "" }, a.statusCode ?? "—"), h("td", { class: "num" }, `${a.durationMs} ms`),
        h("td", {}, badge(a.outcome)),
        h("td", { class: "small" }, a.error ? h("div", { class: "error-text" }, a.error) : null, a.responseExcerpt ? h("pre", {}, a.responseExcerpt) : null),
        h("td", {}, time(a.nextAttemptAt)))), "Attempts"),
      h("h2", {}, "Payload"), h("pre", {}, JSON.stringify(d.payload, null, 2)));
    clearTimeout(timer);
    if (d.outcome === "PENDING") timer = setTimeout(load, 1000);
  }
  await load();
  const stop = live((event) => event.type.startsWith("endpoint."), load);
  return () => { clearTimeout(timer); stop(); };
}
