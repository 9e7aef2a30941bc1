// The plan form shows only the fields of the chosen billing model (and, for an outcome
// plan, of the chosen way to charge). Without JavaScript every section shows, each with a
// note saying which model it is for; the server reads only the chosen model's fields.
(function () {
  "use strict";
  var form = document.querySelector("[data-plan-form]");
  if (!form) return;

  function chosen(name) {
    var input = form.querySelector("input[name='" + name + "']:checked");
    return input ? input.value : "";
  }

  function sync() {
    var model = chosen("billing_model");
    form.querySelectorAll("[data-billing-model]").forEach(function (section) {
      var models = section.getAttribute("data-billing-model").split(" ");
      section.hidden = model !== "" && models.indexOf(model) === -1;
    });
    var pricing = chosen("outcome_pricing");
    form.querySelectorAll("[data-outcome-pricing]").forEach(function (part) {
      part.hidden = pricing !== "" && part.getAttribute("data-outcome-pricing") !== pricing;
    });
  }

  form.querySelectorAll("[data-nojs-hint]").forEach(function (hint) { hint.hidden = true; });
  form.addEventListener("change", function (event) {
    var name = event.target && event.target.name;
    if (name === "billing_model" || name === "outcome_pricing") sync();
  });
  sync();
})();
