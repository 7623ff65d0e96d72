// The one confirmation dialog: names what is about to go, runs `run` on
// "Delete", and shows the server's refusal in place.
import { $, el, openDialog, busy } from "./ui.js";
import { problemText } from "./api.js";

let pending = null;

// `run()` returns the API result; `done()` runs after success with the dialog closed.
// `typed`, for what cannot be undone at a larger scale ({ value, what }):
// the admin types `value` before anything is sent, as the CLI's --confirm asks.
export function confirmAction({ title, text, ok = "Delete", opener, fallback, run, done, typed }) {
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = ok;
  $("confirm-error").textContent = "";
  $("confirm-type-row").hidden = !typed;
  $("confirm-type").value = "";
  $("confirm-type").removeAttribute("aria-invalid");
  $("confirm-type-error").textContent = "";
  if (typed) $("confirm-type-label").replaceChildren("To confirm, type " + typed.what + " ", el("code", typed.value));
  pending = { run, done, typed };
  // Cancel is focused first, the safe choice; where a word must be typed,
  // nothing happens until it is, so the field comes first.
  const first = typed ? $("confirm-type") : $("confirm-dialog").querySelector(".cancel");
  openDialog($("confirm-dialog"), opener, first, fallback);
}

$("confirm-type").addEventListener("input", () => {
  $("confirm-type").removeAttribute("aria-invalid");
  $("confirm-type-error").textContent = "";
});

$("confirm-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  busy($("confirm-form"), async () => {
    if (!pending) return;
    const typed = pending.typed;
    if (typed && $("confirm-type").value.trim() !== typed.value) {
      $("confirm-type").setAttribute("aria-invalid", "true");
      $("confirm-type-error").textContent = "Type " + typed.value + " exactly as shown: nothing was deleted.";
      $("confirm-type").focus();
      return;
    }
    const r = await pending.run();
    if (!r.ok) { $("confirm-error").textContent = r.message || problemText(r); return; }
    const done = pending.done;
    pending = null;
    $("confirm-dialog")._opener = null;
    $("confirm-dialog").close();
    if (done) done(r);
  });
});
