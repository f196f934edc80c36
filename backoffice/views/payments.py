"""The payment page: its detail, "refresh from Stripe" and the guarded refund."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from functools import partial as partial_call

from django.contrib import messages
from django.http import (
    HttpResponse,
)
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from audit.selectors import audit_entries_for_payment
from backoffice.forms import RefundForm, confirmation_token, refund_destination
from backoffice.navigation import back_link
from backoffice.views.common import (
    AUDIT_PERM,
    REFUND_PERM,
    HtmxHttpRequest,
    get_payment,
    staff_user,
    staff_view,
)
from payments import money, selectors, services, stripe_client
from payments.models import Payment, Refund, StripeWebhookEvent
from shop.models import Order

# --- Payment detail, refresh and refund -------------------------------------------------------


def _order_status(order: Order, attempts: Iterable[Payment]) -> str:
    """The order's status as finance reads it: Order knows pending, paid and cancelled, so a
    refund shows from its attempts' statuses (the list the page draws anyway, no extra query)."""
    statuses = {attempt.status for attempt in attempts}
    for refunded in (Payment.Status.REFUNDED, Payment.Status.PARTIALLY_REFUNDED):
        if refunded in statuses:
            return str(refunded.label)
    return order.get_status_display()


def _render_payment(
    request: HtmxHttpRequest,
    payment: Payment,
    *,
    partial: str | None = None,
    form: RefundForm | None = None,
    confirm: str | None = None,
    error: str | None = None,
    refund_error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """The payment page, or one of its partials: "payment" (all of it) or "refund" (the form)."""
    refund_blocked = services.refund_blocked_by_dispute(payment)
    can_refund = (
        request.user.has_perm(REFUND_PERM)
        and payment.amount_refundable > 0
        and refund_blocked is None
    )
    attempts = selectors.payment_attempts(payment=payment)
    context = {
        "payment": payment,
        "order": payment.order,
        "customer": payment.user,
        "refunds": selectors.payment_refunds(payment=payment),
        "disputes": list(selectors.payment_disputes(payment=payment))
        if payment.dispute_status
        else [],
        "refund_blocked": refund_blocked,
        "attempts": attempts,
        # Called by the template only where it draws the order (not for the refund partial);
        # it fills the attempts' cache, which the attempts table then reads.
        "order_status": partial_call(_order_status, payment.order, attempts),
        **_timeline_context(payment),
        "back": back_link(request),
        "audit_entries": audit_entries_for_payment(payment)
        if request.user.has_perm(AUDIT_PERM)
        else None,
        "amount_refundable": money.format_amount(payment.amount_refundable, payment.currency),
        "amount_refunded": money.format_amount(payment.amount_refunded, payment.currency),
        "refund_destination": refund_destination(payment),
        "can_refund": can_refund,
        "may_refund": request.user.has_perm(REFUND_PERM),
        "form": form if form is not None else (RefundForm(payment=payment) if can_refund else None),
        "confirm": confirm,
        "error": error,
        "refund_error": refund_error,
    }
    template = "backoffice/payment_detail.html"
    if request.htmx and partial:
        template += f"#{partial}"
    return render(request, template, context, status=status)


@require_safe
@staff_view()
@vary_on_headers("HX-Request")
def payment_detail(request: HtmxHttpRequest, payment_id: int) -> HttpResponse:
    return _render_payment(request, get_payment(payment_id), partial="payment")


def _timeline_version(events: Sequence[StripeWebhookEvent]) -> str:
    """A digest of what the timeline shows: a poll that has seen it gets a 204, not a swap."""
    shown = [
        (e.pk, e.event_type, e.status, e.delivery_count, e.processing_error, e.stripe_created_at)
        for e in events
    ]
    return hashlib.sha256(repr(shown).encode()).hexdigest()[:16]


def _timeline_context(payment: Payment) -> dict:
    events = list(selectors.payment_webhook_events(payment=payment))
    return {"events": events, "timeline_version": _timeline_version(events)}


@require_safe
@staff_view()
def payment_timeline(request: HtmxHttpRequest, payment_id: int) -> HttpResponse:
    """The payment page's webhook timeline, which it polls: two queries however many events,
    and "204 No Content" (htmx swaps nothing) while it is what the page has (`seen`)."""
    payment = get_payment(payment_id)
    context = {"payment": payment, **_timeline_context(payment)}
    if request.GET.get("seen") == context["timeline_version"]:
        return HttpResponse(status=204)
    return render(request, "backoffice/payment_detail.html#timeline", context)


def _provider_status(exc: stripe_client.PaymentProviderError) -> int:
    """503 when Stripe is unreachable or busy (try again), 502 when it answered with an error."""
    unavailable = (
        stripe_client.ProviderUnavailable,
        stripe_client.RateLimited,
        stripe_client.AuthenticationFailed,
    )
    return 503 if isinstance(exc, unavailable) else 502


@require_POST
@staff_view()
def payment_refresh(request: HtmxHttpRequest, payment_id: int) -> HttpResponse:
    """Fetch the payment's PaymentIntent and refunds from Stripe and record what they say."""
    payment = get_payment(payment_id)
    try:
        services.payment_refresh_from_stripe(
            payment_id=payment.pk,
            # Finance may finish refunds Stripe never answered for; others only read.
            settle_refunds=request.user.has_perm(REFUND_PERM),
        )
    except stripe_client.PaymentProviderError as exc:
        error, status = exc.user_message, _provider_status(exc)
    except services.ServiceError as exc:
        error, status = str(exc), 409
    else:
        messages.success(request, "Refreshed from Stripe.")
        if not request.htmx:
            return redirect("backoffice:payment_detail", payment_id=payment.pk)
        return _render_payment(request, get_payment(payment_id), partial="payment")
    return _render_payment(
        request, get_payment(payment_id), partial="payment", error=error, status=status
    )


@require_POST
@staff_view(REFUND_PERM)
def payment_refund(request: HtmxHttpRequest, payment_id: int) -> HttpResponse:
    """The guarded refund, in the admin's delete-confirmation style.

    step=review (the form's submit): validate and answer the confirmation, which states exactly
    what will happen and carries a fresh one-time token; step=edit goes back to the form with the
    same values; step=confirm: re-validate, then refund_create (which locks the payment and
    re-checks everything) and redirect to the payment (or, under htmx, swap the payment panel).
    """
    payment = get_payment(payment_id)
    step = request.POST.get("step", "review")
    if step == "confirm":
        return _refund_confirm(request, payment)
    if payment.amount_refundable <= 0:
        return _render_payment(
            request,
            payment,
            partial="refund",
            refund_error=f"Payment #{payment.pk} is {payment.get_status_display().lower()}: "
            "nothing remains to refund.",
            status=409,
        )

    if step == "edit":
        form = RefundForm(request.POST, payment=payment)
        form.is_valid()  # show any problem again, next to the field
        return _render_payment(request, payment, partial="refund", form=form)

    form = RefundForm(request.POST, payment=payment)
    if not form.is_valid():
        return _render_payment(
            request, payment, partial="refund", form=form, status=_form_status(form)
        )
    # The confirmation carries the checked values, and a fresh one-time token, as hidden
    # fields: posting it twice (double click, second tab) still makes one refund.
    data = form.cleaned_data
    token = confirmation_token(payment, data["amount"], data["reason"])
    confirm_form = RefundForm(payment=payment, initial={**data, "token": token})
    return _render_payment(
        request, payment, partial="refund", form=confirm_form, confirm=form.summary()
    )


def _refund_confirm(request: HtmxHttpRequest, payment: Payment) -> HttpResponse:
    """The final POST: refund_create finds a resubmitted token's refund, or locks the payment,
    re-checks what remains and refunds. Success redirects (or swaps the payment in place)."""
    form = RefundForm(request.POST, payment=payment, confirming=True)
    if not form.is_valid():
        return _render_payment(
            request, payment, partial="payment", form=form, status=_form_status(form)
        )
    data = form.cleaned_data
    try:
        refund = services.refund_create(
            payment_id=payment.pk,
            amount=data["amount"],
            reason=data["reason"],
            description=data["description"],
            created_by=staff_user(request),
            request_token=data["nonce"],
            expected_amount_refunded=data["reviewed_refunded"],
        )
    except services.RefundPending as exc:
        # Stripe may have made it: the page shows it pending, and offers no second try.
        payment = get_payment(payment.pk)
        return _render_payment(
            request, payment, partial="payment", refund_error=str(exc), status=503
        )
    except services.RefundRefused as exc:
        status, error = 502, str(exc)  # nothing was refunded; the refund is on record as failed
    except services.RefundError as exc:
        status = 400 if isinstance(exc, services.RefundAmountInvalid) else 409
        error = str(exc)
    else:
        amount = money.format_amount(refund.amount, payment.currency)
        if refund.status == Refund.Status.FAILED:
            messages.error(request, f"Refund #{refund.pk} of {amount} failed at Stripe.")
        elif refund.status == Refund.Status.AWAITING_APPROVAL:
            messages.success(
                request,
                f"Refund #{refund.pk} of {amount} awaits approval by a second person: its amount "
                "is held and nothing is sent to Stripe until then.",
            )
        else:
            messages.success(
                request,
                f"Refund #{refund.pk} of {amount} {refund.get_status_display().lower()}.",
            )
        if not request.htmx:
            return redirect("backoffice:payment_detail", payment_id=payment.pk)
        return _render_payment(request, get_payment(payment.pk), partial="payment")
    # Show the page as it now is (another refund may have landed), the error, and the form again.
    payment = get_payment(payment.pk)
    retry = RefundForm(payment=payment, initial=data) if payment.amount_refundable > 0 else None
    return _render_payment(
        request, payment, partial="payment", form=retry, refund_error=error, status=status
    )


def _form_status(form: RefundForm) -> int:
    """409 when the amount is more than remains (a conflict with other refunds), else 400."""
    return 409 if form.has_error("amount", code="max_value") else 400


# --- Webhook events ---------------------------------------------------------------------------
