// The shell: who is signed in, the navigation their scopes allow, and the client-side router.
// Each page is a module exporting `render(main, params)`, which may return a function that stops
// whatever it started (a subscription, a timer) when the page is left.

import { ApiError, Forbidden, can, current, loadSession, signIn, signOut } from "./api.js";
import { announce, field, h, notice, replace } from "./dom.js";

// path pattern, module, scope needed to see the page, nav label (null: not in the navigation), section.
const ROUTES = [
  ["/issues", "issues", "issue:read", "Issues", "Errors"],
  ["/issues/:id", "issue", "issue:read", null],
  ["/rules", "rules", "project:write", "Rules", "Admin"],
  ["/installations", "installations", "installation:write", "Installations", "Admin"],
  ["/installations/:id", "installation", "installation:write", null],
  ["/members", "members", "member:write", "Members", "Admin"],
  ["/tokens", "tokens", "token:write", "API tokens", "Admin"],
  ["/jobs", "jobs", "job:write", "Jobs", "Admin"],
  ["/apps", "apps", "app:write", "Apps", "Integrate"],
  ["/apps/:id", "app", "app:write", null],
  ["/deliveries/:id", "delivery", "webhook:read", null],
  ["/catalog", "catalog", null, "Event catalog", "Integrate"],
  ["/analytics", "analytics", "app:write", "Partner analytics", "Integrate"],
];

const main = document.getElementById("main");
const top = document.getElementById("top");
let leave = null;

function match(path) {
  for (const [pattern, module, scope] of ROUTES) {
    const names = [];
    const source = pattern.replace(/:(\w+)/g, (_, name) => { names.push(name); return "([^/]+)"; });
    const found = new RegExp(`^${source}/?$`).exec(path);
    if (found) {
      const params = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(found[i + 1])]));
      return { module, scope, params };
    }
  }
  return null;
}

export function navigate(url, { replace: swap = false } = {}) {
  if (swap) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  route();
}

function nav() {
  const sections = new Map();
  for (const [path, , scope, label, section] of ROUTES) {
    if (!label || (scope && !can(scope))) continue;
    if (!sections.has(section)) sections.set(section, []);
    sections.get(section).push(h("li", {}, h("a", { href: path, "data-nav": path }, label)));
  }
  // GraphiQL is a page of its own (not routed here): the API explorer, with this session.
  if (sections.has("Integrate")) sections.get("Integrate").push(h("li", {}, h("a", { href: "/graphql" }, "GraphiQL")));
  return h("nav", { "aria-label": "Main" },
    [...sections].map(([section, links]) => h("div", { class: "nav-section" }, h("span", { class: "nav-title" }, section), h("ul", {}, links))));
}

function header() {
  const s = current();
  if (!s) {
    replace(top, h("a", { href: "/", class: "brand" }, "Conduit"));
    return;
  }
  replace(
    top,
    h("a", { href: "/issues", class: "brand" }, "Conduit"),
    nav(),
    h("div", { class: "who" },
      h("span", { title: `${s.member.email} in ${s.organization.name} (${s.organization.slug})` }, h("strong", {}, s.member.name || s.member.email), " ", h("span", { class: "muted", "data-role": s.member.role }, s.member.role)),
      h("button", { type: "button", id: "sign-out", onclick: async () => { await signOut(); } }, "Sign out")),
  );
}

function highlight(path) {
  for (const link of top.querySelectorAll("a[data-nav]")) {
    const here = path === link.dataset.nav || path.startsWith(`${link.dataset.nav}/`);
    if (here) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function signInPage() {
  document.title = "Sign in · Conduit";
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const organization = h("input", { type: "text", name: "organization", autocomplete: "organization", placeholder: "only if you belong to several" });
  const status = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "card narrow", "aria-labelledby": "sign-in-title" },
    h("h1", { id: "sign-in-title" }, "Sign in to Conduit"),
    field("Email", email),
    field("Password", password),
    field("Organization (slug)", organization),
    submit, status,
    h("p", { class: "muted" }, "No password yet? An admin can send you a sign-in link; ", h("code", {}, "conduit signin-link EMAIL"), " prints one."));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    replace(status);
    try {
      const result = await signIn(email.value.trim(), password.value, organization.value.trim());
      if (result.ok) {
        const next = new URLSearchParams(location.search).get("next");
        navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/issues", { replace: true });
        return;
      }
      let message = result.error || "Sign-in failed.";
      if (result.status === 401) message = "Wrong email or password.";
      if (result.status === 429) message = `Too many attempts; try again in ${result.retryAfter || "a few"} seconds.`;
      if (result.status === 400 && !organization.value) message = result.error || "This email belongs to several organizations: give the organization's slug.";
      replace(status, notice(message));
      password.select();
    } catch (error) {
      replace(status, notice(error.message));
    } finally {
      submit.disabled = false;
    }
  });
  replace(main, form);
  email.focus();
}

async function route() {
  if (leave) { try { leave(); } catch (_) { /* the page is gone either way */ } leave = null; }
  const path = location.pathname;
  header();
  if (!current()) {
    if (path !== "/sign-in") history.replaceState(null, "", path === "/" ? "/sign-in" : `/sign-in?next=${encodeURIComponent(path + location.search)}`);
    signInPage();
    return;
  }
  if (path === "/" || path === "/sign-in") {
    history.replaceState(null, "", "/issues");
    return route();
  }
  highlight(path);
  const found = match(path);
  if (!found) {
    replace(main, h("h1", {}, "Not found"), h("p", {}, "No page here. ", h("a", { href: "/issues" }, "Go to issues")));
    return;
  }
  if (found.scope && !can(found.scope)) {
    document.title = "Not allowed · Conduit";
    replace(main, h("h1", {}, "Not allowed"), notice(`This page needs the ${found.scope} scope, which your role (${current().member.role}) does not have. Ask an admin.`), h("p", {}, h("a", { href: "/issues" }, "Back to issues")));
    return;
  }
  // Each visit renders into a view of its own: a page still finishing a request after it was left
  // writes into a detached element, never over the next page.
  const view = h("div", { class: "view" }, h("p", { class: "muted", "aria-busy": "true" }, "Loading…"));
  replace(main, view);
  try {
    const page = await import(`./pages/${found.module}.js`);
    const stop = (await page.render(view, found.params)) || null;
    if (view.isConnected) leave = stop;
    else if (stop) stop();
  } catch (error) {
    if (error instanceof ApiError && error.code === "UNAUTHENTICATED") return;
    replace(view, h("h1", {}, error instanceof Forbidden ? "Not allowed" : "Something went wrong"), notice(error.message));
  }
}

// Links inside the console route on the client; modified clicks open new tabs as usual.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(link.href);
  if (url.origin !== location.origin || link.target || link.hasAttribute("download") || url.pathname === "/graphql") return;
  event.preventDefault();
  navigate(url.pathname + url.search);
  main.focus({ preventScroll: true });
});

window.addEventListener("popstate", route);
window.addEventListener("conduit:signed-out", () => {
  announce("Signed out");
  route();
});

(async () => {
  try {
    await loadSession();
  } catch (error) {
    replace(main, notice(error.message));
    return;
  }
  await route();
  // The first page is drawn and answers input: what bench/console.py reports as time to interactive.
  performance.mark("conduit:interactive");
  document.documentElement.dataset.ready = "true";
})();
