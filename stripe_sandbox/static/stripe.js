/*
 * Stripe.js stand-in, served by stripe_sandbox at /v3/. The slice a checkout page needs:
 *
 *   const stripe = Stripe("pk_test_sandbox");
 *   const card = stripe.elements().create("card");
 *   card.mount("#card-element");
 *   const {paymentIntent, error} = await stripe.confirmCardPayment(clientSecret, {
 *     payment_method: {card, billing_details: {name: "Jenny Rosen"}},   // or "pm_card_visa"
 *   });
 *
 * Like Stripe.js it talks to the API with the publishable key and the PaymentIntent's client
 * secret, resolves {paymentIntent} or {error} (never rejects for a payment failure), and shows the
 * bank's 3-D Secure page in a frame when the card asks for it. The card fields are plain labelled
 * inputs in the page (real Stripe.js uses its own iframe). No inline scripts, handlers or style
 * attributes: styles are set through the CSSOM, so a strict Content-Security-Policy page can use it
 * (allow this origin in script-src, connect-src and frame-src).
 */
(function () {
  "use strict";

  var current = document.currentScript;
  var API_BASE = current && current.src ? new URL(current.src).origin : "http://127.0.0.1:12111";
  var POLL_MS = 800;

  function encode(value, prefix, pairs) {
    pairs = pairs || [];
    if (value === null || value === undefined) return pairs;
    if (Array.isArray(value)) {
      value.forEach(function (item, i) { encode(item, prefix + "[" + i + "]", pairs); });
    } else if (typeof value === "object") {
      Object.keys(value).forEach(function (key) {
        encode(value[key], prefix ? prefix + "[" + key + "]" : key, pairs);
      });
    } else {
      pairs.push(encodeURIComponent(prefix) + "=" + encodeURIComponent(String(value)));
    }
    return pairs;
  }

  function api(key, method, path, params) {
    var body = encode(Object.assign({ key: key }, params || {}), "").join("&");
    var url = API_BASE + path + (method === "GET" ? "?" + body : "");
    var init = { method: method };
    if (method !== "GET") {
      init.headers = { "Content-Type": "application/x-www-form-urlencoded" };
      init.body = body;
    }
    return fetch(url, init).then(
      function (response) {
        return response.json().then(function (json) {
          return { ok: response.ok, body: json };
        });
      },
      function () {
        return {
          ok: false,
          body: { error: { type: "api_connection_error", message: "Could not reach Stripe." } },
        };
      }
    );
  }

  function css(element, styles) {
    Object.keys(styles).forEach(function (name) { element.style[name] = styles[name]; });
    return element;
  }

  // --- Elements ---------------------------------------------------------------------------------
  function CardElement(options) {
    this.options = options || {};
    this.handlers = {};
    this.container = null;
    this.inputs = {};
  }

  CardElement.prototype.mount = function (target) {
    var host = typeof target === "string" ? document.querySelector(target) : target;
    if (!host) throw new Error("Stripe sandbox: mount target not found: " + target);
    var self = this;
    var container = document.createElement("div");
    container.className = "StripeElement StripeSandboxCard";
    container.setAttribute("data-stripe-sandbox", "card");
    [
      ["number", "Card number", "cardnumber", "cc-number", "1234 1234 1234 1234"],
      ["expiry", "Expiration date", "exp-date", "cc-exp", "MM / YY"],
      ["cvc", "Security code (CVC)", "cvc", "cc-csc", "CVC"],
    ].forEach(function (spec) {
      var label = document.createElement("label");
      var text = document.createElement("span");
      text.textContent = spec[1];
      var input = document.createElement("input");
      input.type = "text";
      input.name = spec[2];
      input.autocomplete = spec[3];
      input.placeholder = spec[4];
      input.inputMode = "numeric";
      input.spellcheck = false;
      input.addEventListener("input", function () { self.emit("change", self.state()); });
      input.addEventListener("focus", function () { self.emit("focus", { elementType: "card" }); });
      input.addEventListener("blur", function () { self.emit("blur", { elementType: "card" }); });
      css(label, { display: "block", marginBottom: "0.5em" });
      css(input, { display: "block", width: "100%", boxSizing: "border-box" });
      label.appendChild(text);
      label.appendChild(input);
      container.appendChild(label);
      self.inputs[spec[0]] = input;
    });
    host.appendChild(container);
    this.container = container;
    setTimeout(function () { self.emit("ready", { elementType: "card" }); }, 0);
    return this;
  };

  CardElement.prototype.on = function (event, handler) {
    (this.handlers[event] = this.handlers[event] || []).push(handler);
    return this;
  };
  CardElement.prototype.off = function (event, handler) {
    this.handlers[event] = (this.handlers[event] || []).filter(function (h) { return h !== handler; });
    return this;
  };
  CardElement.prototype.emit = function (event, payload) {
    (this.handlers[event] || []).forEach(function (handler) { handler(payload); });
  };
  CardElement.prototype.unmount = function () {
    if (this.container && this.container.parentNode) this.container.parentNode.removeChild(this.container);
    this.container = null;
  };
  CardElement.prototype.destroy = CardElement.prototype.unmount;
  CardElement.prototype.update = function (options) { Object.assign(this.options, options || {}); };
  CardElement.prototype.focus = function () { if (this.inputs.number) this.inputs.number.focus(); };
  CardElement.prototype.blur = function () {
    Object.keys(this.inputs).forEach(function (k) { this.inputs[k].blur(); }, this);
  };
  CardElement.prototype.clear = function () {
    Object.keys(this.inputs).forEach(function (k) { this.inputs[k].value = ""; }, this);
    this.emit("change", this.state());
  };

  CardElement.prototype.values = function () {
    var digits = function (s) { return (s || "").replace(/\D/g, ""); };
    var expiry = digits(this.inputs.expiry && this.inputs.expiry.value);
    return {
      number: digits(this.inputs.number && this.inputs.number.value),
      exp_month: expiry.slice(0, 2),
      exp_year: expiry.slice(2),
      cvc: digits(this.inputs.cvc && this.inputs.cvc.value),
    };
  };

  CardElement.prototype.validationError = function () {
    var v = this.values();
    if (v.number.length < 12) {
      return { type: "validation_error", code: "incomplete_number", message: "Your card number is incomplete." };
    }
    if (v.exp_month.length !== 2 || v.exp_year.length < 2) {
      return { type: "validation_error", code: "incomplete_expiry", message: "Your card's expiration date is incomplete." };
    }
    if (v.cvc.length < 3) {
      return { type: "validation_error", code: "incomplete_cvc", message: "Your card's security code is incomplete." };
    }
    return null;
  };

  CardElement.prototype.state = function () {
    var v = this.values();
    var error = this.validationError();
    var brand = /^4/.test(v.number) ? "visa" : /^(5[1-5]|2[2-7])/.test(v.number) ? "mastercard" : /^3[47]/.test(v.number) ? "amex" : "unknown";
    return { elementType: "card", empty: !v.number && !v.cvc, complete: !error, error: undefined, brand: brand };
  };

  function Elements(stripe, options) {
    this.stripe = stripe;
    this.options = options || {};
    this.created = {};
  }
  Elements.prototype.create = function (type, options) {
    if (type !== "card") throw new Error("Stripe sandbox: only the 'card' element is available.");
    return (this.created[type] = new CardElement(options));
  };
  Elements.prototype.getElement = function (type) { return this.created[type] || null; };

  // --- Stripe -----------------------------------------------------------------------------------
  function Stripe(publishableKey, options) {
    if (!(this instanceof Stripe)) return new Stripe(publishableKey, options);
    if (typeof publishableKey !== "string" || publishableKey.indexOf("pk_") !== 0) {
      throw new Error("Stripe sandbox: Stripe() needs a publishable key (pk_...).");
    }
    this.key = publishableKey;
  }

  Stripe.prototype.elements = function (options) { return new Elements(this, options); };

  function intentId(clientSecret) {
    return String(clientSecret || "").split("_secret_")[0];
  }

  Stripe.prototype.retrievePaymentIntent = function (clientSecret) {
    return api(this.key, "GET", "/v1/payment_intents/" + intentId(clientSecret), { client_secret: clientSecret })
      .then(function (r) { return r.ok ? { paymentIntent: r.body } : { error: r.body.error }; });
  };

  Stripe.prototype.createPaymentMethod = function (data) {
    var card = data && data.card;
    if (!(card instanceof CardElement)) {
      return Promise.resolve({ error: { type: "validation_error", message: "A card element is required." } });
    }
    var invalid = card.validationError();
    if (invalid) return Promise.resolve({ error: invalid });
    var params = { type: "card", card: card.values() };
    if (data.billing_details) params.billing_details = data.billing_details;
    return api(this.key, "POST", "/v1/payment_methods", params)
      .then(function (r) { return r.ok ? { paymentMethod: r.body } : { error: r.body.error }; });
  };

  Stripe.prototype.confirmCardPayment = function (clientSecret, data, options) {
    var self = this;
    var handleActions = !(options && options.handleActions === false);
    var pm = data && data.payment_method;
    var paymentMethod;
    if (pm && typeof pm === "object" && pm.card instanceof CardElement) {
      paymentMethod = this.createPaymentMethod({ card: pm.card, billing_details: pm.billing_details })
        .then(function (r) { return r.error ? r : { id: r.paymentMethod.id }; });
    } else {
      paymentMethod = Promise.resolve({ id: typeof pm === "string" ? pm : undefined });
    }
    return paymentMethod.then(function (result) {
      if (result.error) return { error: result.error };
      var params = { client_secret: clientSecret, use_stripe_sdk: "true" };
      if (result.id) params.payment_method = result.id;
      if (data && data.return_url) params.return_url = data.return_url;
      return api(self.key, "POST", "/v1/payment_intents/" + intentId(clientSecret) + "/confirm", params)
        .then(function (r) {
          if (!r.ok) return { error: r.body.error };
          return handleActions ? self.handleNextAction(r.body, clientSecret) : { paymentIntent: r.body };
        });
    });
  };

  // A bank transfer (customer_balance): confirming answers the PaymentIntent with
  // next_action.display_bank_transfer_instructions, for the page to show. As with Stripe.js,
  // pass {handleActions: false} to show them yourself (the stand-in never shows a modal).
  Stripe.prototype.confirmCustomerBalancePayment = function (clientSecret, data, options) {
    var params = { client_secret: clientSecret, payment_method_data: { type: "customer_balance" } };
    if (data && data.payment_method_options) params.payment_method_options = data.payment_method_options;
    return api(this.key, "POST", "/v1/payment_intents/" + intentId(clientSecret) + "/confirm", params)
      .then(function (r) { return r.ok ? { paymentIntent: r.body } : { error: r.body.error }; });
  };

  Stripe.prototype.handleCardAction = function (clientSecret) {
    var self = this;
    return this.retrievePaymentIntent(clientSecret).then(function (r) {
      return r.error ? r : self.handleNextAction(r.paymentIntent, clientSecret);
    });
  };

  Stripe.prototype.handleNextAction = function (paymentIntent, clientSecret) {
    var self = this;
    var action = paymentIntent.next_action;
    if (paymentIntent.status !== "requires_action" || !action) return Promise.resolve(outcome(paymentIntent));
    if (action.type === "redirect_to_url") {
      window.location.assign(action.redirect_to_url.url);
      return new Promise(function () {});
    }
    if (action.type !== "use_stripe_sdk") return Promise.resolve({ paymentIntent: paymentIntent });
    return authenticate(action.use_stripe_sdk.stripe_js, function () {
      return self.retrievePaymentIntent(clientSecret);
    }).then(function (r) { return r.error ? r : outcome(r.paymentIntent); });
  };

  function outcome(paymentIntent) {
    if (paymentIntent.status === "requires_payment_method" && paymentIntent.last_payment_error) {
      return { error: Object.assign({}, paymentIntent.last_payment_error, { payment_intent: paymentIntent }) };
    }
    return { paymentIntent: paymentIntent };
  }

  // The bank's 3-D Secure page in a modal frame; resolves once the PaymentIntent has moved on.
  function authenticate(url, fetchIntent) {
    return new Promise(function (resolve) {
      var overlay = css(document.createElement("div"), {
        position: "fixed", inset: "0", background: "rgba(0,0,0,0.5)", zIndex: "2147483647",
        display: "flex", alignItems: "center", justifyContent: "center",
      });
      overlay.setAttribute("data-stripe-sandbox", "three-d-secure");
      var frame = css(document.createElement("iframe"), {
        width: "min(500px, 95vw)", height: "min(600px, 90vh)", border: "0", background: "#fff",
        borderRadius: "8px",
      });
      frame.src = url;
      frame.title = "3D Secure authentication";
      frame.name = "stripe-sandbox-3ds";
      overlay.appendChild(frame);
      document.body.appendChild(overlay);
      var done = false;
      var timer = null;
      function check() {
        if (done) return;
        fetchIntent().then(function (r) {
          if (done) return;
          if (r.error || r.paymentIntent.status !== "requires_action") finish(r);
          else timer = setTimeout(check, POLL_MS);
        });
      }
      function onMessage(event) {
        if (event.origin === API_BASE && event.data && event.data.type === "stripe-sandbox-3ds") {
          clearTimeout(timer);
          check();
        }
      }
      function finish(r) {
        done = true;
        clearTimeout(timer);
        window.removeEventListener("message", onMessage);
        if (overlay.parentNode) overlay.parentNode.removeChild(overlay);
        resolve(r);
      }
      window.addEventListener("message", onMessage);
      timer = setTimeout(check, POLL_MS);
    });
  }

  Stripe.version = "sandbox";
  window.Stripe = Stripe;
})();
