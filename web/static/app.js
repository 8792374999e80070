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
    button.addEventListener("click", function () {
      var count = list.querySelectorAll(".row-item").length;
      if (max && count >= max) return;
      var html = tpl.innerHTML.split("__index__").join(String(count)).split("__number__").join(String(count + 1));
      list.insertAdjacentHTML("beforeend", html);
      var first = list.lastElementChild.querySelector("input, select, textarea");
      if (first) first.focus();
      if (max && count + 1 >= max) button.hidden = true;
    });
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
