// 3-D Secure for a card payment (templates/billing/confirm_card.html): the server created
// and confirmed the PaymentIntent; the bank wants the buyer to confirm it, which
// Stripe.js's confirmCardPayment does. Whatever the outcome, the page then posts back, and
// the server reads the PaymentIntent again and shows the result (a decline keeps the
// invoice open with the bank's message).
(function () {
  "use strict";
  var root = document.querySelector("[data-card-confirm]");
  if (!root) return;
  var finish = document.getElementById("card-confirm-finish");
  var start = finish.querySelector("[data-card-confirm-start]");
  var status = root.querySelector("[data-card-confirm-status]");
  var errorBox = root.querySelector("[data-card-confirm-error]");
  if (typeof window.Stripe !== "function") {
    start.disabled = true;
    return;  // the "check the payment" button still works
  }
  var stripe = window.Stripe(root.getAttribute("data-publishable-key"));
  var running = false;

  function confirm() {
    if (running) return;
    running = true;
    start.disabled = true;
    status.textContent = root.getAttribute("data-working-label");
    stripe.confirmCardPayment(root.getAttribute("data-client-secret")).then(function (result) {
      if (result && result.error && result.error.message) {
        errorBox.textContent = result.error.message;
        errorBox.classList.remove("d-none");
      }
      finish.submit();
    });
  }

  start.addEventListener("click", confirm);
  confirm();
})();
