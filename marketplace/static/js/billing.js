// Billing pages: the print button of the invoice (a file, because the CSP forbids inline script).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) window.print();
  });
})();
