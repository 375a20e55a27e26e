// Building the page: elements are made with text nodes, never from HTML strings, so nothing an API
// returns (titles, messages, payloads) can become markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else if (key === "href") el.setAttribute(key, safeHref(String(value)));
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

// Links come from trackers and apps too (a ticket's URL): only web URLs and the console's own paths are
// followed, never `javascript:` or `data:` (the CSP would stop them as well).
export function safeHref(value) {
  const url = new URL(value, location.href);
  return url.protocol === "http:" || url.protocol === "https:" ? value : "#";
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function announce(message) {
  const live = document.getElementById("announce");
  if (live) live.textContent = message;
}

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const absolute = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "short" });

export function ago(iso) {
  if (!iso) return "—";
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
  const units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return relative.format(Math.round(seconds), "second");
}

export function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: iso, title: absolute.format(new Date(iso)) }, ago(iso));
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind || String(text).toLowerCase()}` }, text);
}

export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("small", { class: "muted" }, hint) : null);
}

export function notice(message, kind = "error") {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
}

export function table(headers, rows, caption) {
  return h(
    "table",
    {},
    caption ? h("caption", { class: "visually-hidden" }, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, "Nothing here yet."))),
  );
}

// A secret shown once, with a way to copy it, and the warning that it will not be shown again.
export function secret(label, value) {
  const input = h("input", { type: "text", readonly: true, value, class: "mono", "aria-label": label });
  const copy = h("button", { type: "button", onclick: async () => { input.select(); try { await navigator.clipboard.writeText(value); announce(`${label} copied`); } catch (_) { document.execCommand("copy"); } } }, "Copy");
  return h("div", { class: "secret", dataset: { secret: label } }, h("strong", {}, label), h("div", { class: "row" }, input, copy), h("small", {}, "Shown once: store it now."));
}

export function confirmDialog(title, text, confirmLabel) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { "aria-labelledby": "dialog-title" },
      h("form", { method: "dialog" },
        h("h2", { id: "dialog-title" }, title),
        h("p", {}, text),
        h("div", { class: "row" },
          h("button", { value: "cancel", type: "submit" }, "Cancel"),
          h("button", { value: "confirm", type: "submit", class: "danger" }, confirmLabel))),
    );
    dialog.addEventListener("close", () => { dialog.remove(); resolve(dialog.returnValue === "confirm"); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

// Rebuilds `el` with `build()` while keeping what the reader was typing and where the focus was: live
// refreshes must not eat a half-written comment.
export async function preserving(el, build) {
  const key = (control) => {
    const form = control.closest("form");
    return `${form ? form.getAttribute("aria-labelledby") || "" : ""}|${control.name}`;
  };
  const kept = new Map();
  for (const control of el.querySelectorAll("input[name], textarea[name], select[name]")) {
    if (control.type !== "checkbox") kept.set(key(control), control.value);
  }
  const focused = document.activeElement && el.contains(document.activeElement) && document.activeElement.name ? key(document.activeElement) : null;
  await build();
  for (const control of el.querySelectorAll("input[name], textarea[name], select[name]")) {
    const k = key(control);
    if (kept.has(k) && control.type !== "checkbox") control.value = kept.get(k);
    if (k === focused) control.focus();
  }
}
