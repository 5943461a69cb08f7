// Work request pages: the model description on New request, a stale
// preview warning, polling while requests are active, and the stats charts.
// Pages are rendered on the server; when a status changes the page reloads
// rather than re-rendering here.
(function () {
  "use strict";

  function showModelCard(select) {
    document.querySelectorAll("[data-model-card]").forEach(function (card) {
      card.hidden = card.getAttribute("data-model-card") !== select.value;
    });
  }

  function watchModelChoice() {
    var form = document.getElementById("inputs-form");
    if (!form) { return; }
    var select = form.querySelector("select[name=model]");
    if (select) {
      select.addEventListener("change", function () { showModelCard(select); });
      showModelCard(select);
    }
    var confirmForm = document.getElementById("confirm-form");
    if (!confirmForm) { return; }
    // Once the inputs change, the preview no longer shows what would be sent.
    form.addEventListener("input", function () {
      var button = confirmForm.querySelector("button[name=confirm]");
      var note = confirmForm.querySelector("[data-field=stale-preview]");
      if (button) { button.disabled = true; }
      if (note) { note.hidden = false; }
    });
  }

  function setProgress(root, percent) {
    var bar = root.querySelector("[data-field=progress]");
    var text = root.querySelector("[data-field=progress-text]");
    if (bar) {
      bar.setAttribute("aria-valuenow", String(percent));
      var fill = bar.querySelector("span");
      if (fill) { fill.style.width = percent + "%"; }
    }
    if (text) { text.textContent = percent + " %"; }
  }

  function setText(root, field, value) {
    var node = root.querySelector("[data-field=" + field + "]");
    if (node) { node.textContent = String(value); }
  }

  var ACTIVE = ["QUEUED", "SCHEDULING", "PROCESSING"];

  // Follows one request (detail) or a page of them (list) through the API;
  // stops once nothing shown is active, or after repeated failures.
  function poll(root) {
    var url = root.getAttribute("data-poll-url");
    var interval = parseInt(root.getAttribute("data-poll-interval"), 10) || 5000;
    var failures = 0;

    function rowsOf(body) {
      return root.getAttribute("data-poll") === "list" ? body.results || [] : [body];
    }

    function elementFor(item) {
      if (root.getAttribute("data-poll") === "detail") { return root; }
      return root.querySelector('[data-request-id="' + item.id + '"]');
    }

    function apply(body) {
      var active = false;
      var changed = false;
      rowsOf(body).forEach(function (item) {
        var element = elementFor(item);
        if (!element) { return; }
        if (element.getAttribute("data-status") !== item.status) { changed = true; }
        setProgress(element, item.progress);
        setText(element, "done", item.done_count);
        setText(element, "cached", item.cached_count);
        if (ACTIVE.indexOf(item.status) !== -1) { active = true; }
      });
      return { active: active, changed: changed };
    }

    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (body) {
          failures = 0;
          var state = apply(body);
          if (state.changed) { window.location.reload(); return; }
          if (state.active) { window.setTimeout(tick, interval); }
        })
        .catch(function () {
          failures += 1;
          if (failures < 5) { window.setTimeout(tick, interval * failures); }
        });
    }

    window.setTimeout(tick, interval);
  }

  function drawCharts() {
    var data = document.getElementById("stats-charts");
    if (!data || typeof window.Chart === "undefined") { return; }
    JSON.parse(data.textContent).forEach(function (chart) {
      var canvas = document.querySelector('[data-chart="' + chart.id + '"]');
      if (canvas) { canvas.chart = new window.Chart(canvas, chart.config); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    watchModelChoice();
    document.querySelectorAll("[data-poll][data-active]").forEach(poll);
    drawCharts();
  });
})();
