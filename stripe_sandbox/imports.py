"""`POST /_sandbox/import/payments`: payments made before the stand-in ran, with given ids.

Stand-in only (Stripe has nothing like it). Demo data seeded straight into the app's database
(`seed_demo --stand-in`) is brought here so that Stripe knows every demo payment: its
PaymentIntent, the charge that paid it and its refunds, with the ids, amounts, statuses and
creation times the app recorded. Nothing is emitted (the app already has those events) and a
PaymentIntent the stand-in already has is left as it is: what happened to it here since wins.

Body (JSON): {"payments": [{
    "id": "pi_...", "amount": 1234, "currency": "eur", "created": 1700000000,
    "status": "succeeded" | "processing" | "requires_payment_method" | "canceled",
    "customer": "cus_..." | null, "last_payment_error": {...} | null,
    "charge": {"id": "ch_...", "card": {"brand": "visa", "last4": "4242"} | null} | null,
    "refunds": [{"id": "re_...", "amount": 500, "status": "succeeded" | "pending" | "failed",
                 "reason": "requested_by_customer" | null, "created": 1700000100,
                 "failure_reason": "..." | null, "metadata": {...}}]
}]}
Answers {"imported": n, "existing": m}.
"""

from __future__ import annotations

import copy
from typing import Any

from . import objects
from .errors import invalid
from .store import Store

Obj = dict[str, Any]

PI_STATUSES = ("succeeded", "processing", "requires_payment_method", "canceled")
REFUND_STATUSES = ("succeeded", "pending", "failed", "canceled")
IMPORT_LIMIT = 5000  # payments per request


def _str(item: Obj, key: str, prefix: str | None = None, *, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value or (prefix and not value.startswith(prefix)):
        shape = f"a string starting with '{prefix}'" if prefix else "a non-empty string"
        raise invalid(f"{where}.{key} must be {shape}", param=f"{where}.{key}")
    return value


def _int(item: Obj, key: str, *, where: str, minimum: int = 0) -> int:
    value = item.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise invalid(f"{where}.{key} must be an integer of at least {minimum}", param=key)
    return value


def _choice(item: Obj, key: str, choices: tuple[str, ...], *, where: str) -> str:
    value = item.get(key)
    if value not in choices:
        raise invalid(f"{where}.{key} must be one of {', '.join(choices)}", param=key)
    return str(value)


def import_payments(store: Store, body: Obj) -> Obj:
    payments = body.get("payments")
    if not isinstance(payments, list) or len(payments) > IMPORT_LIMIT:
        raise invalid(f"payments must be a list of at most {IMPORT_LIMIT}", param="payments")
    built: list[Obj] = []
    existing = 0
    for n, item in enumerate(payments):
        if not isinstance(item, dict):
            raise invalid(f"payments[{n}] must be an object", param="payments")
        pi_id = _str(item, "id", "pi_", where=f"payments[{n}]")
        if store.get("payment_intent", pi_id) is not None:
            existing += 1
            continue
        built.extend(_payment(item, where=f"payments[{n}]"))  # all checked before any is stored
    for obj in built:
        store.put(obj)
        customer = obj.get("customer") if obj["object"] == "payment_intent" else None
        if customer and store.get("customer", customer) is None:
            store.put(_customer(customer, obj["created"]))
    return {"imported": len(payments) - existing, "existing": existing}


def _payment(item: Obj, *, where: str) -> list[Obj]:
    amount = _int(item, "amount", where=where, minimum=1)
    currency = _str(item, "currency", where=where).lower()
    status = _choice(item, "status", PI_STATUSES, where=where)
    created = _int(item, "created", where=where)
    customer = item.get("customer")
    if customer is not None and not (isinstance(customer, str) and customer.startswith("cus_")):
        raise invalid(f"{where}.customer must be a customer id or null", param="customer")
    pi = objects.payment_intent(
        amount=amount,
        currency=currency,
        customer_id=customer,
        description=None,
        metadata=dict(item.get("metadata") or {}),
        payment_method_types=["card"],
        allowed_payment_method_types=None,
        automatic=False,
        receipt_email=None,
        capture_method="automatic",
        setup_future_usage=None,
        statement_descriptor=None,
        statement_descriptor_suffix=None,
        shipping=None,
    )
    pi_id = item["id"]
    pi.update(
        id=pi_id,
        client_secret=f"{pi_id}_secret_{objects.new_id('x', 25)[2:]}",
        created=created,
        status=status,
        last_payment_error=item.get("last_payment_error") or None,
    )
    if status == "canceled":
        pi.update(canceled_at=created, cancellation_reason="abandoned")
    out = [pi]
    charge_item = item.get("charge")
    if status == "succeeded":
        if not isinstance(charge_item, dict):
            raise invalid(f"{where}.charge is required for a succeeded payment", param="charge")
        charge = _charge(pi, charge_item, where=f"{where}.charge")
        pi.update(latest_charge=charge["id"], amount_received=amount)
        refunds = item.get("refunds") or []
        if not isinstance(refunds, list):
            raise invalid(f"{where}.refunds must be a list", param="refunds")
        made = [_refund(charge, r, where=f"{where}.refunds[{k}]") for k, r in enumerate(refunds)]
        charge["amount_refunded"] = sum(
            r["amount"] for r in made if r["status"] in ("succeeded", "pending")
        )
        if charge["amount_refunded"] > amount:
            raise invalid(f"{where}.refunds add up to more than the amount", param="refunds")
        charge["refunded"] = charge["amount_refunded"] == amount
        for refund in sorted(made, key=lambda r: r["created"]):
            charge["refunds"]["data"].insert(0, copy.deepcopy(refund))
        charge["refunds"]["total_count"] = len(made)
        out += [charge, *made]
    elif item.get("refunds"):
        raise invalid(f"{where}: only a succeeded payment has refunds", param="refunds")
    return out


def _customer(customer_id: str, created: int) -> Obj:
    customer = objects.customer(email=None, name=None, description=None, phone=None, metadata={})
    customer.update(id=customer_id, created=created)
    return customer


def _charge(pi: Obj, item: Obj, *, where: str) -> Obj:
    charge_id = _str(item, "id", where=where)
    card = item.get("card")
    pm: Obj = {"id": None, "billing_details": objects.billing_details()}
    if isinstance(card, dict):
        brand = _str(card, "brand", where=f"{where}.card")
        last4 = _str(card, "last4", where=f"{where}.card")
        pm.update(
            type="card",
            card={
                "brand": brand,
                "last4": last4,
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": None,
                    "cvc_check": "pass",
                },
                "country": "US",
                "exp_month": 12,
                "exp_year": 2034,
                "fingerprint": f"fp{brand}{last4}",
                "funding": "credit",
            },
        )
    else:
        pm["type"] = "customer_balance"
    charge = objects.charge(pi=pi, pm=pm, status="succeeded", outcome=objects.outcome_authorized())
    charge.update(id=charge_id, created=pi["created"])
    charge["refunds"]["url"] = f"/v1/charges/{charge_id}/refunds"
    return charge


def _refund(charge: Obj, item: Obj, *, where: str) -> Obj:
    reason = item.get("reason") or None
    refund = objects.refund(
        ch=charge,
        amount=_int(item, "amount", where=where, minimum=1),
        reason=reason if isinstance(reason, str) else None,
        metadata=dict(item.get("metadata") or {}),
        status=_choice(item, "status", REFUND_STATUSES, where=where),
    )
    refund.update(
        id=_str(item, "id", "re_", where=where), created=_int(item, "created", where=where)
    )
    if refund["status"] == "failed":
        refund["failure_reason"] = item.get("failure_reason") or "unknown"
    return refund
