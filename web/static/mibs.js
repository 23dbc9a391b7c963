// MIB pages: uploads through the API (the page's session and CSRF token), and the
// OID tree expanded lazily (children from GET /api/v1/mibs/oid/<oid>).
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  // ---- upload ----
  var form = document.getElementById("mib-upload-form");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var files = document.getElementById("mib-file").files;
      var force = document.getElementById("mib-force").checked;
      var out = document.getElementById("mib-upload-result");
      out.textContent = "";
      var pending = files.length;
      if (!pending) { out.appendChild(el("div", "notice error", "Choose a file first.")); return; }
      Array.prototype.forEach.call(files, function (file) {
        var url = form.getAttribute("data-api") + "?name=" + encodeURIComponent(file.name) + (force ? "&force=true" : "");
        fetch(url, {
          method: "POST", credentials: "same-origin", body: file,
          headers: { "Content-Type": "application/octet-stream", "Accept": "application/json", "X-CSRF-Token": csrf }
        }).then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
          .then(function (res) {
            var box = el("div", "notice " + (res.ok ? "ok" : "error"));
            box.setAttribute("data-test", "mib-upload-report");
            box.appendChild(el("strong", "", file.name + ": "));
            if (!res.ok) {
              box.appendChild(document.createTextNode(res.body.error + (res.body.code ? " (" + res.body.code + ")" : "")));
            } else {
              var ul = el("ul");
              res.body.modules.forEach(function (m) {
                var li = el("li", "", m.module + " — " + m.action + ", " + m.status +
                  (m.revision ? ", revision " + m.revision : "") +
                  (m.diagnostics.length ? ", " + m.diagnostics.length + " diagnostics" : ""));
                li.setAttribute("data-status", m.status);
                ul.appendChild(li);
              });
              res.body.notes.forEach(function (n) { ul.appendChild(el("li", "muted", n.file + ": " + n.reason)); });
              box.appendChild(ul);
            }
            out.appendChild(box);
          })
          .catch(function (e) { out.appendChild(el("div", "notice error", file.name + ": " + e)); })
          .then(function () {
            pending -= 1;
            if (pending === 0) {
              var again = el("a", "", "Reload the list");
              again.href = "/mibs";
              out.appendChild(again);
            }
          });
      });
    });
  }

  // ---- lazy tree ----
  function item(n) {
    var li = el("li", "mib-node");
    li.setAttribute("data-oid", n.oid);
    li.setAttribute("data-test", "mib-tree-node");
    if (n.has_children) {
      var b = el("button", "mib-toggle", "+");
      b.type = "button";
      b.setAttribute("aria-expanded", "false");
      b.setAttribute("data-test", "mib-toggle");
      li.appendChild(b);
    } else {
      li.appendChild(el("span", "mib-leaf", "·"));
    }
    li.appendChild(document.createTextNode(" "));
    var a = el("a", "", n.name);
    a.href = "/mibs/object/" + encodeURIComponent(n.oid);
    a.setAttribute("data-test", "mib-object-link");
    li.appendChild(a);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(el("span", "muted", n.oid + " " + n.module));
    if (n.has_children) {
      var ul = el("ul", "mib-children");
      ul.hidden = true;
      li.appendChild(ul);
    }
    return li;
  }

  document.querySelectorAll("ul.mib-tree").forEach(function (tree) {
    var api = tree.getAttribute("data-api");
    tree.addEventListener("click", function (ev) {
      var b = ev.target.closest("button.mib-toggle");
      if (!b) { return; }
      var li = b.parentElement;
      var ul = li.querySelector(":scope > ul.mib-children");
      var open = b.getAttribute("aria-expanded") === "true";
      if (open) { ul.hidden = true; b.setAttribute("aria-expanded", "false"); b.textContent = "+"; return; }
      b.setAttribute("aria-expanded", "true");
      b.textContent = "−";
      ul.hidden = false;
      if (li.getAttribute("data-loaded")) { return; }
      li.setAttribute("data-loaded", "1");
      ul.appendChild(el("li", "muted", "loading…"));
      fetch(api + encodeURIComponent(li.getAttribute("data-oid")), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (node) {
          ul.textContent = "";
          node.children.forEach(function (c) { ul.appendChild(item(c)); });
        })
        .catch(function (e) { ul.textContent = ""; ul.appendChild(el("li", "notice error", String(e))); });
    });
  });
})();
