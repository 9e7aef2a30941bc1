// "Add another" for repeatable groups of WTForms FieldList rows (case studies, tiers).
// Markup: <div data-repeat="PREFIX" data-repeat-max="N"> rows with [data-repeat-row],
// a hidden <button data-repeat-add>. Inputs are named PREFIX-<index>-<field>; a new row is a
// copy of the last one with the next index and empty values. Without JavaScript the page
// shows a few empty rows and the button stays hidden.
(function () {
  "use strict";

  function reindex(element, prefix, index) {
    var pattern = new RegExp("^" + prefix + "-\\d+-");
    ["name", "id", "for", "aria-describedby"].forEach(function (attribute) {
      var value = element.getAttribute(attribute);
      if (value && pattern.test(value)) {
        element.setAttribute(attribute, value.replace(pattern, prefix + "-" + index + "-"));
      }
    });
  }

  document.querySelectorAll("[data-repeat]").forEach(function (group) {
    var prefix = group.getAttribute("data-repeat");
    var max = parseInt(group.getAttribute("data-repeat-max"), 10) || 10;
    var button = group.querySelector("[data-repeat-add]");
    if (!button) return;

    function rows() { return group.querySelectorAll("[data-repeat-row]"); }
    function update() { button.hidden = rows().length >= max; }

    button.addEventListener("click", function () {
      var all = rows();
      if (!all.length || all.length >= max) return;
      var highest = -1;
      group.querySelectorAll("[name^='" + prefix + "-']").forEach(function (input) {
        var match = input.name.slice(prefix.length).match(/^-(\d+)-/);
        if (match) highest = Math.max(highest, parseInt(match[1], 10));
      });
      var last = all[all.length - 1];
      var copy = last.cloneNode(true);
      copy.querySelectorAll("[name], [id], [for], [aria-describedby]").forEach(function (element) {
        reindex(element, prefix, highest + 1);
      });
      copy.querySelectorAll("input, textarea, select").forEach(function (input) {
        if (input.tagName === "SELECT") input.selectedIndex = 0;
        else if (input.type === "checkbox" || input.type === "radio") input.checked = false;
        else input.value = "";
        input.classList.remove("is-invalid");
      });
      copy.querySelectorAll(".invalid-feedback").forEach(function (error) { error.remove(); });
      var number = copy.querySelector("[data-row-number]");
      if (number) number.textContent = String(all.length + 1);
      last.parentNode.insertBefore(copy, last.nextSibling);
      var first = copy.querySelector("input:not([type=hidden]), textarea, select");
      if (first) first.focus();
      update();
    });
    update();
  });
})();
