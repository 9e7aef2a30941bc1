// Small behaviours for every page; loaded as a file because the CSP forbids inline script.
(function () {
  "use strict";
  // Copy buttons: <button data-copy-target="#id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy-target"));
    if (!source) return;
    var text = source.value !== undefined ? source.value : source.textContent;
    var done = function () {
      var original = button.textContent;
      button.textContent = button.getAttribute("data-copied-label") || "✓";
      setTimeout(function () { button.textContent = original; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text.trim()).then(done);
    } else {
      if (source.select) source.select();
      document.execCommand("copy");
      done();
    }
  });
  // Confirmation for destructive buttons: <button data-confirm="...">.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = (button && button.getAttribute("data-confirm")) || event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
  // Show SME-only fields only for SMEs on the registration form.
  var kindInputs = document.querySelectorAll("input[name='kind']");
  var smeOnly = document.querySelectorAll("[data-sme-only]");
  function syncKind() {
    var checked = document.querySelector("input[name='kind']:checked");
    var isSme = !checked || checked.value === "sme";
    smeOnly.forEach(function (el) { el.hidden = !isSme; });
  }
  kindInputs.forEach(function (input) { input.addEventListener("change", syncKind); });
  if (kindInputs.length) syncKind();
  // Tables become cards on a phone (site.css, "phone layout"): each cell gets its column's
  // header as data-label unless it has one; a table in [data-scroll-x] or with
  // .table-keep keeps its grid.
  document.querySelectorAll("main table").forEach(function (table) {
    if (table.closest("[data-scroll-x]") || table.classList.contains("table-keep")) return;
    var head = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
    if (!head) return;
    var labels = [];
    Array.prototype.forEach.call(head.cells, function (cell) {
      for (var i = 0; i < (cell.colSpan || 1); i++) labels.push(cell.textContent.trim());
    });
    table.classList.add("table-cards");
    var rows = [];
    Array.prototype.forEach.call(table.tBodies, function (body) { rows.push.apply(rows, body.rows); });
    if (table.tFoot) rows.push.apply(rows, table.tFoot.rows);
    rows.forEach(function (row) {
      var column = 0;
      Array.prototype.forEach.call(row.cells, function (cell) {
        if (!cell.hasAttribute("data-label") && labels[column] && (cell.colSpan || 1) === 1) {
          cell.setAttribute("data-label", labels[column]);
        }
        column += cell.colSpan || 1;
      });
    });
  });
})();
