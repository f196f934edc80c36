"""Webhook events: detail and replay."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import (
    Http404,
    HttpResponse,
)
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from backoffice.views.common import (
    REPLAY_PERM,
    HtmxHttpRequest,
    staff_view,
)
from payments import selectors, services, stripe_client
from payments.models import StripeWebhookEvent


@require_safe
@staff_view("payments.view_stripewebhookevent")
def webhook_event_detail(request: HtmxHttpRequest, event_id: int) -> HttpResponse:
    try:
        event = selectors.webhook_event_detail(event_id=event_id)
    except StripeWebhookEvent.DoesNotExist:
        raise Http404("No such webhook event.") from None
    context = {
        "event": event,
        "payload": json.dumps(event.data, indent=2, sort_keys=True, ensure_ascii=False),
        "can_replay": event.status == StripeWebhookEvent.Status.FAILED
        and request.user.has_perm(REPLAY_PERM),
    }
    return render(request, "backoffice/webhook_event_detail.html", context)


@require_POST
@staff_view("payments.view_stripewebhookevent", REPLAY_PERM)
def webhook_event_replay(request: HtmxHttpRequest, event_id: int) -> HttpResponse:
    status = StripeWebhookEvent.objects.filter(pk=event_id).values_list("status", flat=True).first()
    if status is None:
        raise Http404("No such webhook event.")
    if status != StripeWebhookEvent.Status.FAILED:
        messages.error(request, "Only a failed event can be replayed from here.")
        return redirect("backoffice:webhook_event_detail", event_id=event_id)
    try:
        event = services.webhook_event_replay(event_id=event_id)
    except stripe_client.PaymentProviderError as exc:
        messages.error(request, f"Replay failed: {exc.user_message}")
    except services.ServiceError as exc:
        messages.error(request, f"Replay refused: {exc}")
    else:
        if event.status == StripeWebhookEvent.Status.FAILED:
            messages.error(request, f"Replayed; it failed again: {event.processing_error}")
        else:
            messages.success(request, f"Replayed: {event.get_status_display().lower()}.")
    return redirect("backoffice:webhook_event_detail", event_id=event_id)
