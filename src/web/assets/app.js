// labplan pages: small enhancements over server-rendered HTML; every page works without them.
(function () {
  "use strict";

  // Filter a list of choices as the user types (the test-type picker).
  document.querySelectorAll("[data-filter-list]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("data-filter-list"));
    var empty = document.getElementById(input.getAttribute("data-filter-empty"));
    if (!list) return;
    function apply() {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      list.querySelectorAll("[data-search]").forEach(function (item) {
        var text = item.getAttribute("data-search");
        var match = words.every(function (w) { return text.indexOf(w) >= 0; });
        var checked = item.querySelector("input:checked");
        item.hidden = !(match || checked);
        if (!item.hidden) shown++;
      });
      if (empty) empty.hidden = shown > 0;
    }
    input.addEventListener("input", apply);
    apply();
  });

  // Charts: the server writes each chart's ECharts option as JSON beside its table.
  var charts = [];
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var source = document.getElementById(el.getAttribute("data-chart"));
    if (!source || typeof echarts === "undefined") return;
    // A height from the server as data, not a style attribute the page's policy refuses.
    var height = el.getAttribute("data-height");
    if (height) el.style.height = height + "px";
    try {
      var chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(JSON.parse(source.textContent));
      charts.push(chart);
      el.setAttribute("data-rendered", "true");
    } catch (e) {
      el.textContent = String(e);
    }
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });

  // Live progress of a planning run from its event stream.
  document.querySelectorAll("[data-run-events]").forEach(function (box) {
    if (typeof EventSource === "undefined") return;
    var source = new EventSource(box.getAttribute("data-run-events"));
    var fmt = new Intl.NumberFormat(document.documentElement.lang, { maximumFractionDigits: 0 });
    function set(name, value) {
      box.querySelectorAll('[data-field="' + name + '"]').forEach(function (el) { el.textContent = value; });
    }
    source.addEventListener("progress", function (ev) {
      var run = JSON.parse(ev.data);
      var p = run.progress || {};
      // The page's own words for the status, written by the server beside the stream's URL.
      set("status", box.getAttribute("data-text-" + run.status) || run.status);
      set("phase", p.phase ? box.getAttribute("data-phase-" + p.phase) || p.phase : "—");
      var badge = document.getElementById("run-status");
      if (badge) {
        badge.textContent = box.getAttribute("data-text-" + run.status) || run.status;
        badge.className = "status status-" + run.status;
      }
      set("parts", p.parts_total ? (p.parts_done || 0) + " / " + p.parts_total : "—");
      set("best_objective", p.best_objective != null ? fmt.format(p.best_objective) : "—");
      set("best_bound", p.best_bound != null ? fmt.format(p.best_bound) : "—");
      set("gap", p.gap != null ? (p.gap * 100).toFixed(2) + " %" : "—");
      box.setAttribute("data-status", run.status);
    });
    source.addEventListener("end", function () {
      source.close();
      box.setAttribute("data-ended", "true");
      // The finished run's page shows the plan, the diff and the publish button.
      window.location.reload();
    });
  });
})();
