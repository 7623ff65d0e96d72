// Global → Webhooks: endpoints that receive the tenant's audit events,
// signed per Standard Webhooks; each one's deliveries, and Retry. The
// secret is shown once, when the endpoint is added.
import { api, path, problemText, query } from "./api.js";
import { $, el, announce, busy, listState, copyButton, formatTime } from "./ui.js";
import { can } from "./catalog.js";

const table = $("webhooks-table");
const form = $("wh-form");

// Webhooks carry the audit trail: for those who may read it.
export function webhooksShown() { return can("admin:view"); }

// A cell that names its column when the table is shown as cards (narrow screens).
function cell(label, text) {
  const td = el("td", text);
  td.dataset.label = label;
  return td;
}

function row(hook) {
  const tr = el("tr");
  const url = cell("URL", hook.url);
  const events = cell("Events", hook.events.join(", "));
  const state = cell("State", hook.enabled ? "On" : "Off");
  const created = cell("Added", formatTime(hook.created_at));
  const actions = el("td", undefined, "row-actions");
  const show = el("button", "Deliveries");
  show.type = "button";
  show.setAttribute("aria-label", "Deliveries to " + hook.url);
  show.addEventListener("click", () => showDeliveries(hook));
  actions.append(show);
  if (can("admin:edit")) {
    const toggle = el("button", hook.enabled ? "Turn off" : "Turn on");
    toggle.type = "button";
    toggle.setAttribute("aria-label", (hook.enabled ? "Turn off " : "Turn on ") + hook.url);
    toggle.addEventListener("click", async () => {
      const r = await api("PATCH", path.webhook(hook.id), { enabled: !hook.enabled });
      if (r.ok) { announce("Webhook " + (r.data.enabled ? "turned on." : "turned off.")); await showWebhooks(); }
      else announce(problemText(r, "Could not change the webhook."));
    });
    const remove = el("button", "Remove");
    remove.type = "button";
    remove.setAttribute("aria-label", "Remove " + hook.url);
    remove.addEventListener("click", async () => {
      if (!window.confirm("Remove the webhook to " + hook.url + "? Deliveries not yet sent are dropped.")) return;
      const r = await api("DELETE", path.webhook(hook.id));
      if (r.ok) { announce("Webhook removed."); $("wh-deliveries").hidden = true; await showWebhooks(); }
      else announce(problemText(r, "Could not remove the webhook."));
    });
    actions.append(" ", toggle, " ", remove);
  }
  if (hook.description) url.append(el("div", hook.description, "hint"));
  tr.append(url, events, state, created, actions);
  return tr;
}

export async function showWebhooks() {
  form.hidden = !can("admin:edit");
  listState("webhooks", table, { loading: true });
  const r = await api("GET", path.webhooks);
  listState("webhooks", table);
  if (!r.ok) { listState("webhooks", table, { error: "Could not load the webhooks: " + problemText(r) }); return; }
  const body = table.querySelector("tbody");
  body.replaceChildren(...r.data.items.map(row));
  table.hidden = false;
  $("webhooks-empty").hidden = r.data.items.length > 0;
}
$("webhooks-retry").addEventListener("click", () => showWebhooks());

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  busy(form, async () => {
    const error = $("wh-form-error");
    error.textContent = "";
    const events = $("wh-events").value.split(",").map((s) => s.trim()).filter(Boolean);
    const description = $("wh-description").value.trim();
    const body = { url: $("wh-url").value.trim(), events };
    if (description) body.description = description;
    const r = await api("POST", path.webhooks, body);
    if (!r.ok) {
      const fields = (r.data && r.data.errors) || [];
      error.textContent = fields.length ? fields.map((f) => f.message).join(" ") : problemText(r, "Could not add the webhook.");
      return;
    }
    const shown = $("wh-secret");
    const secret = r.data.secret;
    const code = el("code", secret, "secret");
    shown.replaceChildren(el("p", "The signing secret, shown this once: give it to the receiver now."), code, copyButton(() => secret, "signing secret"));
    shown.hidden = false;
    form.reset();
    announce("Webhook added. Its signing secret is shown once, below the form.");
    await showWebhooks();
  });
});

function deliveryRow(hook, d) {
  const tr = el("tr");
  const result = d.response_status ? String(d.response_status) : (d.last_error || "—");
  const actions = el("td", undefined, "row-actions");
  if (can("admin:edit")) {
    const retry = el("button", "Retry");
    retry.type = "button";
    retry.setAttribute("aria-label", "Send " + d.type + " again");
    retry.addEventListener("click", async () => {
      const r = await api("POST", path.webhookRetry(hook.id, d.id), {});
      if (r.ok) { announce("Queued to be sent again."); await showDeliveries(hook); }
      else announce(problemText(r, "Could not queue it again."));
    });
    actions.append(retry);
  }
  tr.append(cell("Event", d.type), cell("Status", d.status), cell("Attempts", String(d.attempts)),
    cell("Last answer", result), cell("Last attempt", formatTime(d.last_attempt_at)), actions);
  return tr;
}

async function showDeliveries(hook) {
  const section = $("wh-deliveries");
  section.hidden = false;
  $("wh-deliveries-title").textContent = "Deliveries to " + hook.url;
  const r = await api("GET", path.webhookDeliveries(hook.id) + query({ limit: 50 }));
  const body = $("wh-deliveries-table").querySelector("tbody");
  if (!r.ok) { body.replaceChildren(); $("wh-deliveries-empty").textContent = problemText(r, "Could not load the deliveries."); $("wh-deliveries-empty").hidden = false; return; }
  body.replaceChildren(...r.data.items.map((d) => deliveryRow(hook, d)));
  $("wh-deliveries-empty").textContent = "Nothing sent yet: events of the types it takes will appear here.";
  $("wh-deliveries-empty").hidden = r.data.items.length > 0;
  $("wh-deliveries-title").focus();
}
