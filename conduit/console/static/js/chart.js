// Charts as inline SVG, drawn from the API's time series (every bucket present, oldest first). Each
// chart is a figure with a caption and a text summary for screen readers; the numbers stay exact in
// the title of every bar or point.

import { ApiError, gql } from "./api.js";
import { h, notice, svg } from "./dom.js";

const W = 600;
const H = 120;
const PAD = 4;

function label(start, bucketSeconds) {
  const d = new Date(start);
  return bucketSeconds >= 86400 ? d.toLocaleDateString() : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// series: [{ key, name, kind: "bar" | "line", cls }]; format: value → text.
export function chart(title, buckets, series, format = (v) => String(v), bucketSeconds = 300) {
  const values = series.flatMap((s) => buckets.map((b) => b[s.key]).filter((v) => v !== null && v !== undefined));
  const max = Math.max(1e-9, ...values);
  const step = (W - PAD * 2) / Math.max(1, buckets.length);
  const y = (v) => H - PAD - (v / max) * (H - PAD * 2);
  const shapes = [];
  for (const s of series) {
    if (s.kind === "bar") {
      buckets.forEach((b, i) => {
        const v = b[s.key] || 0;
        shapes.push(svg("rect", { class: s.cls || "bar", x: PAD + i * step + 1, y: y(v), width: Math.max(1, step - 2), height: H - PAD - y(v) },
          svg("title", {}, `${label(b.start, bucketSeconds)}: ${format(v)} ${s.name}`)));
      });
    } else {
      const points = buckets.map((b, i) => [PAD + i * step + step / 2, b[s.key]]).filter(([, v]) => v !== null && v !== undefined);
      if (points.length) shapes.push(svg("polyline", { class: s.cls || "line", points: points.map(([x, v]) => `${x.toFixed(1)},${y(v).toFixed(1)}`).join(" ") }));
      // A dot per bucket with a value: a lone point draws no line.
      points.forEach(([x, v]) => shapes.push(svg("circle", { class: s.cls === "line2" ? "dot2" : "dot", cx: x.toFixed(1), cy: y(v).toFixed(1), r: 2.5 },
        svg("title", {}, `${format(v)} ${s.name}`))));
    }
  }
  const latest = series.map((s) => `${s.name} peak ${format(Math.max(0, ...buckets.map((b) => b[s.key] || 0)))}`).join(", ");
  return h("figure", { class: "chart" },
    h("figcaption", {}, h("strong", {}, title), " ", h("span", { class: "muted small" }, `peak ${format(max === 1e-9 ? 0 : max)}`)),
    svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": `${title}: ${latest}` }, shapes),
    buckets.length ? h("div", { class: "row small muted" }, h("span", {}, label(buckets[0].start, bucketSeconds)), h("span", {}, "→"), h("span", {}, label(buckets[buckets.length - 1].start, bucketSeconds))) : null);
}

const ms = (v) => `${Math.round(v)} ms`;
const pct = (v) => `${(v * 100).toFixed(1)} %`;

const QUERIES = {
  installation: `query Series($id: ID!, $window: HealthWindow!) { installation(id: $id) { healthSeries(window: $window) {
    bucketSeconds buckets { start calls errors errorRate p50Ms p95Ms rateLimitRemaining } } } }`,
  app: `query Series($id: ID!, $window: HealthWindow!) { app(id: $id) { healthSeries(window: $window) {
    bucketSeconds buckets { start attempts failures errorRate p50LatencyMs p95LatencyMs } } } }`,
};

export async function healthCharts(kind, id, window) {
  let series;
  try {
    const data = await gql(QUERIES[kind], { id, window });
    series = data[kind] && data[kind].healthSeries;
  } catch (error) {
    if (error instanceof ApiError) return notice(`Charts are unavailable: ${error.message}`, "info");
    throw error;
  }
  if (!series) return null;
  const b = series.buckets;
  const s = series.bucketSeconds;
  if (kind === "installation") {
    return h("div", { class: "charts", "data-charts": kind },
      chart("Calls", b, [{ key: "calls", name: "calls", kind: "bar" }, { key: "errors", name: "errors", kind: "bar", cls: "bad" }], String, s),
      chart("Error rate", b, [{ key: "errorRate", name: "error rate", kind: "line" }], pct, s),
      chart("Latency p50 / p95", b, [{ key: "p50Ms", name: "p50", kind: "line" }, { key: "p95Ms", name: "p95", kind: "line", cls: "line2" }], ms, s),
      chart("Rate-limit headroom", b, [{ key: "rateLimitRemaining", name: "requests left", kind: "line" }], String, s));
  }
  return h("div", { class: "charts", "data-charts": kind },
    chart("Attempts", b, [{ key: "attempts", name: "attempts", kind: "bar" }, { key: "failures", name: "failures", kind: "bar", cls: "bad" }], String, s),
    chart("Error rate", b, [{ key: "errorRate", name: "error rate", kind: "line" }], pct, s),
    chart("Latency p50 / p95", b, [{ key: "p50LatencyMs", name: "p50", kind: "line" }, { key: "p95LatencyMs", name: "p95", kind: "line", cls: "line2" }], ms, s));
}
