// Background jobs: queue depth and per-kind figures, the jobs in a state (dead ones first), and retry.

import { gql, payload } from "../api.js";
import { badge, field, h, notice, replace, table, time } from "../dom.js";

const JOBS = `query Jobs($state: JobState, $after: String) {
  jobStats { depth { state count } oldestPendingAgeSeconds kinds { kind done dead failures avgDurationMs maxDurationMs avgLatencyMs } }
  jobs(state: $state, first: 50, after: $after) { pageInfo { hasNextPage endCursor }
    nodes { id kind key state attempts failures createdAt runAfter finishedAt durationMs lastError deadReason payload } }
}`;
const RETRY = "mutation Retry($id: ID!) { retryJob(id: $id) { __typename ... on RetryJobPayload { job { id state } } ... on UserError { message } } }";

export async function render(main) {
  document.title = "Jobs · Conduit";
  const params = new URLSearchParams(location.search);
  const state = params.get("state") ?? "DEAD";
  const status = h("div", { "aria-live": "polite" });
  const data = await gql(JOBS, { state: state || null, after: params.get("after") });
  const picker = h("select", { name: "state" }, [["DEAD", "Dead"], ["PENDING", "Pending"], ["QUEUED", "Queued"], ["RUNNING", "Running"], ["DONE", "Done"], ["", "All"]].map(([v, l]) => h("option", { value: v, selected: v === state }, l)));
  picker.addEventListener("change", () => { history.pushState(null, "", `/jobs?state=${picker.value}`); render(main); });
  const stats = data.jobStats;
  replace(main, h("h1", {}, "Jobs"),
    h("div", { class: "stats" }, stats.depth.map((d) => h("div", { class: "stat" }, h("span", { class: "muted small" }, d.state.toLowerCase()), h("strong", {}, d.count))),
      h("div", { class: "stat" }, h("span", { class: "muted small" }, "oldest waiting"), h("strong", {}, stats.oldestPendingAgeSeconds === null ? "—" : `${Math.round(stats.oldestPendingAgeSeconds)} s`))),
    h("details", {}, h("summary", {}, "Per kind"), table(["Kind", "Done", "Dead", "Failures", "Avg duration", "Max", "Avg wait"], stats.kinds.map((k) => h("tr", {},
      h("td", { class: "mono" }, k.kind), h("td", { class: "num" }, k.done), h("td", { class: "num" }, k.dead), h("td", { class: "num" }, k.failures),
      h("td", { class: "num" }, k.avgDurationMs === null ? "—" : `${Math.round(k.avgDurationMs)} ms`), h("td", { class: "num" }, k.maxDurationMs ?? "—"),
      h("td", { class: "num" }, k.avgLatencyMs === null ? "—" : `${Math.round(k.avgLatencyMs)} ms`))), "Per kind")),
    h("div", { class: "filters" }, field("State", picker)), status,
    table(["Kind", "State", "Attempts", "Created", "Error", ""], data.jobs.nodes.map((j) => h("tr", { dataset: { job: j.id } },
      h("td", {}, h("span", { class: "mono" }, j.kind), j.key ? h("div", { class: "small muted mono" }, j.key) : null),
      h("td", {}, badge(j.state)), h("td", { class: "num" }, `${j.attempts} (${j.failures} failed)`), h("td", {}, time(j.createdAt)),
      h("td", { class: "small" }, j.deadReason || j.lastError || "", h("details", {}, h("summary", {}, "payload"), h("pre", {}, JSON.stringify(j.payload, null, 2)))),
      h("td", {}, j.state === "DEAD" ? h("button", { type: "button", onclick: async () => {
        try { payload((await gql(RETRY, { id: j.id })).retryJob, "RetryJobPayload"); replace(status, notice(`Queued ${j.kind} again.`, "success")); await render(main); } catch (error) { replace(status, notice(error.message)); }
      } }, "Retry") : null))), "Jobs"),
    data.jobs.pageInfo.hasNextPage ? h("nav", { class: "pager" }, h("a", { href: `/jobs?state=${state}&after=${encodeURIComponent(data.jobs.pageInfo.endCursor)}` }, "Next page →")) : null);
  return null;
}
