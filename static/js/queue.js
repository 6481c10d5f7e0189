// The MQL queue without a mouse: j/k move between leads, a accepts, r picks a reason,
// x selects for a bulk decision. Every control is also reachable with Tab.
(function () {
  "use strict";
  function rows() { return Array.from(document.querySelectorAll("tr.queue-row[data-lead]")); }
  function current() {
    var el = document.activeElement;
    return el && el.closest ? el.closest("tr.queue-row[data-lead]") : null;
  }
  function focusRow(row) {
    if (!row) return;
    var target = row.querySelector("[data-key=accept]") || row.querySelector("a");
    if (target) target.focus();
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" && event.target.type !== "checkbox") return;
    if (tag === "select" || tag === "textarea") return;
    var all = rows();
    if (!all.length) return;
    var row = current();
    var index = row ? all.indexOf(row) : -1;
    if (event.key === "j") { focusRow(all[Math.min(index + 1, all.length - 1)]); }
    else if (event.key === "k") { focusRow(all[Math.max(index - 1, 0)]); }
    else if (event.key === "a" && row) { row.querySelector("[data-key=accept]").click(); }
    else if (event.key === "r" && row) { row.querySelector("[data-key=reason]").focus(); }
    else if (event.key === "x" && row) { var box = row.querySelector("input[type=checkbox]"); box.checked = !box.checked; }
    else { return; }
    event.preventDefault();
  });
  // After htmx swaps a decided row, keep the keyboard on the next lead.
  document.addEventListener("htmx:afterSwap", function (event) {
    var swapped = event.detail.target;
    if (!swapped || !swapped.id) return;
    var next = document.getElementById(swapped.id);
    var following = next && next.nextElementSibling;
    while (following && !following.matches("tr.queue-row[data-lead]")) following = following.nextElementSibling;
    if (following) focusRow(following);
  });
})();
// A refusal htmx does not swap (a 403 for a colleague's lead, a server error): say so in the row.
document.addEventListener("htmx:responseError", function (event) {
  var row = event.detail.elt && event.detail.elt.closest ? event.detail.elt.closest("tr") : null;
  if (!row) return;
  var note = row.querySelector(".htmx-refusal") || document.createElement("p");
  note.className = "error htmx-refusal";
  note.setAttribute("role", "alert");
  var xhr = event.detail.xhr;
  var expired = xhr.status === 403 && (xhr.responseText || "").indexOf('data-refusal="csrf"') >= 0;
  note.textContent = expired
    ? "This page has expired (you signed in again). Reload the queue; nothing was changed."
    : xhr.status === 403
    ? "Refused: this lead is not yours to act on. Reload the queue."
    : "That did not work (" + xhr.status + "). Reload the queue and try again.";
  row.lastElementChild.prepend(note);
});
