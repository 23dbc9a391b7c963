// FlowVision console: draws the charts from the JSON API (the data-api URL of each
// canvas[data-chart]), refreshes them every minute, auto-submits filter selects and
// asks before destructive posts. No inline script anywhere (the CSP forbids it).
"use strict";

(function () {
  function fmt(v, units) {
    var i = 0;
    while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i++; }
    return (i === 0 ? Math.round(v) : v.toFixed(1)) + " " + units[i];
  }
  var BPS = ["b/s", "kb/s", "Mb/s", "Gb/s", "Tb/s"];
  var PPS = ["p/s", "kp/s", "Mp/s", "Gp/s", "Tp/s"];

  function label(ms, step) {
    var d = new Date(ms);
    var hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return step >= 3600 ? d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + hm : hm;
  }

  function datasets(kind, points) {
    if (kind === "pattern") {
      // The band first (its upper edge filled down to the lower one), then the traffic.
      return [
        { label: "usual low", data: points.map(function (p) { return p.low_bps; }), yAxisID: "y", borderColor: "rgba(100,116,139,0.4)", borderWidth: 1, fill: false },
        { label: "usual high", data: points.map(function (p) { return p.high_bps; }), yAxisID: "y", borderColor: "rgba(100,116,139,0.4)", borderWidth: 1, backgroundColor: "rgba(100,116,139,0.15)", fill: "-1" },
        { label: "usual (median)", data: points.map(function (p) { return p.usual_bps; }), yAxisID: "y", borderColor: "#64748b", borderDash: [4, 4], borderWidth: 1, fill: false },
        { label: "bits/s", data: points.map(function (p) { return p.bps; }), yAxisID: "y", borderColor: "#2563eb", fill: false }
      ];
    }
    if (kind === "interface") {
      return [
        { label: "in (bits/s)", data: points.map(function (p) { return p.in_bps; }), yAxisID: "y", borderColor: "#2563eb", backgroundColor: "rgba(37,99,235,0.15)", fill: true },
        { label: "out (bits/s)", data: points.map(function (p) { return p.out_bps; }), yAxisID: "y", borderColor: "#16a34a", backgroundColor: "rgba(22,163,74,0.12)", fill: true }
      ];
    }
    return [
      { label: "bits/s", data: points.map(function (p) { return p.bps; }), yAxisID: "y", borderColor: "#2563eb", backgroundColor: "rgba(37,99,235,0.15)", fill: true },
      { label: "packets/s", data: points.map(function (p) { return p.pps; }), yAxisID: "y1", borderColor: "#ea580c", backgroundColor: "rgba(234,88,12,0.1)", fill: false }
    ];
  }

  // Top interfaces: horizontal bars, in and out, labelled "ifName (ifAlias)".
  function drawInterfaces(canvas, data) {
    var rows = data.interfaces || [];
    var labels = rows.map(function (i) { return i.label; });
    var cfg = {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          { label: "in (bits/s)", data: rows.map(function (i) { return i.in_bps; }), backgroundColor: "rgba(37,99,235,0.7)" },
          { label: "out (bits/s)", data: rows.map(function (i) { return i.out_bps; }), backgroundColor: "rgba(22,163,74,0.7)" }
        ]
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, indexAxis: "y",
        scales: { x: { beginAtZero: true, ticks: { callback: function (v) { return fmt(v, BPS); } } } },
        plugins: { tooltip: { callbacks: { label: function (c) {
          var i = rows[c.dataIndex] || {};
          var u = c.datasetIndex === 0 ? i.in_util_pct : i.out_util_pct;
          return c.dataset.label + ": " + fmt(c.parsed.x, BPS) + (u == null ? "" : " (" + u.toFixed(1) + " %)");
        } } } }
      }
    };
    if (canvas._chart) { canvas._chart.destroy(); }
    canvas._chart = new window.Chart(canvas, cfg);
    canvas.setAttribute("data-labels", JSON.stringify(labels));
    canvas.setAttribute("data-points", String(rows.length));
    canvas.setAttribute("data-nonzero-points", String(rows.filter(function (i) { return (i.in_bps + i.out_bps) > 0; }).length));
    canvas.setAttribute("data-state", "ready");
  }

  // Insights marked on a chart (data-markers, from the page): each becomes the index
  // of the bucket holding its start; those outside the drawn range are left out.
  function insightMarkers(canvas, points, step) {
    var raw = canvas.getAttribute("data-markers");
    if (!raw || !points.length) { return []; }
    var list;
    try { list = JSON.parse(raw); } catch (e) { return []; }
    var first = points[0].t, width = step * 1000;
    return list.map(function (m) {
      return { index: Math.floor((m.t - first) / width), kind: m.kind, severity: m.severity };
    }).filter(function (m) { return m.index >= 0 && m.index < points.length; });
  }

  var SEVERITY_COLOR = { medium: "#d97706", high: "#dc2626", critical: "#7f1d1d" };

  // Vertical lines with the insight's kind at the top of the chart area.
  function markerPlugin(markers) {
    return {
      id: "insightMarkers",
      afterDatasetsDraw: function (chart) {
        var x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
        ctx.save();
        ctx.font = "11px sans-serif";
        markers.forEach(function (m) {
          var px = x.getPixelForValue(m.index);
          ctx.strokeStyle = SEVERITY_COLOR[m.severity] || "#dc2626";
          ctx.fillStyle = ctx.strokeStyle;
          ctx.setLineDash([4, 3]);
          ctx.beginPath();
          ctx.moveTo(px, area.top);
          ctx.lineTo(px, area.bottom);
          ctx.stroke();
          ctx.fillText(m.kind, px + 3, area.top + 11);
        });
        ctx.restore();
      }
    };
  }

  function draw(canvas) {
    var kind = canvas.getAttribute("data-chart");
    fetch(canvas.getAttribute("data-api"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (data) {
        if (kind === "top-interfaces") { drawInterfaces(canvas, data); return; }
        var points = data.points || [];
        var step = data.step_seconds || 60;
        var cfg = {
          type: "line",
          data: { labels: points.map(function (p) { return label(p.t, step); }), datasets: datasets(kind, points) },
          options: {
            animation: false, responsive: true, maintainAspectRatio: false,
            interaction: { mode: "index", intersect: false },
            elements: { point: { radius: 0 }, line: { tension: 0.2, borderWidth: 2 } },
            scales: {
              y: { beginAtZero: true, position: "left", ticks: { callback: function (v) { return fmt(v, BPS); } } },
              y1: { display: kind !== "interface" && kind !== "pattern", beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, ticks: { callback: function (v) { return fmt(v, PPS); } } }
            },
            plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + fmt(c.parsed.y, c.dataset.yAxisID === "y1" ? PPS : BPS); } } } }
          }
        };
        var markers = insightMarkers(canvas, points, step);
        if (markers.length) { cfg.plugins = [markerPlugin(markers)]; }
        if (canvas._chart) { canvas._chart.destroy(); }
        canvas._chart = new window.Chart(canvas, cfg);
        canvas.setAttribute("data-markers-drawn", String(markers.length));
        var nonzero = points.filter(function (p) { return (p.bps || p.in_bps || p.out_bps || 0) > 0; }).length;
        canvas.setAttribute("data-points", String(points.length));
        canvas.setAttribute("data-nonzero-points", String(nonzero));
        canvas.setAttribute("data-state", "ready");
      })
      .catch(function (e) {
        canvas.setAttribute("data-state", "error");
        canvas.setAttribute("data-error", String(e));
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var canvases = document.querySelectorAll("canvas[data-chart]");
    if (canvases.length && !window.Chart) {
      canvases.forEach(function (c) { c.setAttribute("data-state", "error"); c.setAttribute("data-error", "Chart.js not loaded"); });
    } else {
      canvases.forEach(draw);
      setInterval(function () { canvases.forEach(draw); }, 60000);
    }
    document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (ev) {
        if (!window.confirm(f.getAttribute("data-confirm"))) { ev.preventDefault(); }
      });
    });
  });
})();
