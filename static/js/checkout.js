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

  // What a shopper is told when Stripe.js reports an error: by its decline code, else its code,
  // else its type. Stripe's own `message` is often written for developers ("The provided
  // PaymentMethod has failed authentication. You can provide payment_method_data ..."), so it
  // is never put on the page; a lost or stolen card reads as a plain decline, as Stripe advises.
  var NOT_CHARGED = " You have not been charged.";
  var DECLINE_MESSAGES = {
    insufficient_funds: "Your card has insufficient funds. Try another card." + NOT_CHARGED,
  };
  var CODE_MESSAGES = {
    card_declined: "Your card was declined. Try another card, or ask your bank why." + NOT_CHARGED,
    expired_card: "Your card has expired. Try another card." + NOT_CHARGED,
    incorrect_cvc: "The card's security code (CVC) is wrong. Check it and try again.",
    invalid_cvc: "The card's security code (CVC) is wrong. Check it and try again.",
    incorrect_number: "The card number is wrong. Check it and try again.",
    invalid_number: "The card number is wrong. Check it and try again.",
    invalid_expiry_month: "The card's expiry date is wrong. Check it and try again.",
    invalid_expiry_year: "The card's expiry date is wrong. Check it and try again.",
    incomplete_number: "Please enter the whole card number.",
    incomplete_expiry: "Please enter the card's expiry date.",
    incomplete_cvc: "Please enter the card's security code (CVC).",
    processing_error: "Your bank could not process the payment. Please try again in a moment.",
    authentication_required: "Your bank needs you to confirm this payment. Please pay again " +
      "and complete your bank's check." + NOT_CHARGED,
    payment_intent_authentication_failure: "Your bank could not confirm the payment " +
      "(3-D Secure was not completed). Try again, or use another card." + NOT_CHARGED,
    payment_intent_unexpected_state: "This payment changed meanwhile. Reload the page and " +
      "try again.",
  };
  var TYPE_MESSAGES = {
    api_connection_error: "We could not reach the payment service. Check your connection " +
      "and try again.",
    rate_limit_error: "The payment service is busy. Please try again in a moment.",
  };

  function shopperMessage(error) {
    // The codes (not the text) for whoever debugs the page: a warning, not an error.
    console.warn("Stripe.js error:", error.type, error.code || "", error.decline_code || "");
    return DECLINE_MESSAGES[error.decline_code] || CODE_MESSAGES[error.code] ||
      TYPE_MESSAGES[error.type] || "The payment did not go through. Please try again, or use " +
      "another card.";
  }

  // Decimal places a currency shows (ISO 4217, as the browser's Intl knows them: JPY 0,
  // KWD 3, EUR 2), the same as the back-office's amounts.
  function currencyDigits(code) {
    try {
      return new Intl.NumberFormat("en-US", { style: "currency", currency: code })
        .resolvedOptions().maximumFractionDigits;
    } catch (error) {
      return 2;
    }
  }

  // "JPY 3,500", "EUR 1,234.50", "KWD 12.340" from an amount in major units. The API's amounts
  // are decimal strings, which Intl formats exactly as given (no float on the way).
  function formatAmount(amount, currency) {
    var code = String(currency).toUpperCase();
    var digits = currencyDigits(code);
    var number = new Intl.NumberFormat("en-US", {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }).format(String(amount));
    return code + " " + number;
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
        label.textContent = "Order #" + order.id + ": " + formatAmount(order.total, order.currency);
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
      $("pay-what").textContent = "order #" + order.id + " (" +
        formatAmount(intent.amount, intent.currency) + ")";
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

  // Stripe's minor units per currency (payments/money.py's rules): whole units for its
  // zero-decimal currencies, thousandths for three-decimal ones, hundredths otherwise (ISK and
  // UGX included: Stripe counts them x100).
  var STRIPE_ZERO_DECIMAL = ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg",
    "rwf", "vnd", "vuv", "xaf", "xof", "xpf"];
  var STRIPE_THREE_DECIMAL = ["bhd", "jod", "kwd", "omr", "tnd"];

  function formatMinor(amount, currency) {
    var lower = String(currency).toLowerCase();
    var places = STRIPE_ZERO_DECIMAL.indexOf(lower) >= 0 ? 0
      : STRIPE_THREE_DECIMAL.indexOf(lower) >= 0 ? 3 : 2;
    // The integer as a decimal string, by its digits (no division, no float).
    var digits = String(Math.abs(amount)).padStart(places + 1, "0");
    var major = places ? digits.slice(0, -places) + "." + digits.slice(-places) : digits;
    return formatAmount((amount < 0 ? "-" : "") + major, currency);
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
          if (result.error) throw new Error(shopperMessage(result.error));
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
      say(formatAmount(waiting, payment.currency) + " still to arrive for order #" +
        current.order.id + ".");
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
      if (result.error) say(shopperMessage(result.error), "bad");
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
