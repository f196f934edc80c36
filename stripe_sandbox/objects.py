"""Builders for Stripe objects, shaped after Stripe's published examples (fixtures3.json).

Every builder returns the complete object with every field Stripe returns, most of them null for
what the stand-in does not model (Connect, invoices, transfers, ...). Ids carry Stripe's prefixes.
"""

from __future__ import annotations

import hashlib
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


# --- disputes ------------------------------------------------------------------------------------
# A dispute's evidence fields, as Stripe returns them (null until given). Files are ids of
# uploads (`purpose=dispute_evidence`), which the stand-in does not model.
EVIDENCE_TEXT_FIELDS = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_tracking_number",
    "uncategorized_text",
)
EVIDENCE_FILE_FIELDS = (
    "cancellation_policy",
    "customer_communication",
    "customer_signature",
    "duplicate_charge_documentation",
    "receipt",
    "refund_policy",
    "service_documentation",
    "shipping_documentation",
    "uncategorized_file",
)


def dispute(*, ch: Obj, reason: str, case_type: str, network_reason_code: str, due_by: int) -> Obj:
    card = ch["payment_method_details"].get("card") or {}
    inquiry = case_type == "inquiry"
    evidence: Obj = dict.fromkeys(sorted((*EVIDENCE_TEXT_FIELDS, *EVIDENCE_FILE_FIELDS)))
    evidence.update(appeal=None, enhanced_evidence={})
    return {
        "id": new_id("dp"),
        "object": "dispute",
        "amount": ch["amount"],
        "balance_transactions": [],
        "charge": ch["id"],
        "created": now(),
        "currency": ch["currency"],
        "enhanced_eligibility_types": [],
        "evidence": evidence,
        "evidence_details": {
            "due_by": due_by,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
            "submission_method": "not_submitted",
        },
        "intended_submission_method": None,
        "is_charge_refundable": inquiry,
        "livemode": False,
        "metadata": {},
        "network_reason_code": network_reason_code,
        "payment_intent": ch["payment_intent"],
        "payment_method_details": {
            "card": {
                "brand": card.get("brand", "visa"),
                "case_type": case_type,
                "network": card.get("network", card.get("brand", "visa")),
                "network_reason_code": network_reason_code,
            },
            "type": "card",
        },
        "reason": reason,
        "status": "warning_needs_response" if inquiry else "needs_response",
    }


def dispute_balance_transaction(*, dp: Obj, amount: int, fee: int, description: str) -> Obj:
    """A dispute's movement of money: the withdrawal (negative, with the dispute fee) or the
    reinstatement once it is won (positive, the fee given back)."""
    created = now()
    return {
        "id": new_id("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created,
        "balance_type": "payments",
        "created": created,
        "currency": dp["currency"],
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": [
            {
                "amount": fee,
                "application": None,
                "currency": dp["currency"],
                "description": "Dispute fee",
                "type": "stripe_fee",
            }
        ],
        "net": amount - fee,
        "reporting_category": "dispute",
        "source": dp["id"],
        "status": "available",
        "type": "adjustment",
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


# --- bank transfers (customer_balance) ----------------------------------------------------------
# Stripe's bank transfer type for each currency, and the EU countries whose accounts it offers.
BANK_TRANSFER_TYPE = {
    "eur": "eu_bank_transfer",
    "gbp": "gb_bank_transfer",
    "usd": "us_bank_transfer",
    "jpy": "jp_bank_transfer",
    "mxn": "mx_bank_transfer",
}
EU_TRANSFER_COUNTRIES = ("BE", "DE", "ES", "FR", "IE", "NL")


def _digits(seed: str, n: int) -> str:
    number = int(hashlib.sha256(seed.encode()).hexdigest(), 16)
    return str(number)[:n].rjust(n, "0")


def iban(country: str, seed: str) -> str:
    """A well-formed IBAN (ISO 13616 check digits) of the stand-in's bank in `country`."""
    bban = "SAND" + _digits(seed, 10)
    rearranged = bban + country + "00"
    number = int("".join(str(int(c, 36)) for c in rearranged))
    return f"{country}{98 - number % 97:02d}{bban}"


def bank_transfer_instructions(pi: Obj, options: Obj, customer_id: str, base_url: str) -> Obj:
    """`next_action.display_bank_transfer_instructions` as Stripe sends it: the customer's own
    virtual account at the stand-in's bank, in the form the requested transfer type uses."""
    transfer = options.get("bank_transfer") or {}
    type_ = transfer.get("type") or BANK_TRANSFER_TYPE[pi["currency"]]
    holder = "Stripe Sandbox Payments"
    if type_ == "eu_bank_transfer":
        country = (transfer.get("eu_bank_transfer") or {}).get("country", "NL")
        addresses = [
            {
                "type": "iban",
                "iban": {
                    "account_holder_name": holder,
                    "bic": f"SAND{country}2X",
                    "country": country,
                    "iban": iban(country, customer_id),
                },
                "supported_networks": ["sepa"],
            }
        ]
    elif type_ == "gb_bank_transfer":
        addresses = [
            {
                "type": "sort_code",
                "sort_code": {
                    "account_holder_name": holder,
                    "account_number": _digits(customer_id, 8),
                    "sort_code": "108800",
                },
                "supported_networks": ["bacs", "fps"],
            }
        ]
    elif type_ == "us_bank_transfer":
        account = _digits(customer_id, 12)
        addresses = [
            {
                "type": "aba",
                "aba": {
                    "account_number": account,
                    "bank_name": "Stripe Sandbox Bank",
                    "routing_number": "110000000",
                },
                "supported_networks": ["ach", "domestic_wire_us"],
            },
            {
                "type": "swift",
                "swift": {
                    "account_number": account,
                    "bank_name": "Stripe Sandbox Bank",
                    "swift_code": "SANDUS33",
                },
                "supported_networks": ["swift"],
            },
        ]
    elif type_ == "jp_bank_transfer":
        addresses = [
            {
                "type": "zengin",
                "zengin": {
                    "account_holder_name": holder,
                    "account_number": _digits(customer_id, 7),
                    "account_type": "futsu",
                    "bank_code": "0999",
                    "bank_name": "Sandbox Bank",
                    "branch_code": "001",
                    "branch_name": "Main",
                },
                "supported_networks": ["zengin"],
            }
        ]
    else:  # mx_bank_transfer
        addresses = [
            {
                "type": "spei",
                "spei": {
                    "bank_code": "999",
                    "bank_name": "Sandbox Bank",
                    "clabe": "999180" + _digits(customer_id, 12),
                },
                "supported_networks": ["spei"],
            }
        ]
    return {
        "type": "display_bank_transfer_instructions",
        "display_bank_transfer_instructions": {
            "amount_remaining": pi["amount"] - pi.get("amount_received", 0),
            "currency": pi["currency"],
            "financial_addresses": addresses,
            "hosted_instructions_url": f"{base_url}/_sandbox/payment_intents/{pi['id']}",
            "reference": pi["id"][-10:].upper(),
            "type": type_,
        },
    }
