"""Builders for Stripe objects, shaped after Stripe's published examples (fixtures3.json).

Every builder returns the complete object with every field Stripe returns, most of them null for
what the stand-in does not model (Connect, invoices, transfers, ...). Ids carry Stripe's prefixes.
"""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

from .cards import TestCard

Obj = dict[str, Any]
_ALPHABET = string.ascii_letters + string.digits
# The API version events carry when a request did not send `Stripe-Version`.
DEFAULT_API_VERSION = "2026-10-28.endive"


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(length))}"


def now() -> int:
    return int(time.time())


def _address() -> Obj:
    return dict.fromkeys(["city", "country", "line1", "line2", "postal_code", "state"])


def billing_details(given: Obj | None = None) -> Obj:
    given = given or {}
    address = _address()
    address.update({k: v for k, v in (given.get("address") or {}).items() if k in address})
    return {
        "address": address,
        "email": given.get("email"),
        "name": given.get("name"),
        "phone": given.get("phone"),
        "tax_id": given.get("tax_id"),
    }


def customer(
    *,
    email: str | None,
    name: str | None,
    description: str | None,
    phone: str | None,
    metadata: Obj,
) -> Obj:
    return {
        "id": new_id("cus", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": now(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": description,
        "discount": None,
        "email": email,
        "invoice_prefix": secrets.token_hex(4).upper()[:7],
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": metadata,
        "name": name,
        "next_invoice_sequence": 1,
        "phone": phone,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
        "customer_account": None,
    }


def card_details(card: TestCard, exp_month: int, exp_year: int) -> Obj:
    return {
        "brand": card.brand,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "unchecked",
        },
        "country": card.country,
        "display_brand": card.brand,
        "exp_month": exp_month,
        "exp_year": exp_year,
        # Stripe's fingerprint identifies the number across PaymentMethods.
        "fingerprint": f"fp{card.number[-8:]}{card.brand[:4]}",
        "funding": card.funding,
        "generated_from": None,
        "last4": card.last4,
        "networks": {"available": [card.brand], "preferred": None},
        "regulated_status": "unregulated",
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
    }


def payment_method(*, type_: str, details: Obj, billing: Obj | None, metadata: Obj) -> Obj:
    return {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": billing_details(billing),
        "created": now(),
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": metadata,
        "type": type_,
        type_: details,
    }


def payment_intent(
    *,
    amount: int,
    currency: str,
    customer_id: str | None,
    description: str | None,
    metadata: Obj,
    payment_method_types: list[str],
    allowed_payment_method_types: list[str] | None,
    automatic: bool,
    receipt_email: str | None,
    capture_method: str,
    setup_future_usage: str | None,
    statement_descriptor: str | None,
    statement_descriptor_suffix: str | None,
    shipping: Obj | None,
) -> Obj:
    pi_id = new_id("pi")
    return {
        "id": pi_id,
        "object": "payment_intent",
        "allowed_payment_method_types": allowed_payment_method_types,
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": (
            {"allow_redirects": "always", "enabled": True} if automatic else None
        ),
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": capture_method,
        "client_secret": f"{pi_id}_secret_{new_id('x', 25)[2:]}",
        "confirmation_method": "automatic",
        "created": now(),
        "currency": currency,
        "customer": customer_id,
        "customer_account": None,
        "description": description,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            t: ({"request_three_d_secure": "automatic"} if t == "card" else {})
            for t in payment_method_types
        },
        "payment_method_types": payment_method_types,
        "processing": None,
        "receipt_email": receipt_email,
        "review": None,
        "setup_future_usage": setup_future_usage,
        "shipping": shipping,
        "source": None,
        "statement_descriptor": statement_descriptor,
        "statement_descriptor_suffix": statement_descriptor_suffix,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def charge(
    *,
    pi: Obj,
    pm: Obj,
    status: str,
    outcome: Obj,
    failure_code: str | None = None,
    failure_message: str | None = None,
    three_d_secure: Obj | None = None,
) -> Obj:
    ch_id = new_id("ch" if pm["type"] == "card" else "py")
    paid = status == "succeeded"
    details: Obj = {"type": pm["type"]}
    if pm["type"] == "card":
        card = pm["card"]
        details["card"] = {
            "amount_authorized": pi["amount"] if paid else None,
            "authorization_code": None,
            "brand": card["brand"],
            "checks": card["checks"],
            "country": card["country"],
            "exp_month": card["exp_month"],
            "exp_year": card["exp_year"],
            "extended_authorization": {"status": "disabled"},
            "fingerprint": card["fingerprint"],
            "funding": card["funding"],
            "incremental_authorization": {"status": "unavailable"},
            "installments": None,
            "last4": card["last4"],
            "mandate": None,
            "multicapture": {"status": "unavailable"},
            "network": card["brand"],
            "network_token": {"used": False},
            "network_transaction_id": None,
            "overcapture": {"maximum_amount_capturable": pi["amount"], "status": "unavailable"},
            "regulated_status": "unregulated",
            "three_d_secure": three_d_secure,
            "transaction_link_id": None,
            "wallet": None,
        }
    else:
        details[pm["type"]] = dict(pm.get(pm["type"]) or {})
    return {
        "id": ch_id,
        "object": "charge",
        "amount": pi["amount"],
        "amount_captured": pi["amount"] if paid else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": new_id("txn") if paid else None,
        "billing_details": pm["billing_details"],
        "calculated_statement_descriptor": "STRIPE SANDBOX",
        "captured": paid,
        "created": now(),
        "currency": pi["currency"],
        "customer": pi["customer"],
        "description": pi["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": failure_code,
        "failure_message": failure_message,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(pi["metadata"]),
        "on_behalf_of": None,
        "outcome": outcome,
        "paid": paid,
        "payment_intent": pi["id"],
        "payment_method": pm["id"],
        "payment_method_details": details,
        "receipt_email": pi["receipt_email"],
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "refunds": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/charges/{ch_id}/refunds",
        },
        "review": None,
        "shipping": pi["shipping"],
        "source": None,
        "source_transfer": None,
        "statement_descriptor": pi["statement_descriptor"],
        "statement_descriptor_suffix": pi["statement_descriptor_suffix"],
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }


def outcome_authorized() -> Obj:
    return {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "approved_by_network",
        "reason": None,
        "risk_level": "normal",
        "risk_score": 32,
        "seller_message": "Payment complete.",
        "type": "authorized",
    }


# The card networks' own codes (ISO 8583 response codes) behind each decline of the test cards.
NETWORK_DECLINE_CODES = {
    "generic_decline": "05",
    "insufficient_funds": "51",
    "lost_card": "41",
    "stolen_card": "43",
    "expired_card": "54",
    "incorrect_cvc": "N7",
    "processing_error": "96",
}


def outcome_declined(decline_code: str) -> Obj:
    generic = decline_code in ("generic_decline", "processing_error", "insufficient_funds")
    return {
        "advice_code": "try_again_later" if generic else "do_not_try_again",
        "network_advice_code": None,
        "network_decline_code": NETWORK_DECLINE_CODES.get(decline_code),
        "network_status": "declined_by_network",
        "reason": decline_code,
        "risk_level": "normal",
        "risk_score": 32,
        "seller_message": (
            "The bank did not return any further details with this decline."
            if generic
            else f"The bank returned the decline code `{decline_code}`."
        ),
        "type": "issuer_declined",
    }


def refund(*, ch: Obj, amount: int, reason: str | None, metadata: Obj, status: str) -> Obj:
    method_type = ch["payment_method_details"]["type"]
    destination: Obj = {"type": method_type, method_type: {}}
    if method_type == "card":
        destination["card"] = {
            "reference_status": "pending",
            "reference_type": "acquirer_reference_number",
            "type": "refund",
        }
    return {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "charge": ch["id"],
        "created": now(),
        "currency": ch["currency"],
        "customer": ch["customer"],
        "customer_account": None,
        "destination_details": destination,
        "metadata": metadata,
        "payment_intent": ch["payment_intent"],
        "payment_method": ch["payment_method"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }


def event(
    *,
    type_: str,
    obj: Obj,
    previous: Obj | None,
    request_id: str | None,
    idempotency_key: str | None,
    api_version: str | None,
    pending_webhooks: int,
) -> Obj:
    data: Obj = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": api_version or DEFAULT_API_VERSION,
        "created": now(),
        "data": data,
        "livemode": False,
        "pending_webhooks": pending_webhooks,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": type_,
    }
