// API tokens: create one (its value shown once), see when each was last used, revoke.

import { gql, payload } from "../api.js";
import { confirmDialog, field, h, notice, replace, secret, table, time, badge } from "../dom.js";

const LIST = "query Tokens { organization { apiTokens(first: 100) { nodes { id name prefix scopes createdAt lastUsedAt revokedAt } } } }";
const CREATE = `mutation Create($input: CreateApiTokenInput!) { createApiToken(input: $input) { __typename
  ... on CreateApiTokenPayload { value token { id } } ... on UserError { message } } }`;
const REVOKE = "mutation Revoke($id: ID!) { revokeApiToken(id: $id) { __typename ... on UserError { message } } }";
const FAMILIES = ["org", "member", "project", "issue", "event", "token", "job", "installation", "app", "webhook"];

export async function render(main) {
  document.title = "API tokens · Conduit";
  const list = h("div");
  const shown = h("div", { "aria-live": "polite" });
  async function load() {
    const { organization } = await gql(LIST);
    replace(list, table(["Name", "Prefix", "Scopes", "Created", "Last used", ""], organization.apiTokens.nodes.map((t) => h("tr", { dataset: { token: t.id } },
      h("td", {}, t.name), h("td", { class: "mono" }, `${t.prefix}…`), h("td", { class: "small" }, t.scopes.join(" ")),
      h("td", {}, time(t.createdAt)), h("td", {}, time(t.lastUsedAt)),
      h("td", {}, t.revokedAt ? badge("revoked") : h("button", { type: "button", onclick: async () => {
        if (!(await confirmDialog("Revoke this token?", `${t.name} (${t.prefix}…) stops working at once.`, "Revoke"))) return;
        try { payload((await gql(REVOKE, { id: t.id })).revokeApiToken, "RevokeApiTokenPayload"); await load(); } catch (error) { replace(shown, notice(error.message)); }
      } }, "Revoke…")))), "API tokens"));
  }
  const name = h("input", { type: "text", name: "name", required: true });
  const boxes = [...FAMILIES.flatMap((f) => [`${f}:read`, `${f}:write`]), "admin"].map((scope) => {
    const box = h("input", { type: "checkbox", value: scope, checked: scope.endsWith(":read") });
    return h("label", { class: "inline scope" }, box, " ", scope);
  });
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", "aria-labelledby": "token-title" }, h("h2", { id: "token-title" }, "Create a token"),
    field("Name", name), h("fieldset", {}, h("legend", {}, "Scopes (write implies read; admin implies all)"), h("div", { class: "stats" }, boxes)),
    h("button", { type: "submit", class: "primary" }, "Create token"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const scopes = [...form.querySelectorAll("input[type=checkbox]:checked")].map((b) => b.value);
    try {
      const made = payload((await gql(CREATE, { input: { name: name.value.trim(), scopes } })).createApiToken, "CreateApiTokenPayload");
      replace(shown, secret(`Token ${name.value}`, made.value));
      replace(status);
      name.value = "";
      await load();
    } catch (error) {
      replace(status, notice(error.message));
    }
  });
  await load();
  replace(main, h("h1", {}, "API tokens"), shown, list, form);
  return null;
}
