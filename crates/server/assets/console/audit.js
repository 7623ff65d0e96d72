// Global → Audit trail: newest first, a page at a time, narrowed by the
// server to an action (or a family of them), a record, a time span or a
// search; and the same events as a download.
import { api, path, query, problemText, authorization, BASE, TENANT } from "./api.js";
import { $, el, announce, formatTime } from "./ui.js";
import { DEFAULT_PAGE_SIZE } from "./limits.js";
import { FAMILIES, actionName, kindName, changesList } from "./auditwords.js";

// The action select: every family and its actions, as one list with groups.
// Tenants are managed at the root: no other trail holds their events.
{
  const select = $("a-action");
  for (const f of FAMILIES) {
    if (f.root && TENANT) continue;
    const group = el("optgroup");
    group.label = f.any.replace(/^Any (.*) event$/, (_, w) => w.charAt(0).toUpperCase() + w.slice(1) + " events");
    const any = el("option", f.any); any.value = f.family;
    group.append(any);
    for (const [value, words] of Object.entries(f.actions)) { const o = el("option", words); o.value = value; group.append(o); }
    select.append(group);
  }
}

let cursor = null;
let count = 0;
// The filter in force: "Load more" and the exports use it even if the form changed since.
let applied = {};
let filtered = false;
// Actor names seen, each with the accounts that carried it: a name two
// accounts share is shown with each one's ID.
const actorsByName = new Map(); // name → Map(kind:id → [id elements])

function cell(label, cls) { const td = el("td", undefined, cls); td.dataset.label = label; return td; }

function idNote(id) { return el("code", id, "id-note"); }

function whoCell(actor) {
  const td = cell("Who", "who-cell");
  if (!actor) { td.textContent = "—"; return td; }
  td.append(el("span", actor.name || "(no name)", "who-name"), " ", el("span", kindName(actor.kind), "kind"));
  const key = actor.kind + ":" + actor.id;
  let accounts = actorsByName.get(actor.name);
  if (!accounts) { accounts = new Map(); actorsByName.set(actor.name, accounts); }
  if (!accounts.has(key)) accounts.set(key, []);
  const note = idNote(actor.id);
  note.hidden = true;
  accounts.get(key).push(note);
  td.append(note);
  // Two accounts share this name: every row with it shows whose it is.
  if (accounts.size > 1) for (const notes of accounts.values()) for (const n of notes) n.hidden = false;
  return td;
}

function targetCell(e) {
  const td = cell("Target", "target-cell");
  td.append(el("span", e.target_name || "(name not recorded)", e.target_name ? "target-name" : "target-name muted"),
    " ", el("span", kindName(e.target_kind), "kind"));
  if (e.target_id) td.append(idNote(e.target_id));
  return td;
}

function detailsCell(e) {
  const td = cell("Details", "detail-cell");
  // The detail often repeats the target's name: said once is enough.
  if (e.detail && e.detail !== e.target_name) td.append(el("p", e.detail, "detail-text"));
  if (e.changes && Object.keys(e.changes).length) td.append(changesList(e.changes));
  const more = el("details", undefined, "request");
  const summary = el("summary", "Request");
  summary.setAttribute("aria-label", "Request details: " + actionName(e.action) + ", " + formatTime(e.at, { seconds: true }));
  const dl = el("dl");
  const item = (term, value, code) => { dl.append(el("dt", term)); const dd = el("dd"); if (code && value) dd.append(el("code", value)); else dd.textContent = value || "not recorded"; dl.append(dd); };
  item("Source address", e.source, true);
  item("Request ID", e.request_id, true);
  item("Action", e.action, true);
  item("Event ID", e.id, true);
  if (e.tenant) item("Tenant", e.tenant, true);
  more.append(summary, dl);
  td.append(more);
  return td;
}

function row(e) {
  const tr = el("tr");
  tr.dataset.action = e.action;
  const when = cell("When", "when-cell");
  const time = el("time", formatTime(e.at, { seconds: true })); time.dateTime = e.at;
  when.append(time);
  const what = cell("Action", "action-cell");
  what.textContent = actionName(e.action);
  tr.append(when, whoCell(e.actor), what, targetCell(e), detailsCell(e));
  return tr;
}

function state({ loading = false, error = null, empty = false } = {}) {
  $("audit-loading").hidden = !loading;
  $("audit-table").setAttribute("aria-busy", loading ? "true" : "false");
  $("audit-error").hidden = !error;
  if (error) $("audit-error-text").textContent = error;
  $("audit-empty").hidden = !empty;
  if (empty) $("audit-empty").textContent = filtered ? "No event matches the filter." : "No events yet.";
}

let lastReset = true;
// Each load's number: an answer to an older request than the newest is dropped.
let latest = 0;

async function load(reset) {
  const mine = ++latest;
  lastReset = reset;
  if (reset) {
    cursor = null; count = 0; actorsByName.clear();
    $("audit-count").textContent = "";
    $("audit-export-status").textContent = "";
    $("audit-rows").replaceChildren();
    $("audit-table").hidden = true;
    $("audit-more").hidden = true;
  }
  state({ loading: true });
  const r = await api("GET", path.audit + query({ limit: DEFAULT_PAGE_SIZE, cursor, ...applied }));
  if (mine !== latest) return false;
  const denied = r.status === 403;
  $("audit-denied").hidden = !denied; $("audit-filter").hidden = denied; $("audit-bar").hidden = denied;
  if (denied) {
    state();
    $("audit-table").hidden = true;
    $("audit-denied").textContent = "Your account cannot read the audit trail. Ask an administrator for the Administrator role.";
    $("audit-more").hidden = true;
    return false;
  }
  if (!r.ok || !r.data || !Array.isArray(r.data.items)) {
    const text = "Could not load " + (reset ? "the audit trail" : "more events") + ": " + problemText(r);
    state({ error: text });
    $("audit-table").hidden = count === 0;
    $("audit-more").hidden = true;
    if (reset) $("audit-count").textContent = "";
    // An earlier "… match the filter" must not stand beside the error (which
    // is an alert, so it is spoken).
    $("status").textContent = "";
    return false;
  }
  for (const e of r.data.items) { $("audit-rows").append(row(e)); count += 1; }
  cursor = r.data.next_cursor;
  state({ empty: count === 0 });
  $("audit-table").hidden = count === 0;
  $("audit-more").hidden = !cursor;
  $("audit-count").textContent = count === 0 ? "" : (count === 1 ? "1 event" : count + " events")
    + (filtered ? (count === 1 ? " matches" : " match") + " the filter" : " shown") + ", newest first"
    + (cursor ? "; Load more, at the end, shows older ones." : ".");
  if (!reset) announce(r.data.items.length + " more events loaded, " + count + " in all.");
  else if (filtered) announce(count === 0 ? "No event matches the filter." : count + (cursor ? "+" : "") + " events match the filter.");
  return true;
}

// A date input's day, as the instant its local day starts (or, for the
// end of a span, the instant the next day starts), in RFC 3339.
function dayStart(value, next) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || "");
  if (!m) return null;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + (next ? 1 : 0)).toISOString();
}

function filters() {
  const action = $("a-action").value;
  const target = $("a-target").value.trim();
  const search = $("a-search").value.trim();
  return {
    action: action || null, target_id: target || null, search: search || null,
    since: dayStart($("a-since").value, false), until: dayStart($("a-until").value, true),
  };
}

function setError(input, errorId, text) {
  $(errorId).textContent = text;
  if (text) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
}

export async function showAudit() { await load(true); }
$("audit-more").addEventListener("click", () => load(false));
$("audit-retry").addEventListener("click", async () => {
  const reset = lastReset;
  const ok = await load(reset);
  if (!ok) return;
  const more = $("audit-more");
  (reset || more.hidden ? $("audit-title") : more).focus();
});
$("audit-filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const since = $("a-since").value;
  const until = $("a-until").value;
  setError($("a-until"), "a-until-error", since && until && until < since ? "The end date cannot be before the start date." : "");
  if ($("a-until-error").textContent) { $("a-until").focus(); return; }
  applied = filters();
  filtered = Object.values(applied).some(Boolean);
  load(true);
});
$("a-until").addEventListener("input", () => setError($("a-until"), "a-until-error", ""));
$("a-since").addEventListener("input", () => setError($("a-until"), "a-until-error", ""));
$("a-clear").addEventListener("click", () => {
  for (const id of ["a-action", "a-target", "a-search", "a-since", "a-until"]) $(id).value = "";
  setError($("a-until"), "a-until-error", "");
  applied = {};
  filtered = false;
  load(true);
});

function today() {
  const d = new Date();
  return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
}

// Every event matching the filter in force, saved as a file.
async function exportAs(format, button) {
  // Marked busy rather than disabled: a disabled button would drop the focus.
  if (button.getAttribute("aria-disabled") === "true") return;
  const label = button.textContent;
  const said = $("audit-export-status");
  button.setAttribute("aria-disabled", "true"); button.setAttribute("aria-busy", "true"); button.textContent = "Exporting…";
  said.textContent = "";
  said.classList.remove("err");
  try {
    let response;
    try {
      response = await fetch(BASE + path.audit + "/export" + query({ format, ...applied }), { headers: authorization() });
    } catch (_) {
      throw new Error("The server could not be reached. Check your connection and try again.");
    }
    if (!response.ok) {
      let data = null;
      try { data = await response.json(); } catch (_) { data = null; }
      throw new Error(response.status === 401 ? "Your session has ended. Sign in again." : problemText({ status: response.status, data }));
    }
    const blob = await response.blob();
    const name = "audit-events-" + (TENANT ? TENANT + "-" : "") + today() + "." + format;
    const url = URL.createObjectURL(blob);
    const a = el("a"); a.href = url; a.download = name; a.hidden = true;
    document.body.append(a); a.click(); a.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 60000);
    // Said beside the buttons (a status region), where the eyes are.
    said.textContent = "Saved " + name + (filtered ? " (the events matching the filter)." : " (every event).");
  } catch (error) {
    said.textContent = "Could not export: " + error.message;
    said.classList.add("err");
  } finally {
    button.removeAttribute("aria-disabled"); button.removeAttribute("aria-busy"); button.textContent = label;
  }
}
$("audit-export-csv").addEventListener("click", (ev) => exportAs("csv", ev.currentTarget));
$("audit-export-jsonl").addEventListener("click", (ev) => exportAs("jsonl", ev.currentTarget));
