"""The dispute answers: text evidence (saved as a draft or submitted) and accepting the dispute.

Like the refund form, each goes through a review that says exactly what will happen and answers
a confirmation carrying a signed one-time token. The token names the dispute, the action, the
status it had and (for evidence) a digest of the text reviewed: a confirmation cannot be edited,
replayed on another dispute, or sent after the dispute moved on; and the same confirmation sent
twice is one request to Stripe (its nonce is the idempotency key's).
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.core import signing

from payments.models import Dispute
from payments.services import Reviewed, evidence_digest

_SALT = "backoffice.dispute-confirmation"
_MAX_AGE = 30 * 60  # seconds a confirmation stays valid
SAVE, SUBMIT, ACCEPT = "save", "submit", "accept"

# The text evidence offered, with the labels Stripe's Dashboard uses (fields for uploaded files,
# such as customer_communication or receipt, take a file id at Stripe and are not offered here).
EVIDENCE_FIELDS: list[tuple[str, str, bool]] = [  # (field, label, long text)
    ("product_description", "Product or service description", True),
    ("customer_name", "Customer name", False),
    ("customer_email_address", "Customer email address", False),
    ("customer_purchase_ip", "Customer's IP address at purchase", False),
    ("billing_address", "Billing address", True),
    ("shipping_address", "Shipping address", True),
    ("shipping_carrier", "Shipping carrier", False),
    ("shipping_tracking_number", "Tracking number", False),
    ("shipping_date", "Shipping date", False),
    ("service_date", "Service date", False),
    ("access_activity_log", "Access or activity log", True),
    ("refund_policy_disclosure", "How the refund policy was shown", True),
    ("refund_refusal_explanation", "Why the customer is not entitled to a refund", True),
    ("cancellation_policy_disclosure", "How the cancellation policy was shown", True),
    ("cancellation_rebuttal", "Why the subscription was not cancelled", True),
    ("duplicate_charge_explanation", "How this differs from the other charge", True),
    ("uncategorized_text", "Other evidence or statement", True),
]
FIELD_MAX = 20_000  # Stripe's limit for each text field
TOTAL_MAX = 150_000  # and for all of them together


def confirmation_token(dispute: Dispute, action: str, evidence: dict[str, str] | None) -> str:
    return signing.dumps(
        {
            "nonce": uuid.uuid4().hex,
            "dispute": dispute.pk,
            "action": action,
            "status": dispute.status,
            # What the reviewer saw Stripe hold: a colleague's draft since makes this stale.
            "held": evidence_digest(dispute.evidence),
            "evidence": evidence_digest(evidence or {}),
        },
        salt=_SALT,
    )


def reviewed(token_data: dict[str, str]) -> Reviewed:
    """The dispute as the confirmation's reviewer saw it (services.disputes checks it)."""
    return Reviewed(status=token_data["status"], evidence_digest=token_data.get("held", ""))


class _Confirmed(forms.Form):
    token = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, dispute: Dispute, confirming: bool = False, **kw: Any):
        self.dispute = dispute
        self.confirming = confirming
        super().__init__(*args, **kw)

    def reviewed(self, action: str, evidence: dict[str, str] | None) -> dict[str, str]:
        """The checked token of a confirmation: raises a form error if it is not this one."""
        if not self.cleaned_data.get("token"):
            raise forms.ValidationError(
                "This confirmation has no token. Review the answer first.", code="missing"
            )
        try:
            data = signing.loads(self.cleaned_data.get("token", ""), salt=_SALT, max_age=_MAX_AGE)
        except signing.BadSignature:  # includes expired
            raise forms.ValidationError(
                "This confirmation has expired. Review the answer again.", code="token"
            ) from None
        same = (
            data.get("dispute") == self.dispute.pk
            and data.get("action") == action
            and data.get("evidence") == evidence_digest(evidence or {})
        )
        if not same:
            raise forms.ValidationError(
                "This confirmation does not match what was reviewed. Review the answer again.",
                code="token",
            )
        return data


class EvidenceForm(_Confirmed):
    action = forms.ChoiceField(
        choices=[(SAVE, "Save as draft"), (SUBMIT, "Submit to the bank")],
        initial=SAVE,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, dispute: Dispute, confirming: bool = False, **kw: Any):
        kw.setdefault("initial", dict(dispute.evidence))
        super().__init__(*args, dispute=dispute, confirming=confirming, **kw)
        for name, label, long in EVIDENCE_FIELDS:
            widget = forms.Textarea(attrs={"rows": 3}) if long else forms.TextInput()
            self.fields[name] = forms.CharField(
                label=label, required=False, max_length=FIELD_MAX, strip=True, widget=widget
            )

    def evidence(self) -> dict[str, str]:
        return {name: self.cleaned_data.get(name, "") for name, _, _ in EVIDENCE_FIELDS}

    def clean(self) -> dict:
        data = super().clean() or {}
        if self.errors:
            return data
        evidence = self.evidence()
        if sum(len(v) for v in evidence.values()) > TOTAL_MAX:
            raise forms.ValidationError(
                f"Stripe takes at most {TOTAL_MAX:,} characters of evidence in all.", code="size"
            )
        if data.get("action") == SUBMIT and not any(evidence.values()):
            raise forms.ValidationError("Submitting needs some evidence.", code="empty")
        if self.confirming:
            self.token_data = self.reviewed(data["action"], evidence)
        return data

    def summary(self) -> str:
        d = self.dispute
        filled = [label for name, label, _ in EVIDENCE_FIELDS if self.cleaned_data.get(name)]
        what = f"{len(filled)} field{'s' if len(filled) != 1 else ''} of evidence"
        if self.cleaned_data["action"] == SUBMIT:
            return (
                f"Submit {what} for dispute {d.stripe_dispute_id} ({d.amount_display}) to the "
                "bank. Stripe takes no changes after this."
            )
        return f"Save {what} for dispute {d.stripe_dispute_id} as a draft at Stripe (not sent)."


class AcceptForm(_Confirmed):
    def clean(self) -> dict:
        data = super().clean() or {}
        if self.confirming and not self.errors:
            self.token_data = self.reviewed(ACCEPT, None)
        return data

    def summary(self) -> str:
        d = self.dispute
        if d.is_inquiry:
            return (
                f"Accept inquiry {d.stripe_dispute_id}: it is closed at Stripe. This cannot be "
                "undone."
            )
        return (
            f"Accept dispute {d.stripe_dispute_id}: the customer keeps {d.amount_display}, the "
            "dispute is lost and its fee is not returned. This cannot be undone."
        )
