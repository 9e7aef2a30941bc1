// The solution page's price calculator: asks /solutions/<slug>/estimate as the buyer types
// and draws the answer. The figures are computed on the server (catalog/estimates.py, with
// the formulas billing uses); without JavaScript the form submits to the page instead.
(function () {
  "use strict";
  var DELAY_MS = 250;

  function cell(tag, text, className) {
    var element = document.createElement(tag);
    element.textContent = text;
    if (className) element.className = className;
    return element;
  }

  function drawEstimate(form, container, data) {
    var table = document.createElement("table");
    table.className = "table table-sm estimate mb-1";
    var body = table.createTBody();
    data.lines.forEach(function (line) {
      var row = body.insertRow();
      row.appendChild(cell("td", line.label));
      row.appendChild(cell("td", line.amount, "text-end text-nowrap"));
    });
    var total = table.createTFoot().insertRow();
    total.appendChild(cell("th", form.getAttribute("data-total-label")));
    total.appendChild(cell("th", data.total, "text-end text-nowrap estimate-total"));
    container.replaceChildren(table, cell("p", data.note, "small text-body-secondary mb-0"));
  }

  function setup(form) {
    var result = form.querySelector("[data-estimate-result]");
    var error = form.querySelector("[data-estimate-error]");
    var inputs = form.querySelectorAll("input[required]");
    var timer = null;
    var latest = 0;

    function showError(message, fieldName) {
      error.textContent = message;
      inputs.forEach(function (input) {
        input.classList.toggle("is-invalid", !!fieldName && input.name === fieldName);
      });
      result.replaceChildren();
    }

    function run() {
      var filled = Array.prototype.every.call(inputs, function (input) { return input.value.trim() !== ""; });
      if (!filled) {
        showError("", null);
        return;
      }
      var request = ++latest;
      var query = new URLSearchParams(new FormData(form)).toString();
      fetch(form.getAttribute("data-estimate-url") + "?" + query, {
        headers: { Accept: "application/json" },
        credentials: "same-origin"
      })
        .then(function (response) {
          return response.json().then(function (body) { return { ok: response.ok, body: body }; });
        })
        .then(function (answer) {
          if (request !== latest) return; // a newer request is on its way
          if (answer.ok) {
            showError("", null);
            drawEstimate(form, result, answer.body);
          } else {
            var problem = answer.body.error || {};
            showError(problem.message || form.getAttribute("data-error-label"), Object.keys(problem.fields || {})[0]);
          }
        })
        .catch(function () {
          if (request === latest) showError(form.getAttribute("data-error-label"), null);
        });
    }

    form.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(run, DELAY_MS);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      window.clearTimeout(timer);
      run();
    });
  }

  document.querySelectorAll("form[data-estimate-url]").forEach(setup);
})();
