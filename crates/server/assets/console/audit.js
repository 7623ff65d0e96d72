// Global → Audit trail: newest first, a page at a time. The API has no
// server-side filter, so the filter narrows the events already loaded.
import { api, path, query, problemText } from "./api.js";
import { $, el, announce, formatTime } from "./ui.js";

let cursor = null;
let count = 0;

function cell(text, label) { const td = el("td", text); td.dataset.label = label; return td; }

function applyFilter() {
  const needle = $("a-filter").value.trim().toLowerCase();
  let visible = 0;
  for (const tr of $("audit-rows").children) {
    const match = !needle || tr.textContent.toLowerCase().includes(needle);
    tr.hidden = !match;
    if (match) visible += 1;
  }
  return visible;
}

async function load(reset) {
  if (reset) { cursor = null; count = 0; $("audit-rows").replaceChildren(); }
  const r = await api("GET", path.audit + query({ limit: 50, cursor }));
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
  applyFilter();
  if (!reset) announce(r.data.items.length + " more events loaded, " + count + " in all.");
}

export async function showAudit() { await load(true); }
$("audit-more").addEventListener("click", () => load(false));
$("audit-filter").addEventListener("submit", (ev) => ev.preventDefault());
$("a-filter").addEventListener("input", () => {
  const n = applyFilter();
  announce(n + " of " + count + " loaded events shown.");
});
