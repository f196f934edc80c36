/*
 * Demo checkout: the payments README's "Frontend Integration Example", made real.
 * Only the JSON API (with a token) and Stripe.js (the real one, or the offline stand-in's).
 */
(function () {
  "use strict";

  var token = null;
  var stripe = null;
  var card = null;
  var current = null; // {order, intent}

  function $(id) { return document.getElementById(id); }

  function say(text, kind) {
    var message = $("message");
    message.textContent = text;
    message.className = kind || "";
  }

  function api(method, path, body) {
    var headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = "Token " + token;
    return fetch(path, {
      method: method,
      headers: headers,
      body: body ? JSON.stringify(body) : undefined,
      credentials: "omit",
    }).then(function (response) {
      return response.json().then(function (json) {
        if (!response.ok) {
          var error = (json && json.error) || {};
          throw new Error(error.message || "Request failed (" + response.status + ").");
        }
        return json;
      });
    });
  }

  function loadStripe(config) {
    return new Promise(function (resolve, reject) {
      if (window.Stripe) return resolve(window.Stripe(config.publishable_key));
      var script = document.createElement("script");
      script.src = config.stripe_js_url;
      script.onload = function () { resolve(window.Stripe(config.publishable_key)); };
      script.onerror = function () { reject(new Error("Could not load Stripe.js.")); };
      document.head.appendChild(script);
    });
  }

  function showOrders() {
    return api("GET", "/api/shop/orders/?status=pending").then(function (page) {
      var list = $("orders");
      list.replaceChildren();
      page.results.forEach(function (order) {
        var item = document.createElement("li");
        var label = document.createElement("span");
        label.textContent = "Order #" + order.id + ": " + order.currency + " " + order.total;
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = "Pay order #" + order.id;
        button.addEventListener("click", function () { startPayment(order); });
        var transfer = document.createElement("button");
        transfer.type = "button";
        transfer.textContent = "Bank transfer for order #" + order.id;
        transfer.addEventListener("click", function () { startBankTransfer(order); });
        item.append(label, button, transfer);
        list.appendChild(item);
      });
      $("no-orders").hidden = page.results.length > 0;
      $("orders-section").hidden = false;
    });
  }

  function startPayment(order) {
    say("Preparing the payment…");
    api("POST", "/api/payments/payments/create_payment_intent/", {
      order_id: order.id,
      payment_method: "card",
    }).then(function (intent) {
      current = { order: order, intent: intent };
      $("pay-what").textContent = "order #" + order.id + " (" + intent.currency + " " +
        intent.amount + ")";
      $("pay-section").hidden = false;
      $("bank-section").hidden = true;
      if (!card) {
        card = stripe.elements().create("card");
        card.mount("#card-element");
      }
      say("");
    }).catch(function (error) { say(error.message, "bad"); });
  }

  // The account details Stripe gives a customer for a bank transfer, by their kind.
  var ADDRESS_FIELDS = {
    iban: [["account_holder_name", "Account holder"], ["iban", "IBAN"], ["bic", "BIC"]],
    sort_code: [["account_holder_name", "Account holder"], ["sort_code", "Sort code"],
      ["account_number", "Account number"]],
    aba: [["bank_name", "Bank"], ["routing_number", "Routing number"],
      ["account_number", "Account number"]],
    swift: [["bank_name", "Bank"], ["swift_code", "SWIFT"], ["account_number", "Account number"]],
    zengin: [["bank_name", "Bank"], ["branch_name", "Branch"], ["account_type", "Account type"],
      ["account_number", "Account number"], ["account_holder_name", "Account holder"]],
    spei: [["bank_name", "Bank"], ["clabe", "CLABE"]],
  };

  function formatMinor(amount, currency) {
    var digits = { jpy: 0, krw: 0, kwd: 3, bhd: 3, jod: 3, omr: 3, tnd: 3 }[currency];
    if (digits === undefined) digits = 2;
    return currency.toUpperCase() + " " + (amount / Math.pow(10, digits)).toFixed(digits);
  }

  function showInstructions(order, intent, instructions) {
    var details = $("bank-details");
    details.replaceChildren();
    var address = instructions.financial_addresses[0];
    (ADDRESS_FIELDS[address.type] || []).forEach(function (pair) {
      var value = address[address.type][pair[0]];
      if (!value) return;
      var term = document.createElement("dt");
      term.textContent = pair[1];
      var desc = document.createElement("dd");
      desc.textContent = value;
      details.append(term, desc);
    });
    var term = document.createElement("dt");
    term.textContent = "Reference";
    var desc = document.createElement("dd");
    desc.textContent = instructions.reference;
    details.append(term, desc);
    $("bank-what").textContent = "order #" + order.id;
    $("bank-amount").textContent = formatMinor(instructions.amount_remaining, instructions.currency);
    current = { order: order, intent: intent };
    $("pay-section").hidden = true;
    $("bank-section").hidden = false;
  }

  function startBankTransfer(order) {
    say("Preparing the bank transfer…");
    api("POST", "/api/payments/payments/create_payment_intent/", {
      order_id: order.id,
      payment_method: "bank_transfer",
    }).then(function (intent) {
      // The bank transfer's options were set when the PaymentIntent was made.
      return stripe.confirmCustomerBalancePayment(intent.client_secret, {}, { handleActions: false })
        .then(function (result) {
          if (result.error) throw new Error(result.error.message);
          var action = result.paymentIntent.next_action || {};
          showInstructions(order, intent, action.display_bank_transfer_instructions);
          say("");
        });
    }).catch(function (error) { say(error.message, "bad"); });
  }

  $("bank-check").addEventListener("click", function () {
    if (!current) return;
    api("GET", "/api/payments/payments/" + current.intent.payment_id + "/").then(function (payment) {
      if (payment.status === "succeeded") {
        say("Payment received: order #" + current.order.id + " is paid.", "ok");
        $("bank-section").hidden = true;
        current = null;
        return showOrders();
      }
      var waiting = payment.amount_remaining || payment.amount;
      say(payment.currency + " " + waiting + " still to arrive for order #" + current.order.id + ".");
    }).catch(function (error) { say(error.message, "bad"); });
  });

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    say("Logging in…");
    api("POST", "/api/auth/token/", {
      username: $("username").value,
      password: $("password").value,
    }).then(function (answer) {
      token = answer.token;
      return api("GET", "/api/payments/payments/config/");
    }).then(loadStripe).then(function (loaded) {
      stripe = loaded;
      $("login-section").hidden = true;
      say("");
      return showOrders();
    }).catch(function (error) { token = null; say(error.message, "bad"); });
  });

  $("pay-form").addEventListener("submit", function (event) {
    event.preventDefault();
    if (!current) return;
    var button = $("pay-button");
    button.disabled = true;
    say("Paying…");
    stripe.confirmCardPayment(current.intent.client_secret, {
      payment_method: { card: card, billing_details: { name: $("cardholder").value } },
    }).then(function (result) {
      if (result.error) say("Payment failed: " + result.error.message, "bad");
      // Whatever Stripe.js said, ask our own API what the payment's status now is.
      return api("GET", "/api/payments/payments/" + current.intent.payment_id + "/confirm/");
    }).then(function (payment) {
      if (payment.status === "succeeded") {
        say("Payment succeeded: order #" + current.order.id + " is paid.", "ok");
        $("pay-section").hidden = true;
        current = null;
        return showOrders();
      }
      if (payment.status !== "failed") say("Payment status: " + payment.status + ".");
    }).catch(function (error) {
      say(error.message, "bad");
    }).then(function () { button.disabled = false; });
  });
})();
