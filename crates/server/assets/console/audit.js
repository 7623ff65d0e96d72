// Global → Audit trail: newest first, a page at a time, narrowed by the
// server to an action (or a family of them) and a record.
import { api, path, query, problemText, TENANT } from "./api.js";
import { $, el, announce, formatTime } from "./ui.js";
import { DEFAULT_PAGE_SIZE } from "./limits.js";

let cursor = null;
let count = 0;

// Tenants are managed at the root: no other trail holds their events.
if (TENANT) $("a-action-tenant").remove();

function cell(text, label) { const td = el("td", text); td.dataset.label = label; return td; }

function filters() {
  const action = $("a-action").value;
  const target = $("a-target").value.trim();
  return { action: action || null, target_id: target || null };
}

// The filter in force: "Load more" continues it even if the form changed since.
let applied = {};
let filtered = false;

async function load(reset) {
  if (reset) { cursor = null; count = 0; $("audit-rows").replaceChildren(); }
  const r = await api("GET", path.audit + query({ limit: DEFAULT_PAGE_SIZE, cursor, ...applied }));
  const denied = r.status === 403;
  $("audit-denied").hidden = !denied; $("audit-table").hidden = denied; $("audit-filter").hidden = denied;
  if (denied) { $("audit-denied").textContent = "Your account cannot read the audit trail. Ask an administrator for the Administrator role."; $("audit-more").hidden = true; return; }
  if (!r.ok) { announce("Could not load the audit trail: " + problemText(r)); return; }
  for (const e of r.data.items) {
    const tr = el("tr");
    const who = e.actor ? e.actor.name + " (" + e.actor.kind + ")" : "—";
    tr.append(cell(formatTime(e.at), "When"), cell(who, "Who"), cell(e.action, "Action"),
      cell(e.target_kind + " " + e.target_id, "Target"), cell(e.detail || "—", "Detail"));
    $("audit-rows").append(tr);
    count += 1;
  }
  cursor = r.data.next_cursor;
  $("audit-more").hidden = !cursor;
  if (!reset) announce(r.data.items.length + " more events loaded, " + count + " in all.");
  else if (filtered) announce(count === 0 ? "No event matches the filter." : count + (cursor ? "+" : "") + " events match the filter.");
}

export async function showAudit() { await load(true); }
$("audit-more").addEventListener("click", () => load(false));
$("audit-filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  applied = filters();
  filtered = Boolean(applied.action || applied.target_id);
  load(true);
});
$("a-clear").addEventListener("click", () => {
  $("a-action").value = "";
  $("a-target").value = "";
  applied = {};
  filtered = false;
  load(true);
});
