// Members of the organization: add one, send a one-time sign-in link (shown once), see and end their
// console sessions.

import { can, gql, payload } from "../api.js";
import { badge, field, h, notice, replace, secret, table, time } from "../dom.js";

const LIST = "query Members { organization { members(first: 100) { nodes { id name email role } } } }";
const ADD = `mutation Add($input: AddMemberInput!) { addMember(input: $input) { __typename
  ... on AddMemberPayload { member { id email } } ... on UserError { message } } }`;
const LINK = `mutation Link($id: ID!) { createSignInLink(memberId: $id) { __typename
  ... on CreateSignInLinkPayload { url expiresAt } ... on UserError { message } } }`;
const SESSIONS = "query Sessions($id: ID!) { sessions(memberId: $id) { id createdAt lastSeenAt expiresAt revokedAt userAgent active current } }";
const REVOKE = "mutation Revoke($id: ID!) { revokeSession(id: $id) { __typename ... on UserError { message } } }";

async function sessions(member, box) {
  const { sessions: rows } = await gql(SESSIONS, { id: member.id });
  replace(box, h("h3", {}, `Sessions of ${member.name || member.email}`),
    table(["Started", "Last seen", "Expires", "Browser", "State", ""], rows.map((s) => h("tr", {},
      h("td", {}, time(s.createdAt)), h("td", {}, time(s.lastSeenAt)), h("td", {}, time(s.expiresAt)),
      h("td", { class: "small" }, s.userAgent.slice(0, 80)),
      h("td", {}, s.active ? badge(s.current ? "this session" : "active", "active") : badge(s.revokedAt ? "revoked" : "ended", "muted")),
      h("td", {}, s.active ? h("button", { type: "button", onclick: async () => { await gql(REVOKE, { id: s.id }); await sessions(member, box); } }, "End session") : null))), "Sessions"));
}

export async function render(main) {
  document.title = "Members · Conduit";
  const list = h("div");
  const shown = h("div", { "aria-live": "polite" });
  const detail = h("div");
  async function load() {
    const { organization } = await gql(LIST);
    replace(list, table(["Name", "Email", "Role", ""], organization.members.nodes.map((m) => h("tr", { dataset: { member: m.id } },
      h("td", {}, m.name || "—"), h("td", {}, m.email), h("td", {}, badge(m.role.toLowerCase(), "muted")),
      h("td", { class: "row" }, can("admin") ? [
        h("button", { type: "button", onclick: async () => {
          try {
            const made = payload((await gql(LINK, { id: m.id })).createSignInLink, "CreateSignInLinkPayload");
            replace(shown, secret(`Sign-in link for ${m.email}`, made.url), h("p", { class: "small muted" }, "Works once, until ", time(made.expiresAt), "."));
          } catch (error) {
            replace(shown, notice(error.message));
          }
        } }, "Sign-in link"),
        h("button", { type: "button", onclick: () => sessions(m, detail) }, "Sessions")] : null))), "Members"));
  }
  const email = h("input", { type: "email", name: "email", required: true });
  const name = h("input", { type: "text", name: "name" });
  const role = h("select", { name: "role" }, ["MEMBER", "ADMIN", "OWNER"].map((r) => h("option", { value: r }, r.toLowerCase())));
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", "aria-labelledby": "add-title" }, h("h2", { id: "add-title" }, "Add a member"),
    field("Email", email), field("Name", name), field("Role", role), h("button", { type: "submit", class: "primary" }, "Add member"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      payload((await gql(ADD, { input: { email: email.value.trim(), name: name.value.trim(), role: role.value } })).addMember, "AddMemberPayload");
      replace(status, notice(`Added ${email.value}. Send them a sign-in link.`, "success"));
      email.value = "";
      name.value = "";
      await load();
    } catch (error) {
      replace(status, notice(error.message));
    }
  });
  await load();
  replace(main, h("h1", {}, "Members"), shown, list, detail, form);
  return null;
}
