/* The diagram editor (admin): bpmn-js Modeler served from node_modules, Validate and Deploy buttons.
   Server messages are shown as text only. window.modelerState reports progress to tests. */
(function () {
  "use strict";
  var box = document.getElementById("modeler");
  if (!box) return;
  var T = JSON.parse(document.getElementById("modeler-text").textContent);
  var statusEl = document.getElementById("modeler-status");
  var resultsEl = document.getElementById("modeler-results");
  var resultsBox = document.getElementById("modeler-results-box");
  var changedEl = document.getElementById("modeler-changed");
  var validateBtn = document.getElementById("modeler-validate");
  var deployBtn = document.getElementById("modeler-deploy");
  var file = box.getAttribute("data-file");
  var state = window.modelerState = { ready: false, busy: false, base: null, changes: 0, saved: 0, marked: [] };
  var modeler = null;
  var marked = [];

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function say(text, kind) {
    statusEl.textContent = "";
    var p = el("p", "flash flash-" + (kind || "info"), text);
    statusEl.appendChild(p);
  }

  function dirty() { return state.changes !== state.saved; }

  function refresh() {
    validateBtn.disabled = !state.ready || state.busy;
    deployBtn.disabled = !state.ready || state.busy || !dirty();
    changedEl.textContent = state.ready ? (dirty() ? T.unsaved : T.noChanges) : "";
  }

  function clearMarks() {
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    // An element may be gone since (deleted or undone).
    marked.forEach(function (id) { if (registry.get(id)) canvas.removeMarker(id, "fq-problem"); });
    marked = [];
  }

  // Room on the left of the canvas for the palette, which floats over the diagram (screen pixels).
  function paletteWidth() {
    var palette = box.querySelector(".djs-palette");
    return palette ? palette.getBoundingClientRect().right - box.getBoundingClientRect().left + 16 : 0;
  }

  // Show the whole diagram right of the palette.
  function fit() {
    var canvas = modeler.get("canvas");
    canvas.zoom("fit-viewport", "auto");
    var vb = canvas.viewbox();
    var left = paletteWidth();
    if (!vb.inner.width || !vb.inner.height) return;
    var scale = Math.min((vb.outer.width - left - 16) / vb.inner.width, (vb.outer.height - 32) / vb.inner.height, 1);
    canvas.viewbox({ x: vb.inner.x - left / scale, y: vb.inner.y - (vb.outer.height / scale - vb.inner.height) / 2,
                     width: vb.outer.width / scale, height: vb.outer.height / scale });
  }

  // Centre an element in the free part of the canvas (keeps the zoom).
  function centre(element) {
    var canvas = modeler.get("canvas");
    var vb = canvas.viewbox();
    var left = paletteWidth() / vb.scale;
    var cx = element.x + (element.width || 0) / 2;
    var cy = element.y + (element.height || 0) / 2;
    canvas.viewbox({ x: cx - left - (vb.width - left) / 2, y: cy - vb.height / 2, width: vb.width, height: vb.height });
  }

  function show(ids) {
    var registry = modeler.get("elementRegistry");
    var found = ids.map(function (id) { return registry.get(id); }).filter(Boolean);
    if (!found.length) return false;
    modeler.get("selection").select(found);
    centre(found[0]);
    return true;
  }

  function highlight(ids) {
    clearMarks();
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    ids.forEach(function (id) {
      if (registry.get(id)) { canvas.addMarker(id, "fq-problem"); marked.push(id); }
    });
    if (marked.length) show([marked[0]]);
    state.marked = marked.slice();
  }

  function statusLabel(status) {
    return status === "ok" ? T.ok : status === "not_executable" ? T.notExecutable : T.error;
  }

  function clearResults() {
    resultsEl.textContent = "";
    resultsBox.hidden = true;
  }

  function renderVerdicts(verdicts) {
    resultsEl.textContent = "";
    resultsBox.hidden = false;
    var list = el("ul");
    verdicts.forEach(function (v) {
      var item = el("li");
      item.appendChild(el("span", "tag tag-" + v.status, statusLabel(v.status)));
      item.appendChild(el("span", "verdict-line", v.path + ": " + v.line));
      if (v.edited) {
        (v.problems || []).concat(v.reasons || []).forEach(function (p) {
          if (!p.element_id || !modeler.get("elementRegistry").get(p.element_id)) return;
          var button = el("button", "link-button", T.show + " (" + p.element_id + ")");
          button.type = "button";
          button.addEventListener("click", function () { show([p.element_id]); });
          item.appendChild(button);
        });
      }
      list.appendChild(item);
    });
    resultsEl.appendChild(list);
  }

  function renderLines(lines) {
    resultsEl.textContent = "";
    resultsBox.hidden = false;
    var list = el("ul");
    lines.forEach(function (line) { list.appendChild(el("li", "verdict-line", line)); });
    resultsEl.appendChild(list);
  }

  function post(url) {
    return modeler.saveXML({ format: true }).then(function (saved) {
      return fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": box.getAttribute("data-csrf"),
                   "Accept": "application/json" },
        body: JSON.stringify({ file: file, xml: saved.xml, base: state.base })
      });
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") < 0) throw new Error("HTTP " + response.status);
      return response.json().then(function (body) { return { code: response.status, body: body }; });
    });
  }

  function run(button, busyText, url, done) {
    state.busy = true;
    refresh();
    say(busyText, "info");
    post(url).then(done).catch(function (err) {
      say(T.failed, "error");
      state.lastError = String(err && err.message || err);
    }).then(function () { state.busy = false; refresh(); });
  }

  function validate() {
    run(validateBtn, T.validating, box.getAttribute("data-validate"), function (answer) {
      var body = answer.body;
      state.lastValidation = body;
      if (answer.code !== 200) { say(body.error || T.failed, "error"); return; }
      say(body.ok ? T.valid : T.invalid, body.ok ? "success" : "error");
      renderVerdicts(body.verdicts);
      var ids = [];
      body.verdicts.forEach(function (v) { if (v.edited) ids = ids.concat(v.element_ids || []); });
      highlight(ids);
    });
  }

  function deploy() {
    if (!window.confirm(T.confirm)) return;
    run(deployBtn, T.deploying, box.getAttribute("data-deploy"), function (answer) {
      var body = answer.body;
      state.lastDeploy = body;
      if (answer.code === 200) {
        state.base = body.base;
        state.saved = state.changes;
        clearMarks();
        if (!body.created.length) { say(T.unchanged, "info"); clearResults(); return; }
        var names = body.created.map(function (v) { return v.process_id + " v" + v.version; });
        say(T.deployed + " " + names.join(", "), "success");
        renderLines(names);
      } else if (answer.code === 422) {
        say(T.refused, "error");
        renderLines(body.lines || []);
      } else if (answer.code === 409) {
        say(T.conflict, "error");
        clearResults();
      } else {
        say(body.error || T.failed, "error");
      }
    });
  }

  // bpmn-js's palette, context pad and menus in the page's language (T.bpmn: English label -> text).
  function translation() {
    var labels = T.bpmn || {};
    function translate(template, replacements) {
      var text = Object.prototype.hasOwnProperty.call(labels, template) ? labels[template] : template;
      return text.replace(/{([^}]+)}/g, function (whole, key) {
        return replacements && replacements[key] ? replacements[key] : whole;  // as bpmn-js's own
      });
    }
    return { translate: ["value", translate] };
  }

  function fail(err) {
    state.error = String(err && err.message || err);
    say(T.loadFailed, "error");
  }

  say(T.loading, "info");
  var script = document.createElement("script");
  script.src = box.getAttribute("data-modeler");
  script.onerror = fail;
  script.onload = function () {
    modeler = state.modeler = new window.BpmnJS({ container: box, additionalModules: [translation()] });
    fetch(box.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        state.base = r.headers.get("X-Fengqiao-Bundle");
        return r.text();
      })
      .then(function (xml) { return modeler.importXML(xml); })
      .then(function (result) {
        fit();
        modeler.on("commandStack.changed", function () { state.changes += 1; refresh(); });
        state.ready = true;
        state.warnings = (result && result.warnings || []).length;
        statusEl.textContent = "";
        refresh();
      })
      .catch(fail);
  };
  document.head.appendChild(script);

  validateBtn.addEventListener("click", validate);
  deployBtn.addEventListener("click", deploy);
  window.addEventListener("beforeunload", function (event) {
    if (state.ready && dirty()) { event.preventDefault(); event.returnValue = ""; }
  });
})();
