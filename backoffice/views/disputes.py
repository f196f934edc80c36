"""Disputes: the list (soonest deadline first) and its export, a dispute's page, and answering
it: text evidence saved as a draft or submitted, or the dispute accepted.

Answers follow the refund form's pattern: step=review checks the input and answers a
confirmation that states what will happen, with a signed one-time token; step=confirm sends it
(once, however often it is posted) and redirects to the dispute. Seeing disputes needs
`payments.view_dispute`; answering them `payments.respond_to_dispute` (Finance).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from backoffice.dispute_forms import (
    ACCEPT,
    EVIDENCE_FIELDS,
    SUBMIT,
    AcceptForm,
    EvidenceForm,
    confirmation_token,
    reviewed,
)
from backoffice.filters import DisputeFilter
from backoffice.tables import DisputeTable
from backoffice.views.common import CsvColumn as Col
from backoffice.views.common import (
    HtmxHttpRequest,
    list_page,
    staff_user,
    staff_view,
)
from backoffice.views.exports import CsvExportSpec, csv_export
from payments import selectors, services
from payments.models import Dispute

VIEW_DISPUTE = "payments.view_dispute"
RESPOND = "payments.respond_to_dispute"


def _get_dispute(dispute_id: int) -> Dispute:
    try:
        return selectors.dispute_detail(dispute_id=dispute_id)
    except Dispute.DoesNotExist:
        raise Http404("No such dispute.") from None


@require_safe
@staff_view(VIEW_DISPUTE)
@vary_on_headers("HX-Request")
def dispute_list(request: HtmxHttpRequest) -> HttpResponse:
    return list_page(
        request,
        template="backoffice/disputes.html",
        filterset=DISPUTE_EXPORT.filterset(request.GET, request),
        table_class=DisputeTable,
    )


DISPUTE_COLUMNS = [
    Col("dispute_id", "stripe_dispute_id"),
    Col("payment_id", "payment_id"),
    Col("customer_email", "payment__user__email"),
    Col("amount", "amount", currency_field="currency"),
    Col("currency", "currency"),
    Col("reason", "reason"),
    Col("status", "status"),
    Col("evidence_due_by", "evidence_due_by"),
    Col("charge_refundable", "is_charge_refundable"),
    Col("funds_withdrawn", "funds_withdrawn"),
    Col("funds_reinstated", "funds_reinstated"),
    Col("balance_net", "balance_net", currency_field="balance_currency"),
    Col("balance_currency", "balance_currency"),
    Col("charge_id", "stripe_charge_id"),
    Col("created_at", "stripe_created_at"),
]
DISPUTE_EXPORT = CsvExportSpec(
    kind="disputes",
    filename="disputes",
    filterset=lambda data, request: DisputeFilter(data, queryset=selectors.dispute_list()),
    table_class=DisputeTable,
    columns=DISPUTE_COLUMNS,
    perms=(VIEW_DISPUTE,),
)


@require_safe
@staff_view(VIEW_DISPUTE)
def dispute_csv(request: HtmxHttpRequest) -> HttpResponseBase:
    return csv_export(request, DISPUTE_EXPORT)


def _timeline(dispute: Dispute) -> list[tuple[str, Any, Any]]:
    """Stripe's events about the dispute and our answers to it, in the order they happened."""
    items = [
        ("event", event.stripe_created_at or event.received_at, event)
        for event in selectors.dispute_webhook_events(dispute=dispute)
    ] + [("answer", entry.at, entry) for entry in selectors.dispute_answers(dispute=dispute)]
    return sorted(items, key=lambda item: item[1])


def _render_dispute(
    request: HtmxHttpRequest,
    dispute: Dispute,
    *,
    evidence_form: EvidenceForm | None = None,
    accept_form: AcceptForm | None = None,
    confirm: str | None = None,
    confirm_action: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    may_respond = request.user.has_perm(RESPOND)
    answerable = dispute.status in Dispute.NEEDS_RESPONSE_STATUSES
    context = {
        "dispute": dispute,
        "payment": dispute.payment,
        "timeline": _timeline(dispute),
        "evidence": [
            (label, dispute.evidence[name])
            for name, label, _ in EVIDENCE_FIELDS
            if dispute.evidence.get(name)
        ],
        "may_respond": may_respond,
        "answerable": answerable,
        "evidence_form": evidence_form
        if evidence_form is not None
        else (EvidenceForm(dispute=dispute) if may_respond and answerable else None),
        "accept_form": accept_form,
        "confirm": confirm,
        "confirm_action": confirm_action,
        "error": error,
    }
    return render(request, "backoffice/dispute_detail.html", context, status=status)


@require_safe
@staff_view(VIEW_DISPUTE)
def dispute_detail(request: HtmxHttpRequest, dispute_id: int) -> HttpResponse:
    return _render_dispute(request, _get_dispute(dispute_id))


def _not_answerable(request: HtmxHttpRequest, dispute: Dispute) -> HttpResponse | None:
    """The review step's refusal, in the service's words, before anything is confirmed."""
    try:
        services.dispute_check_answerable(dispute)
    except services.DisputeError as exc:
        return _render_dispute(request, dispute, error=str(exc), status=409)
    return None


@require_POST
@staff_view(VIEW_DISPUTE, RESPOND)
def dispute_evidence(request: HtmxHttpRequest, dispute_id: int) -> HttpResponse:
    """step=review: check and answer the confirmation; step=edit: back to the form with the
    same text; step=confirm: send it to Stripe (saved or submitted) and go back to the dispute."""
    dispute = _get_dispute(dispute_id)
    step = request.POST.get("step", "review")
    confirming = step == "confirm"
    form = EvidenceForm(request.POST, dispute=dispute, confirming=confirming)
    if not form.is_valid():
        stale = form.has_error("__all__", code="token")
        return _render_dispute(request, dispute, evidence_form=form, status=409 if stale else 400)
    if not confirming and (refused := _not_answerable(request, dispute)) is not None:
        return refused
    if step == "edit":
        return _render_dispute(request, dispute, evidence_form=form)
    if not confirming:
        token = confirmation_token(dispute, form.cleaned_data["action"], form.evidence())
        confirm_form = EvidenceForm(dispute=dispute, initial={**form.cleaned_data, "token": token})
        return _render_dispute(
            request,
            dispute,
            evidence_form=confirm_form,
            confirm=form.summary(),
            confirm_action="evidence",
        )
    submit = form.cleaned_data["action"] == SUBMIT
    try:
        dispute = services.dispute_evidence_update(
            dispute_id=dispute.pk,
            evidence=form.evidence(),
            submit=submit,
            actor=staff_user(request),
            request_token=form.token_data["nonce"],
            reviewed=reviewed(form.token_data),
        )
    except services.DisputeAnswerPending as exc:
        # Stripe may have acted: offer the same confirmation again (it is one request).
        return _render_dispute(
            request,
            _get_dispute(dispute_id),
            evidence_form=EvidenceForm(dispute=dispute, initial=dict(request.POST.items())),
            confirm=str(exc),
            confirm_action="evidence",
            error=str(exc),
            status=503,
        )
    except services.DisputeError as exc:
        return _render_dispute(request, _get_dispute(dispute_id), error=str(exc), status=409)
    if submit:
        messages.success(request, f"Evidence submitted for dispute {dispute.stripe_dispute_id}.")
    else:
        messages.success(request, f"Evidence saved as a draft for {dispute.stripe_dispute_id}.")
    return redirect("backoffice:dispute_detail", dispute_id=dispute.pk)


@require_POST
@staff_view(VIEW_DISPUTE, RESPOND)
def dispute_accept(request: HtmxHttpRequest, dispute_id: int) -> HttpResponse:
    """Accept the dispute (Stripe's close), through review and confirmation."""
    dispute = _get_dispute(dispute_id)
    confirming = request.POST.get("step", "review") == "confirm"
    form = AcceptForm(request.POST, dispute=dispute, confirming=confirming)
    if not form.is_valid():
        stale = form.has_error("__all__", code="token")
        return _render_dispute(request, dispute, accept_form=form, status=409 if stale else 400)
    if not confirming and (refused := _not_answerable(request, dispute)) is not None:
        return refused
    if not confirming:
        token = confirmation_token(dispute, ACCEPT, None)
        return _render_dispute(
            request,
            dispute,
            accept_form=AcceptForm(dispute=dispute, initial={"token": token}),
            confirm=form.summary(),
            confirm_action="accept",
        )
    try:
        dispute = services.dispute_accept(
            dispute_id=dispute.pk,
            actor=staff_user(request),
            request_token=form.token_data["nonce"],
            reviewed=reviewed(form.token_data),
        )
    except services.DisputeAnswerPending as exc:
        return _render_dispute(
            request,
            _get_dispute(dispute_id),
            accept_form=AcceptForm(dispute=dispute, initial={"token": form.cleaned_data["token"]}),
            confirm=str(exc),
            confirm_action="accept",
            error=str(exc),
            status=503,
        )
    except services.DisputeError as exc:
        return _render_dispute(request, _get_dispute(dispute_id), error=str(exc), status=409)
    messages.success(
        request,
        f"Dispute {dispute.stripe_dispute_id} accepted: {dispute.get_status_display().lower()}.",
    )
    return redirect("backoffice:dispute_detail", dispute_id=dispute.pk)
