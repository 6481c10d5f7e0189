// The leads list: "Select all" ticks every lead on this page for a bulk action.
(function () {
  "use strict";
  function start() {
    var all = document.getElementById("pick-all");
    if (!all) return;
    all.hidden = false;
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=lead][form=bulk]").forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
