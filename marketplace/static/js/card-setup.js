// Saving a card (templates/billing/card.html): Stripe.js's Card Element and
// confirmCardSetup, then the SetupIntent's id is posted to our server, which keeps the card
// (billing.payments.finish_card_setup). Card numbers never reach our server. Only the
// calls localstripe's fake Stripe.js also supports are used: Stripe(pk),
// elements().create('card') and confirmCardSetup(clientSecret, {payment_method: {card}}).
(function () {
  "use strict";
  var root = document.querySelector("[data-card-setup]");
  if (!root) return;
  var errorBox = root.querySelector("[data-card-setup-error]");
  var button = root.querySelector("[data-card-setup-submit]");
  var finish = document.getElementById("card-setup-finish");

  function showError(message) {
    errorBox.textContent = message;
    errorBox.classList.remove("d-none");
  }

  if (typeof window.Stripe !== "function") {
    showError(root.getAttribute("data-missing-label"));
    button.disabled = true;
    return;
  }
  var clientSecret = root.getAttribute("data-client-secret");
  var stripe = window.Stripe(root.getAttribute("data-publishable-key"));
  var card = stripe.elements().create("card");
  card.mount(root.querySelector("[data-card-element]"));

  function setupIntentId(result) {
    if (result && result.setupIntent && result.setupIntent.id) return result.setupIntent.id;
    var match = /^(seti_[A-Za-z0-9]+)_secret_/.exec(clientSecret);
    return match ? match[1] : "";
  }

  button.addEventListener("click", function () {
    var label = button.textContent;
    button.disabled = true;
    button.textContent = root.getAttribute("data-working-label");
    errorBox.classList.add("d-none");
    stripe.confirmCardSetup(clientSecret, { payment_method: { card: card } }).then(function (result) {
      if (result && result.error) {
        showError(result.error.message || String(result.error));
        button.disabled = false;
        button.textContent = label;
        return;
      }
      finish.querySelector("[name='setup_intent']").value = setupIntentId(result);
      finish.submit();
    });
  });
})();
