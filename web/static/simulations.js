// FlowVision console, simulation page: polls /api/v1/simulations/<id> every second
// while the run is running and updates its progress and ground-truth labels (with
// their dashboard links). No inline script (the CSP forbids it).
"use strict";

(function () {
  var card = document.getElementById("sim-run");
  if (!card) { return; }
  var api = card.getAttribute("data-api");

  function text(id, v) {
    var el = document.getElementById(id);
    if (el) { el.textContent = v; }
  }

  function cell(tr, v) {
    var td = document.createElement("td");
    td.textContent = v;
    tr.appendChild(td);
    return td;
  }

  function labels(list) {
    var body = document.querySelector("#sim-labels tbody");
    if (!body || !list.length) { return; }
    while (body.firstChild) { body.removeChild(body.firstChild); }
    list.forEach(function (l) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-kind", l.kind);
      cell(tr, l.kind);
      cell(tr, l.start);
      cell(tr, l.end);
      cell(tr, l.exporter);
      cell(tr, String(l.flows)).className = "num";
      var td = cell(tr, "");
      if (l.dashboard) {
        var a = document.createElement("a");
        a.className = "label-link";
        a.href = l.dashboard;
        a.textContent = "Overview of the window";
        td.appendChild(a);
      }
      body.appendChild(tr);
    });
  }

  function update(v) {
    var p = v.progress || {};
    card.setAttribute("data-state", v.state);
    text("sim-state", v.state);
    var flows = document.getElementById("sim-flows");
    if (flows) { flows.textContent = String(p.flows || 0); flows.setAttribute("data-flows", String(p.flows || 0)); }
    text("sim-datagrams", String(p.datagrams || 0));
    text("sim-sent", String(p.flows_sent || 0));
    text("sim-rate", Math.round(p.flows_per_s || 0) + " flows/s");
    var l = p.lateness_us;
    text("sim-lateness", l ? l.p50 + " / " + l.p99 + " / " + l.max + " µs" : "—");
    text("sim-elapsed", (p.wall_seconds || 0).toFixed(1) + " s");
    labels(v.labels || []);
    if (v.state !== "running") {
      var stop = document.getElementById("sim-stop-form");
      if (stop) { stop.parentNode.removeChild(stop); }
    }
  }

  function poll() {
    fetch(api, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (v) {
        update(v);
        card.setAttribute("data-polls", String(Number(card.getAttribute("data-polls") || "0") + 1));
        if (v.state === "running") { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }

  if (card.getAttribute("data-state") === "running") { setTimeout(poll, 1000); }
})();
