"""Four eyes: the refunds awaiting a second person, and the guarded approve and reject.

Each decision follows the refund form's pattern (and the admin's delete_view): GET reviews it,
stating exactly what will happen, with a confirmation carrying a one-time token; the POST
re-checks permission and the token, then calls one service, which locks the payment and checks
everything again. Only people with `payments.approve_refund`, and never the person who asked for
the refund (403, for the review too: a hidden button is not a permission).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from backoffice.forms import RefundDecisionForm, decision_token
from backoffice.views.common import HtmxHttpRequest, staff_user, staff_view
from payments import money, selectors, services
from payments.models import Refund

APPROVE_PERM = "payments.approve_refund"


def _refund_to_decide(request: HtmxHttpRequest, refund_id: int) -> Refund:
    try:
        refund = selectors.refund_for_decision(refund_id=refund_id)
    except Refund.DoesNotExist:
        raise Http404("No such refund.") from None
    if refund.created_by_id == staff_user(request).pk:
        raise PermissionDenied("You asked for this refund: a second person must decide it.")
    return refund


@require_safe
@staff_view(APPROVE_PERM)
def refund_approvals(request: HtmxHttpRequest) -> HttpResponse:
    """Refunds awaiting approval, oldest first; one's own are shown without a review link."""
    return render(
        request,
        "backoffice/refund_approvals.html",
        {"refunds": selectors.refunds_awaiting_approval()},
    )


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view(APPROVE_PERM)
def refund_approve(request: HtmxHttpRequest, refund_id: int) -> HttpResponse:
    return _decide(request, refund_id, "approve")


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view(APPROVE_PERM)
def refund_reject(request: HtmxHttpRequest, refund_id: int) -> HttpResponse:
    return _decide(request, refund_id, "reject")


def _decide(request: HtmxHttpRequest, refund_id: int, decision: str) -> HttpResponse:
    """GET: the review (what will happen, and the confirmation with a fresh token). POST: the
    decision, once; success redirects to the payment, where the refund shows as it now is."""
    refund = _refund_to_decide(request, refund_id)
    if request.method != "POST":
        if refund.status != Refund.Status.AWAITING_APPROVAL:
            return _render(
                request,
                refund,
                decision,
                error=f"Refund #{refund.pk} no longer awaits approval: it is "
                f"{refund.get_status_display().lower()}.",
                status=409,
            )
        return _render(request, refund, decision)

    form = RefundDecisionForm(request.POST, refund=refund, decision=decision)
    if not form.is_valid():
        errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
        return _render(request, refund, decision, error=" ".join(errors), status=400)
    person = staff_user(request)
    amount = money.format_amount(refund.amount, refund.payment.currency)
    try:
        if decision == "approve":
            decided = services.refund_approve(
                refund_id=refund.pk,
                approver=person,
                expected_amount_refunded=form.reviewed_refunded,
                request_token=form.nonce,
            )
        else:
            decided = services.refund_reject(
                refund_id=refund.pk,
                rejecter=person,
                note=form.cleaned_data["note"],
                expected_amount_refunded=form.reviewed_refunded,
                request_token=form.nonce,
            )
    except services.RefundApproverIsRequester as exc:
        raise PermissionDenied(str(exc)) from None
    except services.RefundPending as exc:
        # Approved and sent; Stripe's answer is not known: held, and shown pending.
        error, status = str(exc), 503
    except services.RefundRefused as exc:
        error, status = str(exc), 502
    except services.RefundError as exc:
        error, status = str(exc), 409
    else:
        if decided.status == Refund.Status.REJECTED:
            messages.success(request, f"Refund #{decided.pk} of {amount} rejected: nothing sent.")
        elif decided.status == Refund.Status.FAILED:
            messages.error(request, f"Refund #{decided.pk} of {amount} failed at Stripe.")
        else:
            messages.success(
                request,
                f"Refund #{decided.pk} of {amount} approved: "
                f"{decided.get_status_display().lower()}.",
            )
        return redirect("backoffice:payment_detail", payment_id=refund.payment_id)
    refund = selectors.refund_for_decision(refund_id=refund.pk)
    return _render(request, refund, decision, error=error, status=status)


def _render(
    request: HtmxHttpRequest,
    refund: Refund,
    decision: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """The review: what will happen, and (while the refund awaits approval) the confirmation
    with a fresh one-time token; after a refusal, why, and the refund as it now is."""
    form = RefundDecisionForm(
        refund=refund, decision=decision, initial={"token": decision_token(refund, decision)}
    )
    context = {
        "refund": refund,
        "payment": refund.payment,
        "decision": decision,
        "form": form if refund.status == Refund.Status.AWAITING_APPROVAL else None,
        "summary": form.summary(),
        "amount": money.format_amount(refund.amount, refund.payment.currency),
        "amount_refunded": money.format_amount(
            refund.payment.amount_refunded, refund.payment.currency
        ),
        "error": error,
    }
    return render(request, "backoffice/refund_decision.html", context, status=status)
