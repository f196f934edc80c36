/* The stand-in bank page, after a choice: tell the page that opened it (Stripe.js), then close. */
(function () {
  "use strict";
  var script = document.currentScript;
  var message = {
    type: "stripe-sandbox-3ds",
    paymentIntent: script.getAttribute("data-done"),
    outcome: script.getAttribute("data-outcome"),
  };
  if (window.parent && window.parent !== window) window.parent.postMessage(message, "*");
  if (window.opener) {
    window.opener.postMessage(message, "*");
    window.close();
  }
})();
