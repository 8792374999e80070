/* Progressive enhancement for the task forms: conditional fields and "add another row".
   Every form works without this script. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function controllerValues(form, name) {
    var inputs = form.querySelectorAll('[name="' + name + '"]');
    var values = [];
    inputs.forEach(function (el) {
      if ((el.type === "checkbox" || el.type === "radio")) { if (el.checked) values.push(el.value); }
      else if (el.value !== "") values.push(el.value);
    });
    return values;
  }

  function truthy(values, type) {
    if (!values.length) return false;
    if (type === "boolean") return values[0] === "true";
    if (type === "money" || type === "integer") return Number(values[0]) !== 0;
    return true;
  }

  function shown(form, wrap, cache) {
    var cond = JSON.parse(wrap.getAttribute("data-visible-if"));
    var ctrlWrap = form.querySelector("#field-" + cond.field + "-wrap");
    if (ctrlWrap && ctrlWrap.hidden) return false;
    var values = controllerValues(form, cond.field);
    if ("truthy" in cond) return truthy(values, cond.controller_type) === cond.truthy;
    return values.some(function (v) { return cond["in"].indexOf(v) >= 0; });
  }

  function refresh(form) {
    form.querySelectorAll("[data-visible-if]").forEach(function (wrap) {
      wrap.hidden = !shown(form, wrap);
    });
  }

  function setupRows(fieldset) {
    var button = fieldset.querySelector(".add-row");
    var tpl = fieldset.querySelector("template.row-template");
    var list = fieldset.querySelector(".row-list");
    var max = parseInt(fieldset.getAttribute("data-max") || "0", 10);
    if (!button || !tpl || !list) return;
    button.hidden = false;

    function rows() { return list.querySelectorAll(".row-item"); }

    function update() {
      // Numbers shown follow the order on screen; the index in the field names never repeats
      // (the server orders rows by it and drops the ones that are gone).
      rows().forEach(function (item, i) {
        var number = item.querySelector(".row-number");
        if (number) number.textContent = String(i + 1);
        var remove = item.querySelector(".remove-row");
        if (remove) {
          remove.hidden = false;
          var legend = item.querySelector("legend");
          remove.setAttribute("aria-label", remove.textContent.trim() + ": " + (legend ? legend.textContent.trim() : ""));
        }
      });
      button.hidden = Boolean(max) && rows().length >= max;
    }

    function nextIndex() {
      var highest = -1;
      rows().forEach(function (item) {
        var n = parseInt(item.getAttribute("data-row"), 10);
        if (n > highest) highest = n;
      });
      return highest + 1;
    }

    button.addEventListener("click", function () {
      if (max && rows().length >= max) return;
      var index = nextIndex();
      var html = tpl.innerHTML.split("__index__").join(String(index)).split("__number__").join(String(rows().length + 1));
      list.insertAdjacentHTML("beforeend", html);
      update();
      var first = list.lastElementChild.querySelector("input, select, textarea");
      if (first) first.focus();
    });

    list.addEventListener("click", function (event) {
      var remove = event.target.closest(".remove-row");
      if (!remove) return;
      var item = remove.closest(".row-item");
      var neighbour = item.previousElementSibling || item.nextElementSibling;
      item.remove();
      update();
      var focus = neighbour ? neighbour.querySelector("input, select, textarea") : button;
      if (focus && !focus.hidden) focus.focus();
    });
    update();
  }

  document.querySelectorAll("form.task-form").forEach(function (form) {
    refresh(form);
    form.addEventListener("change", function () { refresh(form); });
    form.addEventListener("input", function () { refresh(form); });
    form.querySelectorAll("fieldset.rows").forEach(setupRows);
  });

  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();
