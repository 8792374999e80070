/* The case diagram: bpmn-js navigated viewer (served from node_modules) with the completed path and
   the open steps marked. Without JavaScript the page lists the open steps as text. */
(function () {
  "use strict";
  var box = document.getElementById("diagram");
  if (!box) return;
  var status = document.getElementById("diagram-status");
  function fail(err) {
    if (status) status.hidden = false;
    box.hidden = true;
    window.diagramState = { error: String(err && err.message || err) };
  }
  var script = document.createElement("script");
  script.src = box.getAttribute("data-viewer");
  script.onerror = fail;
  script.onload = function () {
    var viewer = new window.BpmnJS({ container: box });
    fetch(box.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        var done = JSON.parse(box.getAttribute("data-done") || "[]");
        var open = JSON.parse(box.getAttribute("data-open") || "[]");
        var marked = { done: [], open: [] };
        done.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "fq-done"); marked.done.push(id); } });
        registry.filter(function (el) {
          return el.type === "bpmn:SequenceFlow" && el.businessObject.sourceRef && el.businessObject.targetRef &&
            done.indexOf(el.businessObject.sourceRef.id) >= 0 &&
            (done.indexOf(el.businessObject.targetRef.id) >= 0 || open.indexOf(el.businessObject.targetRef.id) >= 0);
        }).forEach(function (el) { canvas.addMarker(el.id, "fq-done"); });
        open.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "fq-open"); marked.open.push(id); } });
        canvas.zoom("fit-viewport", "auto");
        // The picture repeats the text list of open steps below it: hide it from assistive technology
        // and from the tab order (the canvas container is focusable by default).
        box.querySelectorAll("[tabindex]").forEach(function (el) { el.setAttribute("tabindex", "-1"); });
        box.querySelectorAll(".djs-container").forEach(function (el) { el.setAttribute("aria-hidden", "true"); });
        box.querySelectorAll("svg").forEach(function (svg) { svg.setAttribute("focusable", "false"); });
        window.diagramState = { ok: true, done: marked.done, open: marked.open };
      })
      .catch(fail);
  };
  document.head.appendChild(script);
})();
