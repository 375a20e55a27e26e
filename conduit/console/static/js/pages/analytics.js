// Partner analytics for an app this organization owns: installs and uninstalls, active installations,
// events delivered, API calls made with the app's tokens and their error rate, over time.

import { ApiError, gql } from "../api.js";
import { chart } from "../chart.js";
import { field, h, notice, replace } from "../dom.js";

const APPS = "query Apps { apps { id name kind } }";
const ANALYTICS = `query Analytics($id: ID!, $window: HealthWindow!) { app(id: $id) { id name analytics(window: $window) {
  bucketSeconds activeInstallations
  buckets { start installs uninstalls events eventsDelivered eventsFailed apiCalls apiErrors apiErrorRate } } } }`;

function stat(label, value) {
  return h("div", { class: "stat" }, h("span", { class: "muted small" }, label), h("strong", {}, value));
}

export async function render(main) {
  document.title = "Partner analytics · Conduit";
  const { apps } = await gql(APPS);
  const params = new URLSearchParams(location.search);
  if (!apps.length) {
    replace(main, h("h1", {}, "Partner analytics"), h("p", {}, "No app yet: ", h("a", { href: "/apps" }, "create one"), "."));
    return null;
  }
  const picker = h("select", { name: "app" }, apps.map((a) => h("option", { value: a.id, selected: a.id === params.get("app") }, a.name)));
  const span = h("select", { name: "window" }, ["DAY", "WEEK", "HOUR"].map((w) => h("option", { value: w, selected: w === (params.get("window") || "WEEK") }, `Last ${w.toLowerCase()}`)));
  const body = h("div", { "aria-live": "polite" });
  async function load() {
    history.replaceState(null, "", `/analytics?app=${encodeURIComponent(picker.value)}&window=${span.value}`);
    let data;
    try {
      data = await gql(ANALYTICS, { id: picker.value, window: span.value });
    } catch (error) {
      if (error instanceof ApiError) { replace(body, notice(error.message, "info")); return; }
      throw error;
    }
    const a = data.app.analytics;
    const b = a.buckets;
    const sum = (k) => b.reduce((n, x) => n + x[k], 0);
    const calls = sum("apiCalls");
    replace(body,
      h("div", { class: "stats" }, stat("Active installations", a.activeInstallations), stat("Installs", sum("installs")), stat("Uninstalls", sum("uninstalls")),
        stat("Events delivered", `${sum("eventsDelivered")} / ${sum("events")}`), stat("Events failed", sum("eventsFailed")), stat("API calls", calls),
        stat("API error rate", calls ? `${((sum("apiErrors") / calls) * 100).toFixed(1)} %` : "—")),
      h("div", { class: "charts" },
        chart("Installs and uninstalls", b, [{ key: "installs", name: "installs", kind: "bar" }, { key: "uninstalls", name: "uninstalls", kind: "bar", cls: "bad" }], String, a.bucketSeconds),
        chart("Events", b, [{ key: "events", name: "events", kind: "bar" }, { key: "eventsFailed", name: "failed", kind: "bar", cls: "bad" }], String, a.bucketSeconds),
        chart("API calls", b, [{ key: "apiCalls", name: "calls", kind: "bar" }, { key: "apiErrors", name: "errors", kind: "bar", cls: "bad" }], String, a.bucketSeconds),
        chart("API error rate", b, [{ key: "apiErrorRate", name: "error rate", kind: "line" }], (v) => `${(v * 100).toFixed(1)} %`, a.bucketSeconds)));
  }
  picker.addEventListener("change", load);
  span.addEventListener("change", load);
  replace(main, h("h1", {}, "Partner analytics"), h("p", { class: "muted" }, "How your apps are doing across every organization that installed them."),
    h("div", { class: "filters" }, field("App", picker), field("Window", span)), body);
  await load();
  return null;
}
