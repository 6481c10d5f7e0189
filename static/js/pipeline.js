// The pipeline board, quicker with JavaScript: drag a deal to another stage (SortableJS),
// or focus its handle and press Left/Right. Each move posts the same form the page has
// without JavaScript (POST /pipeline/, checked on the server) and swaps in the board it
// answers, refusals included, so the board always shows what the server holds.
(function () {
  "use strict";

  function wrap() { return document.getElementById("board-wrap"); }
  function board() { return document.getElementById("board"); }
  function token() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function stages() {
    return Array.from(board().querySelectorAll("ul.deals[data-stage]")).map(function (list) {
      return list.dataset.stage;
    });
  }

  function move(dealId, from, to, refocus) {
    var body = new FormData();
    body.append("csrfmiddlewaretoken", token());
    body.append("deal", dealId);
    body.append("action", "move");
    body.append("from_pipeline_stage", from);
    body.append("pipeline_stage", to);
    board().setAttribute("aria-busy", "true");
    return fetch(board().dataset.moveUrl, {
      method: "POST",
      body: body,
      headers: { "HX-Request": "true", "X-CSRFToken": token() },
      credentials: "same-origin",
    }).then(function (response) {
      return response.text().then(function (html) {
        if (!html || html.indexOf('id="board-wrap"') === -1) {
          throw new Error("status " + response.status);
        }
        wrap().outerHTML = html;
        start();
        // The board (and its status line) is new: say the outcome in the region that stays.
        var announce = document.getElementById("board-announce");
        var said = document.getElementById("board-status");
        if (announce && said) announce.textContent = said.textContent;
        if (refocus) {
          var handle = document.querySelector("#deal-" + dealId + " [data-handle]");
          if (handle) handle.focus();
        }
      });
    }).catch(function (error) {
      var status = document.getElementById("board-status");
      if (status) {
        status.innerHTML = "";
        var note = document.createElement("span");
        note.className = "error";
        note.textContent = "That move did not reach the server (" + error.message + "). Reload the page.";
        status.appendChild(note);
      }
      board().removeAttribute("aria-busy");
    });
  }

  function onKey(event) {
    var handle = event.target.closest ? event.target.closest("[data-handle]") : null;
    if (!handle || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    var card = handle.closest("li.deal");
    var order = stages();
    var index = order.indexOf(card.dataset.stage);
    var next = order[index + (event.key === "ArrowRight" ? 1 : -1)];
    event.preventDefault();
    if (!next) return;
    move(card.dataset.deal, card.dataset.stage, next, true);
  }

  function start() {
    var root = board();
    if (!root) return;
    root.querySelectorAll("[data-handle]").forEach(function (handle) { handle.hidden = false; });
    if (!window.Sortable) return;
    root.querySelectorAll("ul.deals").forEach(function (list) {
      window.Sortable.create(list, {
        group: "pipeline",
        draggable: "li.deal",
        filter: "a, button, select, summary, input, label, .deal-actions",
        preventOnFilter: false,
        animation: 120,
        onEnd: function (event) {
          var card = event.item;
          var to = event.to.dataset.stage;
          if (event.from === event.to) return;
          move(card.dataset.deal, card.dataset.stage, to, false);
        },
      });
    });
  }

  document.addEventListener("keydown", onKey);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
