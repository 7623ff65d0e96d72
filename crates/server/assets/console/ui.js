// Small helpers shared by every screen: elements, the status line, dialogs,
// copy buttons, busy buttons and checkbox pickers.
export const $ = (id) => document.getElementById(id);

// A count as the page writes it: 1,000,000.
export const grouped = (n) => n.toLocaleString("en-US");

// The page's limits come from the server's limits.js (the domain's
// constants): an element marked data-limit="NAME" shows it (grouped with
// data-grouped), and data-limit-min / data-limit-max set an input's bounds.
export function showLimits(limits, root = document) {
  for (const node of root.querySelectorAll("[data-limit]")) {
    const value = limits[node.dataset.limit];
    node.textContent = "grouped" in node.dataset ? grouped(value) : String(value);
  }
  for (const node of root.querySelectorAll("[data-limit-min]")) node.min = String(limits[node.dataset.limitMin]);
  for (const node of root.querySelectorAll("[data-limit-max]")) node.max = String(limits[node.dataset.limitMax]);
}

export function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

// The polite live region: what a mutation did.
export function announce(message) {
  const status = $("status");
  status.textContent = "";
  // A fresh text node each time so the same message is announced again.
  window.setTimeout(() => { status.textContent = message; }, 30);
}

// A list's load as the admin sees it, in its own section: "Loading…" while
// it comes, and when it fails an error with Retry in place of the table
// (never an empty table that looks like success). `prefix` names the
// section's elements: `${prefix}-loading`, `-error`, `-error-text`, and
// the `table`, hidden while the error shows.
export function listState(prefix, table, { loading = false, error = null } = {}) {
  $(prefix + "-loading").hidden = !loading;
  table.setAttribute("aria-busy", loading ? "true" : "false");
  $(prefix + "-error").hidden = !error;
  if (error) {
    $(prefix + "-error-text").textContent = error;
    table.hidden = true;
  }
}

// A new record's form keeps what was typed when its dialog closes unsaved
// (Escape, Cancel, or a session that ended under it): the next New opens
// on it, with a line saying so whose button starts over. An edit always
// starts from the record as it is now. `touched()` says whether anything
// was typed; `startOver()` empties the form; secrets are never kept (the
// caller empties its password fields on close).
const keepers = [];
export function draftKeeper(dialog, note, { touched, startOver }) {
  // Read when the dialog opens again, from the form itself (the close
  // event comes a moment after the dialog shuts, too late for a quick New).
  let lastWasNew = false; let saved = false;
  note.querySelector("button").addEventListener("click", () => { note.hidden = true; startOver(); });
  const keeper = {
    // Whether this opening resumes the draft (only ever for a new record).
    opens(forNew) {
      const resume = forNew && lastWasNew && !saved && touched();
      lastWasNew = forNew; saved = false;
      note.hidden = !resume;
      return resume;
    },
    saved() { saved = true; },
    typing() { return dialog.open && lastWasNew && touched(); },
  };
  keepers.push(keeper);
  return keeper;
}
// Whether a new record is being typed in some dialog now (read before a
// sign-out closes it, to say that it is kept).
export function typingSomewhere() { return keepers.some((k) => k.typing()); }

// Briefly marks a changed record and brings it into view.
export function highlight(node) {
  node.classList.remove("changed");
  void node.offsetWidth;
  node.classList.add("changed");
  node.scrollIntoView({ block: "center" });
}

// Opens a modal dialog; when it closes, focus goes back to `opener` (or
// `fallback` when the opener is gone).
export function openDialog(dialog, opener, first, fallback) {
  dialog._opener = opener || document.activeElement;
  dialog._fallback = fallback;
  dialog.showModal();
  if (first) first.focus();
}
document.addEventListener("close", (ev) => {
  const dialog = ev.target;
  if (!(dialog instanceof HTMLDialogElement)) return;
  if (dialog._onclose) dialog._onclose();
  // Cleared on purpose by a caller that moves focus itself (to a new record).
  if (dialog._opener === null) return;
  // The browser may already have put focus somewhere on the page, and the
  // admin may have moved on from there: only a focus left nowhere is moved.
  const active = document.activeElement;
  if (active && active !== document.body && !dialog.contains(active) && active !== dialog._opener) return;
  const opener = dialog._opener;
  const target = opener && opener.isConnected && !opener.hidden ? opener : dialog._fallback;
  if (target) target.focus();
}, true);
for (const button of document.querySelectorAll("dialog .cancel")) {
  button.addEventListener("click", () => button.closest("dialog").close());
}

// A "Copy" button writing `text()` to the clipboard, with a visible "Copied"
// and a spoken one from a live region beside it (inside any open dialog).
export function copyButton(text, what) {
  const wrap = el("span", undefined, "copy-wrap");
  const button = el("button", "Copy", "copy");
  const said = el("span", undefined, "sr-only");
  said.setAttribute("role", "status");
  button.type = "button";
  button.setAttribute("aria-label", "Copy " + what);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text());
      button.textContent = "Copied";
      said.textContent = "Copied " + what + " to the clipboard.";
    } catch (_) {
      button.textContent = "Copy failed";
      said.textContent = "Could not copy " + what + ": select the text and copy it.";
    }
    window.setTimeout(() => { button.textContent = "Copy"; said.textContent = ""; }, 2500);
  });
  wrap.append(button, said);
  return wrap;
}

// Runs `fn` with the form's submit button disabled (and any button marked
// data-submits, which submits it another way): one request at a time.
export async function busy(form, fn) {
  if (form._busy) return;
  form._busy = true;
  const buttons = form.querySelectorAll("button[type=submit], button[data-submits]");
  buttons.forEach((b) => { b.disabled = true; b.setAttribute("aria-busy", "true"); });
  try { await fn(); } finally {
    form._busy = false;
    buttons.forEach((b) => { b.disabled = false; b.removeAttribute("aria-busy"); });
  }
}

// Focus on a button that `busy` has disabled for now: given once it is
// enabled again (a disabled button takes no focus).
export function focusWhenEnabled(node) {
  if (!node.disabled) { node.focus(); return; }
  const watch = new MutationObserver(() => {
    if (node.disabled) return;
    watch.disconnect();
    node.focus();
  });
  watch.observe(node, { attributes: true, attributeFilter: ["disabled"] });
}

// Fills `list` with one labelled checkbox per item; `checked` is a set of values.
export function checkboxes(list, prefix, items, checked, describedBy) {
  list.replaceChildren();
  items.forEach((item, i) => {
    const row = el("div", undefined, "check-row");
    const box = el("input");
    box.type = "checkbox"; box.id = prefix + "-" + i; box.value = item.value;
    box.checked = checked.has(item.value);
    if (describedBy) box.setAttribute("aria-describedby", describedBy);
    const label = el("label", item.label); label.htmlFor = box.id;
    row.append(box, label);
    list.append(row);
  });
}
export function checkedValues(list) {
  return Array.from(list.querySelectorAll("input[type=checkbox]:checked")).map((b) => b.value);
}

// A time as the reader's locale writes it, always with its time zone (the
// server and the reader may be zones apart): "Dec 5, 2026, 2:03 PM UTC".
// `seconds` adds the seconds, for events that follow each other closely.
// (dateStyle and timeStyle cannot be combined with timeZoneName.)
export function formatTime(iso, { seconds = false } = {}) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  return d.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit",
    ...(seconds ? { second: "2-digit" } : {}), timeZoneName: "short",
  });
}
