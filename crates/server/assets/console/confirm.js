// The one confirmation dialog: names what is about to go, runs `run` on
// "Delete", and shows the server's refusal in place.
import { $, openDialog, busy } from "./ui.js";
import { problemText } from "./api.js";

let pending = null;

// `run()` returns the API result; `done()` runs after success with the dialog closed.
export function confirmAction({ title, text, ok = "Delete", opener, fallback, run, done }) {
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = ok;
  $("confirm-error").textContent = "";
  pending = { run, done };
  // Cancel is focused first: the safe choice.
  openDialog($("confirm-dialog"), opener, $("confirm-dialog").querySelector(".cancel"), fallback);
}

$("confirm-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  busy($("confirm-form"), async () => {
    if (!pending) return;
    const r = await pending.run();
    if (!r.ok) { $("confirm-error").textContent = r.message || problemText(r); return; }
    const done = pending.done;
    pending = null;
    $("confirm-dialog")._opener = null;
    $("confirm-dialog").close();
    if (done) done(r);
  });
});
