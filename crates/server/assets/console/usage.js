// Usage at a glance: an application's last 7 days in its details (a chart
// of tokens issued and refused per day, and beside it the same counts by
// reason in a table, which reads without colour and by keyboard), the last
// activity of each listed application, and the tenant's overview screen.
// The SVG is drawn in the page from the admin API's hourly buckets; days
// are the browser's, named by its time zone.
import { api, path, problemText } from "./api.js";
import { $, el, grouped } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";
const DAYS = 7;
const REASONS = [
  ["invalid_secret", "Wrong secret"],
  ["expired_secret", "Expired secret"],
  ["source_not_allowed", "Source not allowed"],
  ["quota_exceeded", "Quota spent"],
  ["assertion_refused", "Assertion refused"],
];
const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
const DAY_LABEL = new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short" });
const WHEN = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}

const refusedOf = (b) => REASONS.reduce((sum, [key]) => sum + (b.refused[key] || 0), 0);

// The last 7 local days, oldest first, each with its totals.
export function days(buckets, now = new Date()) {
  const out = [];
  const today = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  for (let i = DAYS - 1; i >= 0; i--) {
    const start = new Date(today.getFullYear(), today.getMonth(), today.getDate() - i);
    const day = { start, issued: 0, refused: 0, api_refused: 0 };
    for (const [key] of REASONS) day[key] = 0;
    out.push(day);
  }
  for (const b of buckets) {
    const at = new Date(b.start);
    const day = out.find((d, i) => at >= d.start && (i === out.length - 1 || at < out[i + 1].start));
    if (!day) continue;
    day.issued += b.issued;
    day.api_refused += b.api_refused;
    for (const [key] of REASONS) day[key] += b.refused[key] || 0;
    day.refused += refusedOf(b);
  }
  return out;
}

// Two bars a day, issued and refused, each with its numbers as a tooltip.
function chart(list, name) {
  const width = 336; const height = 120; const base = 100; const slot = width / list.length;
  const top = Math.max(1, ...list.map((d) => Math.max(d.issued, d.refused)));
  const titleId = "usage-chart-title-" + Math.random().toString(36).slice(2);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": titleId, class: "usage-chart" });
  const title = svg("title", { id: titleId });
  title.textContent = "Tokens issued and refused per day, last 7 days, " + name + " (the table beside gives the numbers)";
  root.append(title, svg("line", { x1: 0, x2: width, y1: base, y2: base, class: "axis" }));
  list.forEach((d, i) => {
    const x = i * slot;
    for (const [value, cls, offset, what] of [[d.issued, "bar-issued", 0.18, "issued"], [d.refused, "bar-refused", 0.5, "refused"]]) {
      const h = Math.round((value / top) * (base - 6));
      const bar = svg("rect", { x: x + slot * offset, y: base - h, width: slot * 0.3, height: Math.max(h, value ? 1 : 0), class: cls });
      const tip = svg("title");
      tip.textContent = DAY_LABEL.format(d.start) + ": " + grouped(value) + " " + what;
      bar.append(tip);
      root.append(bar);
    }
    const label = svg("text", { x: x + slot / 2, y: height - 4, "text-anchor": "middle", class: "axis-label" });
    label.textContent = DAY_LABEL.format(d.start).split(" ")[0];
    root.append(label);
  });
  return root;
}

function table(list, caption) {
  const t = el("table", undefined, "usage-table");
  t.append(el("caption", caption));
  const head = el("tr");
  for (const h of ["Day", "Issued", "Refused", ...REASONS.map(([, label]) => label), "API refused"]) {
    const th = el("th", h); th.scope = "col"; head.append(th);
  }
  const thead = el("thead"); thead.append(head);
  const body = el("tbody");
  for (const d of list) {
    const tr = el("tr");
    const th = el("th", DAY_LABEL.format(d.start)); th.scope = "row"; tr.append(th);
    for (const v of [d.issued, d.refused, ...REASONS.map(([key]) => d[key]), d.api_refused]) tr.append(el("td", grouped(v), "num"));
    body.append(tr);
  }
  t.append(thead, body);
  return t;
}

// A chart, its legend and its table for `buckets`, headed `heading`.
function view(buckets, name) {
  const list = days(buckets);
  const box = el("div", undefined, "usage-view");
  const figure = el("figure", undefined, "usage-figure");
  figure.append(chart(list, name));
  const legend = el("figcaption", undefined, "usage-legend");
  legend.append(el("span", "Issued", "key-issued"), " ", el("span", "Refused", "key-refused"),
    el("span", " · days in " + ZONE, "muted"));
  figure.append(legend);
  const wrap = el("div", undefined, "usage-table-wrap");
  wrap.tabIndex = 0;
  wrap.setAttribute("role", "region");
  wrap.setAttribute("aria-label", "Usage by day and reason, " + name);
  wrap.append(table(list, "Last 7 days by reason, " + name + ", days in " + ZONE));
  box.append(figure, wrap);
  return box;
}

// The section in an application's details; `load()` when opened.
export function usageSection(app) {
  const node = el("section", undefined, "subsection usage");
  const headingId = "usage-h-" + app.id;
  const h = el("h3", "Usage, last 7 days"); h.id = headingId;
  node.setAttribute("aria-labelledby", headingId);
  const body = el("div");
  body.append(el("p", "Loading usage…", "muted"));
  node.append(h, body);
  let loaded = false;
  async function load() {
    if (loaded) return;
    const r = await api("GET", path.app(app.id) + "/usage");
    if (!r.ok) { body.replaceChildren(el("p", "Usage could not be loaded: " + problemText(r), "notice")); return; }
    loaded = true;
    body.replaceChildren(view(r.data.buckets, app.name));
  }
  return { node, load };
}

// Each listed application's last activity, read once per list load.
export async function lastActivity() {
  const r = await api("GET", "/admin/v1/usage");
  const out = new Map();
  if (!r.ok) return out;
  for (const a of r.data.applications) if (a.last_activity) out.set(a.id, new Date(a.last_activity));
  return out;
}

export const activityText = (at) => (at ? WHEN.format(at) : "None in 30 days");

// The tenant's overview screen.
export async function showOverview() {
  const box = $("overview-body");
  box.replaceChildren(el("p", "Loading usage…", "muted"));
  const r = await api("GET", "/admin/v1/usage");
  if (!r.ok) { box.replaceChildren(el("p", "Usage could not be loaded: " + problemText(r), "notice")); return; }
  const parts = [view(r.data.buckets, "every application")];
  const t = el("table", undefined, "usage-table");
  t.append(el("caption", "Applications active in the last 7 days, most active first"));
  const head = el("tr");
  for (const h of ["Application", "Issued", "Refused", "API refused", "Last activity"]) { const th = el("th", h); th.scope = "col"; head.append(th); }
  const thead = el("thead"); thead.append(head);
  const tbody = el("tbody");
  const names = await api("GET", "/admin/v1/external-applications?limit=100");
  const nameOf = new Map(names.ok ? names.data.items.map((a) => [a.id, a.name]) : []);
  for (const a of r.data.applications) {
    const tr = el("tr");
    const th = el("th", nameOf.get(a.id) || a.id); th.scope = "row"; tr.append(th);
    for (const v of [a.issued, a.refused, a.api_refused]) tr.append(el("td", grouped(v), "num"));
    tr.append(el("td", activityText(a.last_activity && new Date(a.last_activity))));
    tbody.append(tr);
  }
  if (!r.data.applications.length) {
    const tr = el("tr"); const td = el("td", "No activity in the last 30 days."); td.colSpan = 5; tr.append(td); tbody.append(tr);
  }
  t.append(thead, tbody);
  const wrap = el("div", undefined, "usage-table-wrap");
  wrap.tabIndex = 0;
  wrap.setAttribute("role", "region");
  wrap.setAttribute("aria-label", "Usage by application");
  wrap.append(t);
  parts.push(wrap);
  box.replaceChildren(...parts);
}
