// The event catalog: every event type webhooks and subscriptions carry, with its JSON Schema and an example.

import { gql } from "../api.js";
import { h, replace } from "../dom.js";

export async function render(main) {
  document.title = "Event catalog · Conduit";
  const { eventTypes } = await gql("query Catalog { eventTypes { name version description schema example requiredScope } }");
  replace(main, h("h1", {}, "Event catalog"),
    h("p", {}, "Webhooks and the ", h("code", {}, "events"), " subscription carry these events, signed with Standard Webhooks."),
    eventTypes.map((t) => h("section", { class: "card", id: t.name, "aria-labelledby": `t-${t.name}` },
      h("h2", { id: `t-${t.name}`, class: "mono" }, t.name, h("span", { class: "muted small" }, ` v${t.version}`)),
      h("p", {}, t.description, " ", h("span", { class: "muted" }, t.requiredScope ? `Needs ${t.requiredScope}.` : "Sent to the app it concerns.")),
      h("div", { class: "two" },
        h("details", {}, h("summary", {}, "Schema"), h("pre", {}, JSON.stringify(t.schema, null, 2))),
        h("details", { open: true }, h("summary", {}, "Example"), h("pre", {}, JSON.stringify(t.example, null, 2)))))));
  return null;
}
