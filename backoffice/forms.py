"""The refund form: checked here for the person typing, re-checked by refund_create under lock."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.conf import settings
from django.core import signing

from payments import money
from payments.models import Payment, Refund
from payments.services.transitions import refund_needs_approval

# The confirmation's token is signed: it names the payment, the amount and reason reviewed, and
# what was already refunded then, so a confirmation cannot be edited or replayed on another
# payment, and one reviewed before another refund landed (a second tab) is refused.
_SALT = "backoffice.refund-confirmation"
_MAX_AGE = 30 * 60  # seconds a confirmation stays valid


def confirmation_token(payment: Payment, amount: Decimal, reason: str) -> str:
    return signing.dumps(
        {
            "nonce": uuid.uuid4().hex,
            "payment": payment.pk,
            "amount": str(amount),
            "reason": reason,
            "refunded": str(payment.amount_refunded),
        },
        salt=_SALT,
    )


class RefundForm(forms.Form):
    amount = forms.CharField(
        label="Amount",
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    reason = forms.ChoiceField(label="Reason", choices=Refund.Reason.choices)
    description = forms.CharField(
        label="Note (optional)",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # The one-time token of the confirmation step: refund_create turns a second POST carrying the
    # same token (double click, resubmitted tab) into the first refund rather than a new one.
    token = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, payment: Payment, confirming: bool = False, **kwargs) -> None:
        """`confirming`: the final POST. It must carry the token, and what remains is left to
        refund_create to check under the payment's lock, after it has looked for the token: a
        resubmitted confirmation then finds its refund instead of being refused as too much."""
        self.payment = payment
        self.confirming = confirming
        kwargs.setdefault(
            "initial",
            {
                "amount": money.to_decimal(payment.amount_refundable, payment.currency),
                "reason": Refund.Reason.REQUESTED_BY_CUSTOMER,
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = f"Amount ({payment.currency})"
        self.fields[
            "amount"
        ].help_text = f"At most {money.format_amount(payment.amount_refundable, payment.currency)}."

    def full_clean(self) -> None:
        super().full_clean()
        # Back on the form (an error, or "Change" on the confirmation), the focus goes to the
        # first visible field in error, else the amount: htmx focuses [autofocus] in what it swaps.
        if self.is_bound:
            visible = [f.name for f in self.visible_fields()]
            first = next((name for name in visible if name in self.errors), "amount")
            self.fields[first].widget.attrs["autofocus"] = True

    def clean_amount(self) -> Decimal:
        raw = self.cleaned_data["amount"].strip()
        try:
            amount = money.to_decimal(raw, self.payment.currency)
            money.to_minor_units(amount, self.payment.currency)  # KWD 1.005 cannot go to Stripe
        except money.InvalidAmount as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None
        if amount <= 0:
            raise forms.ValidationError("Enter an amount greater than zero.", code="min_value")
        remaining = self.payment.amount_refundable
        if not self.confirming and amount > remaining:
            raise forms.ValidationError(
                f"Only {money.format_amount(remaining, self.payment.currency)} remains refundable.",
                code="max_value",
            )
        return amount

    def clean_token(self) -> str:
        token = self.cleaned_data.get("token", "")
        if not self.confirming:
            return token
        try:
            self.reviewed = signing.loads(token, salt=_SALT, max_age=_MAX_AGE)
        except signing.BadSignature:  # includes expired
            raise forms.ValidationError(
                "This confirmation has expired. Review the refund again.", code="token"
            ) from None
        return token

    def clean(self) -> dict:
        data = super().clean() or {}
        reviewed = getattr(self, "reviewed", None)
        if self.confirming and reviewed is not None and "amount" in data:
            same = (
                reviewed.get("payment") == self.payment.pk
                and reviewed.get("amount") == str(data["amount"])
                and reviewed.get("reason") == data.get("reason")
            )
            if not same:
                raise forms.ValidationError(
                    "This confirmation does not match what was reviewed. Review the refund again.",
                    code="token",
                )
            data["nonce"] = reviewed["nonce"]
            data["reviewed_refunded"] = Decimal(reviewed["refunded"])
        return data

    def summary(self) -> str:
        """The confirmation sentence: 'Refund EUR 50.00 of EUR 99.99 to Visa ending 4242'."""
        p = self.payment
        amount = money.format_amount(self.cleaned_data["amount"], p.currency)
        summary = f"Refund {amount} of {p.amount_display} to {refund_destination(p)}"
        if self.needs_approval():
            summary += (
                ". At or above the approval threshold: it waits for a second person's approval, "
                "and nothing goes to Stripe until then"
            )
        return summary

    def needs_approval(self) -> bool:
        """Whether this refund will wait for a second person (four eyes)."""
        threshold = settings.PAYMENTS_REFUND_APPROVAL_THRESHOLD.get(self.payment.currency)
        amount = self.cleaned_data.get("amount") if hasattr(self, "cleaned_data") else None
        if amount is None:
            amount = self.initial.get("amount")
        return amount is not None and refund_needs_approval(Decimal(str(amount)), threshold)


def refund_destination(payment: Payment) -> str:
    if payment.card_last4:
        return f"{payment.card_brand.title() or 'Card'} ending {payment.card_last4}"
    return f"the customer's {payment.get_payment_method_display().lower()}"


# --- Four eyes: approving or rejecting a refund that awaits a second person ----------------------
# The confirmation's token names the refund, the decision and what the payment's refunds held
# when it was reviewed: it cannot be replayed on another refund or turned into the other
# decision, and one reviewed before the payment changed (another refund landed) is refused.
_DECISION_SALT = "backoffice.refund-decision"
DECISIONS = ("approve", "reject")


def decision_token(refund: Refund, decision: str) -> str:
    return signing.dumps(
        {
            "nonce": uuid.uuid4().hex,
            "refund": refund.pk,
            "decision": decision,
            "refunded": str(refund.payment.amount_refunded),
        },
        salt=_DECISION_SALT,
    )


class RefundDecisionForm(forms.Form):
    """The confirmation of an approval or a rejection: the one-time token, and a note."""

    note = forms.CharField(
        label="Why (optional)",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, refund: Refund, decision: str, **kwargs) -> None:
        self.refund = refund
        self.decision = decision
        super().__init__(*args, **kwargs)

    def clean_token(self) -> str:
        token = self.cleaned_data.get("token", "")
        expired = forms.ValidationError(
            "This confirmation has expired or does not match the refund. Review it again.",
            code="token",
        )
        try:
            reviewed = signing.loads(token, salt=_DECISION_SALT, max_age=_MAX_AGE)
        except signing.BadSignature:  # includes expired
            raise expired from None
        if reviewed.get("refund") != self.refund.pk or reviewed.get("decision") != self.decision:
            raise expired
        self.nonce = str(reviewed["nonce"])
        self.reviewed_refunded = Decimal(reviewed["refunded"])
        return token

    def summary(self) -> str:
        """'Approve refund #12 of EUR 600.00 to Visa ending 4242, requested by alice@...'."""
        r = self.refund
        verb = "Approve" if self.decision == "approve" else "Reject"
        amount = money.format_amount(r.amount, r.payment.currency)
        requester = r.created_by.email if r.created_by else "someone outside the app"
        return (
            f"{verb} refund #{r.pk} of {amount} to {refund_destination(r.payment)}, "
            f"requested by {requester}"
        )
