// FlowVision console, forwarding rules page: checks the filter as it is typed
// (POST /api/v1/rules/check; the error is shown with the bad token marked) and
// refreshes the rules' counters every two seconds from GET /api/v1/rules.
"use strict";

(function () {
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // --- filter check as it is typed ---
  var input = document.getElementById("rule-filter");
  var box = document.getElementById("filter-error");
  function showError(text, res) {
    box.textContent = "";
    var msg = document.createElement("span");
    msg.className = "message";
    msg.textContent = res.error;
    box.appendChild(msg);
    // Positions are byte offsets; convert to a character index.
    var bytes = new TextEncoder().encode(text);
    var pos = Math.min(res.position || 0, bytes.length);
    var before = new TextDecoder().decode(bytes.slice(0, pos));
    var tok = res.token || "";
    var rest = text.slice(before.length);
    var bad = tok && rest.indexOf(tok) === 0 ? tok : "";
    var pre = document.createElement("pre");
    pre.className = "caret";
    pre.appendChild(document.createTextNode(before));
    var mark = document.createElement("mark");
    mark.id = "filter-error-token";
    mark.textContent = bad || " ";
    pre.appendChild(mark);
    pre.appendChild(document.createTextNode(rest.slice(bad.length)));
    box.appendChild(pre);
    box.setAttribute("data-position", String(res.position));
    box.setAttribute("data-token", tok);
    box.hidden = false;
    input.setAttribute("data-state", "error");
  }
  function check() {
    var text = input.value;
    if (text.trim() === "") { box.hidden = true; input.setAttribute("data-state", ""); return; }
    fetch(input.getAttribute("data-check"), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ filter: text })
    })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (res) {
        if (input.value !== text) { return; } // a newer keystroke will answer
        if (res.valid) {
          box.hidden = true;
          box.textContent = "";
          box.setAttribute("data-position", "");
          input.setAttribute("data-state", "ok");
        } else {
          showError(text, res);
        }
      })
      .catch(function () { /* the server checks again on submit */ });
  }
  if (input && box) {
    var timer = null;
    input.addEventListener("input", function () {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(check, 200);
    });
  }

  // --- live counters ---
  var table = document.getElementById("rules-table");
  function sumPrefix(obj, prefix) {
    var n = 0;
    Object.keys(obj || {}).forEach(function (k) { if (k.indexOf(prefix) === 0) { n += obj[k]; } });
    return n;
  }
  function refresh() {
    fetch(table.getAttribute("data-api"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (data) {
        (data.rules || []).forEach(function (rule) {
          var row = null;
          table.querySelectorAll("tr[data-rule]").forEach(function (tr) {
            if (tr.getAttribute("data-rule") === rule.name) { row = tr; }
          });
          if (!row) { return; }
          var dests = rule.destinations || {};
          var sent = 0, dropped = sumPrefix(rule.counters, "dropped_"), health = [];
          Object.keys(dests).forEach(function (d) {
            var c = dests[d];
            sent += c.sent || 0;
            dropped += sumPrefix(c, "dropped_");
            var state = "unknown", reasons = [];
            Object.keys(c).forEach(function (k) {
              if (k.indexOf("state_") === 0 && c[k] > 0) { state = k.slice(6); }
              if (k.indexOf("dropped_") === 0 && c[k] > 0) { reasons.push(k.slice(8) + " " + c[k]); }
            });
            health.push(d + ": " + state + (reasons.length ? "; dropped " + reasons.join(", ") : ""));
          });
          var set = function (name, v) {
            var cell = row.querySelector('[data-counter="' + name + '"]');
            if (cell) { cell.textContent = String(v); }
          };
          set("matched", (rule.counters || {}).matched || 0);
          set("sent", sent);
          set("dropped", dropped);
          set("health", health.length ? health.join(" | ") : "no collector reported yet");
        });
        table.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* next round */ });
  }
  if (table) { setInterval(refresh, 2000); }
})();
